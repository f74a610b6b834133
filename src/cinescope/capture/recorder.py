"""The recorder: decides what runs under the plan, and turns what happens there
into records on the running thread's buffer.

Backends (`monitoring` on 3.12+, `tracing` on 3.11) only see interpreter
events; they call `on_call`, `on_return`, `on_raise` and `on_line` here for
planned code. Threads, tasks, processes and channels are hooked by `actors`
and `channels`. A `Flusher` hands the records to a sink (the store's writer).

Nothing here may disturb the program: any failure inside the recorder stops
recording, records why, and lets the program go on.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
import time
import traceback

from . import records as R
from .buffers import BufferSet
from .flusher import Flusher
from .plan import LEVEL_RANK, Plan
from .state import StateTracker
from .values import Snapshotter, instance_attributes, new_encoder, type_name

MINIMAL, DEBUG, FULL = (LEVEL_RANK[n] for n in ("minimal", "debug", "full"))
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# For the tests of what happens when the recorder itself fails: the recorder
# raises when it first meets a planned function of this qualified name.
_INJECTED_FAULT = os.environ.get("CINESCOPE_INJECT_FAULT")
_CO_OPTIMIZED, _CO_VARARGS, _CO_VARKEYWORDS = 0x01, 0x04, 0x08
# the names through which code sends or receives on a queue or a pipe
_CHANNEL_NAMES = frozenset({"put", "put_nowait", "get", "get_nowait", "send", "recv"})
# the program's main module; multiprocessing's spawned children import it as __mp_main__
_MAIN_NAMES = frozenset({"__main__", "__mp_main__"})
# comprehensions are functions to the interpreter but not to the reader
_COMPREHENSIONS = frozenset({"<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>"})
_monotonic_ns = time.monotonic_ns
_get_running_loop = asyncio.events._get_running_loop
_current_task = asyncio.current_task


class CodeInfo:
    """What the plan says about one code object."""
    __slots__ = ("module", "qualname", "rank", "argnames", "class_qualname")
    # argnames[1:] is what a method records: its self is the event's object

    def __init__(self, code, module: str, rank: int):
        self.module = module
        self.qualname = code.co_qualname
        self.rank = rank
        nargs = (code.co_argcount + code.co_kwonlyargcount
                 + bool(code.co_flags & _CO_VARARGS) + bool(code.co_flags & _CO_VARKEYWORDS))
        self.argnames = code.co_varnames[:nargs]
        parts = self.qualname.split(".")
        self.class_qualname = (".".join(parts[:-1]) if len(parts) > 1 and parts[-2] != "<locals>"
                               and code.co_argcount else None)


class ThreadState:
    __slots__ = ("push", "describe", "actor", "lines", "exception")

    def __init__(self, buffer, actor: str):
        self.push = buffer.push           # events: may be dropped on overflow, and counted
        self.describe = buffer.meta.append  # actors, objects, errors: never dropped
        self.actor = actor
        self.lines: dict = {}       # id(frame) -> [last line, captured locals] (level full)
        self.exception = None       # set by threading.excepthook for the thread's exit record


class Recorder:
    current: "Recorder | None" = None   # the recorder running in this process, if any

    def __init__(self, plan: Plan, sink_factory, *, main_alias: str | None = None,
                 main_file: str | None = None, parent_actor: str | None = None, child_starter=None,
                 process_name: str = "MainProcess"):
        self.plan = plan
        self.rank = LEVEL_RANK[plan.max_level]
        v = plan.values
        self.snap = Snapshotter(v.max_depth, v.max_items, v.max_string, v.max_bytes,
                                redact=plan.redact)
        self.encoder = new_encoder(self.snap)      # values as msgpack, in C where built
        self.sink_factory = sink_factory
        self.main_alias = main_alias
        self.main_file = main_file     # the program's __main__ file: other __main__s are not it
        self.child_starter = child_starter   # (callable, config) that starts recording in a spawned child
        self.parent_actor = parent_actor
        self.process_name = process_name
        self.pid = os.getpid()
        self.buffers = BufferSet(plan.buffer_size, plan.overflow)
        self.tls = threading.local()
        self.codes: dict = {}        # planned code object -> CodeInfo
        self.modules: dict = {}      # code object -> module name, for every code a record names
        self._sites: dict = {}       # code object -> records messages/spawns made there
        self._methods: dict = {}     # (class, code) -> the code is a method of that class
        self.state = StateTracker(
            Snapshotter(v.max_depth, v.max_items, v.max_string, v.max_bytes,
                        redact=plan.redact, object_refs=True), instance_attributes)
        self._message_ids = itertools.count(1)
        self.active = False
        self.flusher: Flusher | None = None
        self.arena = None         # the C rings' shared memory (capture/arena.py), if any
        self.backend = None
        self._patches: list = []
        from .actors import Actors
        from .channels import Channels
        self.actors = Actors(self)
        self.channels = Channels(self)

    # -- life cycle ---------------------------------------------------------
    @property
    def process_actor(self) -> str:
        return f"p{self.pid}"

    def start(self) -> None:
        """Start recording; on failure nothing stays hooked and the error is raised."""
        from .backends import choose_backend
        self.arena = _new_arena(self.plan.buffer_size)
        self.flusher = Flusher(self.buffers, self.sink_factory(), self._writer_failed)
        self.active = True
        try:
            st = self._new_thread_state(self.process_actor)
            st.describe((R.ACTOR, _monotonic_ns(), self.process_actor, "process",
                         self.process_name, self.parent_actor, self.pid))
            self.actors.install()
            self.backend = choose_backend(self)
            self.flusher.start()   # before the backend, so it never traces the flusher
            self.backend.start()
            Recorder.current = self
        except BaseException as exc:
            self.active = False
            self.unpatch()
            flusher, self.flusher = self.flusher, None
            flusher.stop({"status": "failed", "exit_status": None,
                          "error": f"recording could not start: {exc}"})
            raise
        _register_fork_hooks(self)

    def stop(self, exit_info: dict | None = None, session_end: dict | None = None) -> None:
        """Stop recording and write everything still buffered."""
        if self.flusher is None:
            return
        if Recorder.current is self:
            Recorder.current = None
        if self.active:
            try:
                self.check_hook()
            except Exception:
                pass
            self.active = False
            try:
                self.backend.stop()
            except Exception as exc:  # never let the end of recording break the program
                self._error(f"stopping the backend failed: {exc!r}")
            self.thread_state().push((R.EXIT, _monotonic_ns(), self.process_actor,
                                      exit_info or {}))
            self.unpatch()
        flusher, self.flusher = self.flusher, None
        flusher.stop(session_end)
        if self.arena is not None:
            self.arena.close()      # the program's side; the writer read it to the end

    def sync(self, flush: bool = True) -> dict:
        """For a debugger stopped in this thread: with `flush`, write everything
        recorded so far. Returns the cutoff the store will show in its `synced`
        table once written, this process's pid and the actor running on this
        thread."""
        st = self.thread_state()
        cutoff = None
        if flush:
            if self.rank >= FULL:
                self._settle_line(st, sys._getframe(1))
            if self.flusher is not None:
                cutoff = self.flusher.sync()
        return {"cutoff": cutoff, "pid": self.pid, "actor": self.current_actor(st)}

    def watch(self, watches: list[dict]) -> dict:
        """For a debugger: break when these attributes change (capture/watch.py).
        Per breakpoint id, None when watched or why not."""
        if self.state.watches is None:
            from .watch import Watches
            self.state.watches = Watches()
        return self.state.watches.replace(watches, self.state.tracks)

    def take_hit(self) -> dict | None:
        """For a debugger stopped by a watch: what changed, once."""
        watches = self.state.watches
        return watches.take_hit() if watches is not None else None

    def _settle_line(self, st: ThreadState, frame) -> None:
        """The line a stopped frame ran before the one it stopped at is
        recorded when the next line starts, which a debugger stopping there
        holds back: record it now. The innermost recorded frame out of
        `frame`'s callers has finished its pending line if it is at another."""
        while frame is not None and id(frame) not in st.lines:
            frame = frame.f_back
        if frame is None:
            return
        entry = st.lines[id(frame)]
        if entry[0] is None or entry[0] == frame.f_lineno:
            return
        self._line_changes(frame.f_code, frame, st, self.current_actor(st), _monotonic_ns(),
                           None)
        st.lines[id(frame)] = [None, self.snap.capture_mapping(frame.f_locals.items())]

    def after_fork_in_child(self) -> None:
        """In a forked child: the parent's buffers and writer are the parent's;
        this process records as a new actor, spawned by the thread that forked."""
        parent_actor = self.current_actor(self.thread_state())
        abandon = getattr(self.flusher.sink, "abandon", None)
        if abandon is not None:
            abandon()     # the parent's writer is the parent's
        self.pid = os.getpid()
        self.parent_actor = parent_actor
        self.buffers.reset_after_fork(None)
        parent_arena = self.arena           # the parent's: its writer reads it
        self.arena = _new_arena(self.plan.buffer_size) if parent_arena is not None else None
        after_fork = getattr(self.backend, "after_fork", None)
        if after_fork is not None:
            after_fork()
        if parent_arena is not None:
            parent_arena.close()
        self.tls = threading.local()
        st = self._new_thread_state(self.process_actor)
        self.actors.after_fork()
        st.describe((R.ACTOR, _monotonic_ns(), self.process_actor, "process", self.process_name,
                 parent_actor, self.pid))
        self.flusher = Flusher(self.buffers, self.sink_factory(), self._writer_failed)
        self.flusher.start()

    def patch(self, owner, name: str, replacement) -> None:
        self._patches.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def unpatch(self) -> None:
        while self._patches:
            owner, name, original = self._patches.pop()
            setattr(owner, name, original)

    def _error(self, message: str) -> None:
        try:
            self.thread_state().describe((R.ERROR, _monotonic_ns(), message))
        except Exception:
            pass

    def _fail(self, exc: BaseException) -> None:
        """A bug in the recorder: stop recording, keep the program running.

        An exception raised by the program's own code while the recorder ran
        (a signal handler runs wherever Python code runs, ours included) is
        the program's: it goes on to the program."""
        if _raised_by_program(exc):
            raise exc
        if not self.active:
            return
        self.active = False
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self._error(f"recording stopped: internal error: {detail}")
        try:
            self.backend.stop()
        except Exception:
            pass
        self.unpatch()

    def _writer_failed(self, exc: BaseException) -> None:
        """The flusher could not write (a full disk, a store removed): stop
        recording; never raise, the flusher is not the program's thread."""
        try:
            self._fail(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
        except BaseException:
            self.active = False

    # -- threads and actors ---------------------------------------------------
    def thread_state(self) -> ThreadState:
        try:
            return self.tls.st
        except AttributeError:
            return self._new_thread_state(None)

    def _new_thread_state(self, actor: str | None) -> ThreadState:
        record = None
        if actor is None:
            actor, record = self.actors.adopt_thread(threading.current_thread())
        st = ThreadState(self.buffers.new_buffer(), actor)
        self.tls.st = st
        if record is not None:
            st.describe(record)
        return st

    def bind_thread(self, actor: str) -> ThreadState:
        """Called in a new thread whose actor key its spawner chose."""
        return self._new_thread_state(actor)

    def current_actor(self, st: ThreadState) -> str:
        if _get_running_loop() is not None:
            task = _current_task()
            if task is not None:
                key = self.actors.task_keys.get(task)
                return key if key is not None else self.actors.adopt_task(task, st)
        return st.actor

    def next_message_id(self) -> int:
        """Unique in the session across processes, and below 2**53 so that
        JavaScript (the editor) reads it exactly."""
        return (self.pid << 28) | (next(self._message_ids) & 0xFFFFFFF)

    # -- what the plan selects ---------------------------------------------
    def level_for(self, code, module: str | None, functions_only: bool = True) -> int:
        """The plan's level rank for a code object (0: not recorded). Only
        functions are recorded: not module or class bodies, nor comprehensions;
        but messages and spawns count from any code of a planned module."""
        if module is None or code.co_filename.startswith(_PACKAGE_DIR):
            return 0
        if functions_only and (not code.co_flags & _CO_OPTIMIZED
                               or code.co_name in _COMPREHENSIONS):
            return 0
        is_main = module in _MAIN_NAMES
        if is_main and self.main_file and code.co_filename != self.main_file:
            return 0
        plan = self.plan
        level = plan.level_for(module, code.co_qualname)
        if level is None and is_main and self.main_alias:
            level = plan.level_for(self.main_alias, code.co_qualname)
        return LEVEL_RANK[level] if level else 0

    def decide(self, code, frame) -> CodeInfo | None:
        """The plan's verdict on a code object seen for the first time."""
        module = frame.f_globals.get("__name__") if frame is not None else None
        if (not self.channels.installed and self.rank >= DEBUG
                and not _CHANNEL_NAMES.isdisjoint(code.co_names)
                and self.level_for(code, module, functions_only=False) >= DEBUG):
            # planned code names a channel operation: from now on, hook channels
            # (until then queues and pipes cost nothing extra)
            self.channels.install()
        rank = self.level_for(code, module)
        if not rank:
            return None
        if _INJECTED_FAULT and code.co_qualname == _INJECTED_FAULT:
            raise RuntimeError(f"fault injected at {_INJECTED_FAULT} (CINESCOPE_INJECT_FAULT)")
        info = CodeInfo(code, module, rank)
        self.codes[code] = info
        self.modules[code] = module
        return info

    def site(self, frame, direct: bool = False) -> tuple:
        """(code, line, planned) of the first frame outside the standard
        library's plumbing and Cinescope; planned means at level debug or more.
        With `direct`, `frame` itself must be outside the plumbing."""
        if direct and frame is not None and _is_plumbing(frame.f_code.co_filename):
            return (None, None, False)
        while frame is not None and _is_plumbing(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is None:
            return (None, None, False)
        code = frame.f_code
        ok = self._sites.get(code)
        if ok is None:
            module = frame.f_globals.get("__name__")
            ok = self._sites[code] = self.level_for(code, module, functions_only=False) >= DEBUG
            self.modules.setdefault(code, module)
        return (code, frame.f_lineno, ok)

    def _method_self(self, info: CodeInfo, code, f_locals):
        if info.class_qualname is None:
            return None
        obj = f_locals.get(info.argnames[0])
        if obj is None:
            return None
        cls = type(obj)
        ok = self._methods.get((cls, code))
        if ok is None:
            ok = self._methods[(cls, code)] = any(
                getattr(k, "__qualname__", None) == info.class_qualname
                and getattr(k, "__module__", None) == info.module for k in cls.__mro__)
        return obj if ok else None

    # -- events from the backends ---------------------------------------------
    def on_call(self, code, frame, resumed: bool = False) -> None:
        info = self.codes[code]
        st = self.thread_state()
        ts = _monotonic_ns()
        actor = self.current_actor(st)
        args = key = None
        if info.rank >= DEBUG:
            f_locals = frame.f_locals
            obj = self._method_self(info, code, f_locals)
            if obj is not None:
                key = self.state.enter(obj, code, actor, ts, st)
            if not resumed:
                # a method's self is the object of the event, not an argument
                names = info.argnames[1:] if obj is not None else info.argnames
                try:
                    values = [f_locals[n] for n in names]
                except KeyError:        # an argument deleted before the call recorded
                    names = tuple(n for n in names if n in f_locals)
                    values = [f_locals[n] for n in names]
                args = self.encoder.encode_map(names, values)
            if info.rank >= FULL and id(frame) not in st.lines:
                st.lines[id(frame)] = [None, self.snap.capture_mapping(f_locals.items())]
        st.push((R.CALL, ts, actor, code, args, key, resumed))

    def on_return(self, code, frame, value, yielded: bool = False) -> None:
        st, ts, actor, rank = self.frame_left(code, frame)
        value = (self.encoder.encode(value),) if rank >= DEBUG else R.NO_VALUE
        st.push((R.RETURN, ts, actor, code, value, yielded))

    def on_raise(self, code, frame, exc) -> None:
        _, ts, actor, _ = self.frame_left(code, frame)
        self.record_raise(code, frame.f_lineno, exc, ts, actor)

    def frame_left(self, code, frame) -> tuple:
        """What a planned frame leaving records before its return or raise: its
        last line's locals (full) and its object's changes (debug).
        Returns (thread state, ts, actor, level rank) for that record."""
        info = self.codes[code]
        st = self.thread_state()
        ts = _monotonic_ns()
        actor = self.current_actor(st)
        if info.rank >= DEBUG:
            if info.rank >= FULL:
                self._line_changes(code, frame, st, actor, ts, None)
            if info.class_qualname is not None:
                obj = self._method_self(info, code, frame.f_locals)
                if obj is not None:
                    self.state.leave(obj, code, actor, ts, st)
        return st, ts, actor, info.rank

    def record_raise(self, code, line: int, exc, ts: int, actor: str) -> None:
        self.thread_state().push((R.RAISE, ts, actor, code, line, self.capture_exception(exc)))

    def on_line(self, code, frame, line: int) -> None:
        st = self.thread_state()
        self._line_changes(code, frame, st, self.current_actor(st), _monotonic_ns(), line)

    def _line_changes(self, code, frame, st, actor, ts, line) -> None:
        """Emit the locals changed by the line that just ran; remember `line`
        as the one running now (None: the frame is leaving)."""
        key = id(frame)
        entry = st.lines.get(key)
        now = self.snap.capture_mapping(frame.f_locals.items())
        if entry is not None and entry[0] is not None:
            before = entry[1]
            changed = {n: v for n, v in now.items() if n not in before or before[n] != v}
            st.push((R.LINE, ts, actor, code, entry[0], changed))
        if line is None:
            st.lines.pop(key, None)
        else:
            st.lines[key] = [line, now]

    def check_hook(self) -> None:
        """Let the backend check that this thread still calls it (3.11's hooks
        can be removed under it); hooked library calls are the occasion."""
        check = getattr(self.backend, "check_hook", None)
        if check is not None:
            check()

    def offer_exception(self, exc, actor: str, cancelled: bool = False) -> None:
        """Tell the backend about the exception that ended an asyncio task."""
        offer = getattr(self.backend, "offer_exception", None)
        if offer is not None:
            offer(exc, actor, cancelled)

    def capture_exception(self, exc) -> dict | None:
        if exc is None:
            return None
        try:
            message = BaseException.__str__(exc)
        except Exception:
            message = "?"
        out = {"type": type_name(exc), "message": message[: self.plan.values.max_string]}
        if self.rank >= DEBUG:
            out["value"] = self.snap.capture(exc)
        return out


def _raised_by_program(exc: BaseException) -> bool:
    """True for an exception the program raised while the recorder ran: one
    not of the Exception kind (KeyboardInterrupt from the default SIGINT
    handler, SystemExit), or one whose innermost frame is not Cinescope's."""
    if not isinstance(exc, Exception):
        return True
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return not tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR)


_PLUMBING = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                  for m in (asyncio,)) + (_PACKAGE_DIR + os.sep,)
_PLUMBING_FILES = set()


