"""The sys.setprofile / sys.settrace backend (Python 3.11; also runs on 3.12+).

`profile` mode (the 3.11 default): the profile hook sees every call and return.
A debugger takes sys.settrace for itself (pydevd does on 3.11, and replaces
any other trace function when it attaches), but leaves the profile hook alone,
so recording goes on under a debugger.

`trace` mode (CINESCOPE_BACKEND=trace): a global trace function decides on
each new code object once; planned frames get a local trace function, which
sees their returns, the exceptions passing through them and their lines.

Both decide on a code object once, and tell how a frame left by the
instruction it stopped at: a return instruction returns, a yield yields (3.13
reports a yield at the RESUME after it), anything else is an exception
unwinding.

In profile mode with the C extension, the thread's hook is C
(`_hot.ProfileFilter`): it answers C calls and unplanned frames itself, writes
the calls and returns of level-minimal plain functions into the C rings
(capture/rings.py) itself, and calls the Python hook below for the rest of
the planned frames (their first call, a raise, generators), or for every
event while a raise is pending.

An exception the program's signal handler raises while a hook runs is the
program's. Python keeps a C hook that fails, so it just goes on to the
program. A Python hook that raises is removed: then a bare KeyboardInterrupt
is raised again the moment the hook returns (an asynchronous exception), so
recording goes on; any other ends recording in that thread, and the session's
error says so. (sys.monitoring keeps its callbacks.)

The profile hook does not see which exception unwinds a frame. The recorder
keeps the `raise` pending and takes the exception from the first later hook
event of that thread where a handled exception's traceback passes through the
frame (the `except` block that caught it, the excepthook of an uncaught one,
the outcome of the asyncio task it ended); if something else must be recorded
first on that thread (an `except` block that returns without calling
anything), the raise is recorded with "exception": null. Level full needs line events: in profile mode a
full-level frame gets a local line tracer when no debugger owns sys.settrace
in its thread, and records as debug otherwise.
"""
from __future__ import annotations

import dis
import inspect
import sys
import threading

from .recorder import FULL, MINIMAL, _raised_by_program

_RETURNS = {dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in dis.opmap}
_YIELD = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap["RESUME"]
_get_ident = threading.get_ident
_SUSPENDS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_exc_info = sys.exc_info


def _no_new_frames(frame, event, arg):
    """The global trace function of profile mode: it only lets the local line
    tracers of full-level frames run."""
    return None


class TraceBackend:
    def __init__(self, rec, mode: str, c_filter: bool = False):
        self.rec = rec
        self.mode = mode
        self.name = mode if c_filter or mode == "trace" else "profile-py"
        self._use_filter = c_filter
        self._filter = None
        self._rings = None          # the C rings the filter writes level-minimal calls into
        self._rejected: set = set()
        self._bytecode: dict = {}
        self._exceptions: dict = {}   # trace mode: id(frame) -> last exception seen in it
        self._pending: dict = {}      # profile mode: actor -> [(code, frame, line, ts)]
        self._n_pending = 0
        self._lost: set = set()       # threads whose hook was removed

    def start(self) -> None:
        if self.mode == "trace":
            threading.settrace(self._global)
            sys.settrace(self._global)
        elif self._use_filter:
            from ._hot import ProfileFilter
            from .rings import Rings
            # 3.11 passes NULL to a C hook's return of an unwinding frame, which
            # tells it from a return; 3.12+ emulate the hook and pass None
            self._rings = Rings(self.rec) if sys.version_info < (3, 12) else None
            self._filter = ProfileFilter(python_hook=self._profile, planned=self.rec.codes,
                                         rejected=self._rejected, pending=self._pending,
                                         hot=self._rings.hot if self._rings else None)
            threading.setprofile(self._install_filter)
            self._filter.install()
        else:
            threading.setprofile(self._profile)
            sys.setprofile(self._profile)

    def _install_filter(self, frame, event, arg):
        """A new thread's first profile event: put the C hook in, then answer."""
        if self._filter is not None:
            self._filter.install()
        return self._profile(frame, event, arg)

    def _ours(self, hook) -> bool:
        if self.mode == "trace":
            return hook == self._global
        return hook is self._filter if self._filter is not None else hook == self._profile

    def stop(self) -> None:
        self.check_hook()
        if self.mode == "trace":
            threading.settrace(None)
            if sys.gettrace() == self._global:
                sys.settrace(None)
        else:
            for actor in list(self._pending):
                self._resolve(actor, must_record=True)
            threading.setprofile(None)
            if self._filter is not None:
                self._filter.set_active(False)   # other threads keep it, doing nothing
            if self._ours(sys.getprofile()):
                sys.setprofile(None)
            if sys.gettrace() is _no_new_frames:
                sys.settrace(None)

    def check_hook(self) -> None:
        """Called from time to time on a program thread: if this thread's hook
        is gone (a signal handler raised at the hook's first instruction, where
        no `try` can catch it; or the program set its own), say so once, and
        put ours back if the place is free."""
        if not self.rec.active:
            return
        current = sys.getprofile() if self.mode == "profile" else sys.gettrace()
        if self._ours(current):
            return
        thread = threading.current_thread().name
        if thread not in self._lost:
            self._lost.add(thread)
            self.rec._error(f"the {self.mode} hook of thread {thread} was removed while "
                            "recording (a signal handler raised inside it, or the program "
                            "installed its own): events of that thread may be missing")
        if current is None:
            if self._filter is not None:
                self._filter.install()
            elif self.mode == "profile":
                sys.setprofile(self._profile)
            else:
                sys.settrace(self._global)

    def _bytes(self, code) -> bytes:
        raw = self._bytecode.get(code)
        if raw is None:
            raw = self._bytecode[code] = code.co_code
        return raw

    def _info(self, frame):
        """The CodeInfo of a planned frame, else None (decided once per code)."""
        code = frame.f_code
        info = self.rec.codes.get(code)
        if info is None and code not in self._rejected:
            info = self.rec.decide(code, frame)
            if info is None:
                self._rejected.add(code)
            elif self._rings is not None and info.rank == MINIMAL \
                    and not code.co_flags & _SUSPENDS:
                # its calls and returns from now on: written by the C hook into the
                # rings (a generator's resumes and yields stay with the Python hook)
                self._rings.register(code, 1)
        return info

    def after_fork(self) -> None:
        if self._rings is not None:
            from .rings import Rings
            Rings.after_fork(self.rec, self._rings.hot)

    def _started(self, frame, info=None):
        """Record a planned frame that starts or resumes; its CodeInfo or None."""
        rec = self.rec
        if not rec.active:
            return None
        info = info or self._info(frame)
        if info is None:
            return None
        code = frame.f_code
        if self._rings is not None:
            mode = self._rings.modes.get(code)
            if mode is not None and mode & 3 == 1:  # the C hook writes its calls: this too
                self._rings.hot.record(1, 0, mode >> 2)
                return info
        raw = self._bytes(code)
        lasti = frame.f_lasti
        resumed = lasti >= 0 and not (raw[lasti] == _RESUME and raw[lasti + 1] == 0)
        rec.on_call(code, frame, resumed)
        return info

    def _left(self, frame, value) -> bool:
        """Record a planned frame leaving; False when it unwinds (raise)."""
        code = frame.f_code
        raw = self._bytes(code)
        lasti = frame.f_lasti
        op = raw[lasti]
        rec = self.rec
        if op in _RETURNS:
            rec.on_return(code, frame, value)
        elif op == _YIELD or (op == _RESUME and lasti >= 2 and raw[lasti - 2] == _YIELD):
            rec.on_return(code, frame, value, yielded=True)
        else:
            return False
        return True

    # -- trace mode ------------------------------------------------------------
    # A hook that raises is removed by Python. A bug of ours is caught inside
    # (the recorder stops, the program goes on); an exception of the program's
    # (its signal handler ran inside the hook) must go on to the program. A bare
    # KeyboardInterrupt (Ctrl-C) is handed back to the thread to be raised the
    # moment the hook returns, so recording goes on; any other exception is
    # raised from the hook, and then this thread's recording ends: the session
    # says so.
    def _program_raised(self, exc: BaseException) -> None:
        if not _raised_by_program(exc):
            self.rec._fail(exc)
            return
        if self._filter is not None:
            raise exc     # Python does not remove a C hook that fails: recording goes on
        if type(exc) is KeyboardInterrupt and not exc.args and _raise_after_hook(exc):
            return
        thread = threading.current_thread().name
        self.rec._error(f"recording stopped in thread {thread}: the program's "
                        f"{type(exc).__name__} was raised inside Cinescope's {self.mode} hook "
                        "(by a signal handler), and Python removes a hook that raises")
        raise exc

    # -- trace mode ------------------------------------------------------------
    def _global(self, frame, event, arg):
        try:
            info = self._started(frame)
        except BaseException as exc:
            self._program_raised(exc)
            return None
        if info is None:
            return None
        frame.f_trace_lines = info.rank >= FULL
        return self._local

    def _local(self, frame, event, arg):
        rec = self.rec
        if not rec.active:
            return None
        try:
            if event == "line":
                rec.on_line(frame.f_code, frame, frame.f_lineno)
            elif event == "exception":
                self._exceptions[id(frame)] = arg[1]
            elif event == "return" and self.mode == "trace":
                exc = self._exceptions.pop(id(frame), None)
                if not self._left(frame, arg):
                    rec.on_raise(frame.f_code, frame, exc)
        except BaseException as error:
            self._program_raised(error)
            return None
        return self._local

    # -- profile mode ----------------------------------------------------------
    def _profile(self, frame, event, arg):
        try:
            self._profile_event(frame, event, arg)
        except BaseException as exc:
            self._program_raised(exc)

    def _profile_event(self, frame, event, arg) -> None:
        rec = self.rec
        if not rec.active:
            return
        planned = frame.f_code in rec.codes
        if event == "return" and planned:
            unwinds = self._unwinds(frame)
            if self._n_pending and not unwinds:
                self._resolve(rec.current_actor(rec.thread_state()), must_record=True)
            if not unwinds:
                self._left(frame, arg)
            else:
                exc = self._exceptions.pop(id(frame), None)
                if exc is not None:        # seen by the frame's line tracer
                    rec.on_raise(frame.f_code, frame, exc)
                else:
                    self._pend(frame)
            return
        info = self._info(frame) if event == "call" else None
        if self._n_pending:
            # a planned frame starting must be recorded after the pending raises
            # of its actor; any other event only offers the handled exception
            self._resolve(rec.current_actor(rec.thread_state()), must_record=info is not None)
        if info is not None:
            self._started(frame, info)
            if info.rank >= FULL:
                self._trace_lines(frame)

    def _unwinds(self, frame) -> bool:
        raw = self._bytes(frame.f_code)
        lasti = frame.f_lasti
        op = raw[lasti]
        return not (op in _RETURNS or op == _YIELD
                    or (op == _RESUME and lasti >= 2 and raw[lasti - 2] == _YIELD))

    def _trace_lines(self, frame) -> None:
        current = sys.gettrace()
        if current is None:
            sys.settrace(_no_new_frames)
        elif current is not _no_new_frames:
            return   # a debugger owns tracing in this thread
        frame.f_trace = self._local
        frame.f_trace_lines = True

    def _pend(self, frame) -> None:
        """A planned frame unwinds: record its raise once the exception is known."""
        _, ts, actor, _ = self.rec.frame_left(frame.f_code, frame)
        self._pending.setdefault(actor, []).append((frame.f_code, frame, frame.f_lineno, ts))
        self._n_pending += 1

    def offer_exception(self, exc, actor: str, cancelled: bool = False) -> None:
        """The exception that ended `actor` (an asyncio task, whose exception the
        Task caught in C): it may be the one a pending raise waits for. A
        cancelled task's CancelledError is a new object, taken on trust."""
        if actor in self._pending:
            self._resolve(actor, must_record=True, exc=exc, trusted=cancelled)

    def _resolve(self, actor: str, must_record: bool = False, exc=None,
                 trusted: bool = False) -> None:
        """Record the pending raises of `actor` once the exception now handled
        (or offered) came through their frames, directly or as the cause or
        context of a later one; without a value when they `must_record` now."""
        pending = self._pending.get(actor)
        if not pending:
            return
        if exc is None:
            exc = _exc_info()[1]
        found = [exc if trusted else _through(exc, entry[1]) for entry in pending]
        if not must_record and not any(found):
            return   # wait: the exception may still be caught and shown
        del self._pending[actor]
        self._n_pending -= len(pending)
        for (code, _frame, line, ts), exception in zip(pending, found):
            self.rec.record_raise(code, line, exception, ts, actor)


def _raise_after_hook(exc: BaseException) -> bool:
    """Have this thread raise `exc`'s type at its next instruction boundary."""
    try:
        import ctypes
        done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(_get_ident()), ctypes.py_object(type(exc)))
    except Exception:
        return False
    return done == 1


def _through(exc, frame):
    """The exception in `exc`'s chain (itself, its cause, its context) whose
    traceback passes through `frame`, or None."""
    seen = 0
    while exc is not None and seen < 20:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame is frame:
                return exc
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