def _is_plumbing(filename: str) -> bool:
    if filename in _PLUMBING_FILES:
        return True
    return filename.startswith(_PLUMBING)


def _init_plumbing() -> None:
    import multiprocessing
    import queue
    global _PLUMBING
    _PLUMBING_FILES.update({os.path.abspath(queue.__file__), os.path.abspath(threading.__file__)})
    _PLUMBING = _PLUMBING + (os.path.dirname(os.path.abspath(multiprocessing.__file__)) + os.sep,)


_init_plumbing()

_fork_recorders: list = []


def _new_arena(capacity: int):
    """Shared memory for the C rings when a C backend will record
    (CINESCOPE_ARENA=off: private rings, drained by the flusher)."""
    from .backends import BackendError, backend_name
    try:
        rings = "monitoring" if sys.version_info >= (3, 12) else "profile"
        if backend_name() != rings or os.environ.get("CINESCOPE_ARENA") == "off":
            return None
    except BackendError:
        return None                 # choose_backend says why, in start()
    from .arena import Arena
    return Arena.create(capacity)


def _register_fork_hooks(recorder: Recorder) -> None:
    """A forked child keeps recording into the same session as a new process actor."""
    if not _fork_recorders:
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                            after_in_child=_after_fork_child)
    _fork_recorders[:] = [recorder]


def _before_fork() -> None:
    for rec in _fork_recorders:
        if rec.active and rec.flusher is not None:
            rec.flusher.hold()


def _after_fork_parent() -> None:
    for rec in _fork_recorders:
        if rec.flusher is not None:
            rec.flusher.release()


def _after_fork_child() -> None:
    for rec in _fork_recorders:
        if not rec.active or rec.flusher is None:
            rec.flusher = None
            continue
        try:
            rec.after_fork_in_child()
        except Exception as exc:
            rec.active = False
            sys.stderr.write(f"cinescope: recording stopped in child process: {exc!r}\n")
