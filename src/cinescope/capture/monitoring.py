"""The sys.monitoring backend (Python 3.12+).

PY_START is the only event on everywhere: the first time a code object
starts, the plan decides; unplanned code gets DISABLE and never calls back
again (until some tool calls restart_events, when it is disabled again;
each recording calls it when it starts, since what an earlier recording of
the process disabled would stay disabled for the tool id).
Planned code gets its local events: returns, yields, resumes, and lines at
level full. PY_UNWIND and PY_THROW can only be global; their callbacks look
the code up and return at once for unplanned code.

Tool id 3 (4 if 3 is taken): 0 is debugpy's, 1 coverage's, 2 the profilers'.

With the C extension (`use_c`), PY_START, PY_RESUME, PY_RETURN and PY_YIELD
are C functions (capture/_hot.c): for level-minimal code they write records
into per-thread rings themselves; for the rest they call the same Python
handlers as below. The flusher drains the rings with the thread buffers.
"""
from __future__ import annotations

import asyncio
import sys

import msgpack

from .recorder import FULL, MINIMAL

mon = sys.monitoring
E = mon.events
DISABLE = mon.DISABLE
_LOCAL = E.PY_RETURN | E.PY_YIELD | E.PY_RESUME
_GLOBAL = E.PY_START | E.PY_UNWIND | E.PY_THROW
_getframe = sys._getframe


class MonitoringBackend:
    name = "monitoring"

    def __init__(self, rec, use_c: bool = False):
        self.rec = rec
        self.tool = None
        self.use_c = use_c
        self.name = "monitoring" if use_c else "monitoring-py"
        self.hot = None

    def start(self) -> None:
        from .backends import BackendError
        for tool in (3, 4):
            try:
                mon.use_tool_id(tool, "cinescope")
            except ValueError:
                continue
            self.tool = tool
            break
        else:
            raise BackendError("sys.monitoring tool ids 3 and 4 are both in use by other tools")
        rec = self.rec
        codes = rec.codes
        tool = self.tool

        def py_start(code, offset):
            info = codes.get(code)
            if info is None:
                info = self._plan(code, _getframe(1))
                if info is None:
                    return DISABLE
            if rec.active:
                try:
                    rec.on_call(code, _getframe(1))
                except Exception as exc:
                    rec._fail(exc)

        # One small closure per event, each calling the recorder directly: a
        # shared wrapper would add a Python call to every recorded event.
        def py_resume(code, offset):
            if rec.active and code in codes:
                try:
                    rec.on_call(code, _getframe(1), resumed=True)
                except Exception as exc:
                    rec._fail(exc)

        def py_throw(code, offset, exc):
            if rec.active and code in codes:
                try:
                    rec.on_call(code, _getframe(1), resumed=True)
                except Exception as error:
                    rec._fail(error)

        def py_return(code, offset, value):
            if rec.active and code in codes:
                try:
                    rec.on_return(code, _getframe(1), value)
                except Exception as exc:
                    rec._fail(exc)

        def py_yield(code, offset, value):
            if rec.active and code in codes:
                try:
                    rec.on_return(code, _getframe(1), value, yielded=True)
                except Exception as exc:
                    rec._fail(exc)

        def py_unwind(code, offset, exc):
            if rec.active and code in codes:
                try:
                    rec.on_raise(code, _getframe(1), exc)
                except Exception as error:
                    rec._fail(error)

        def line(code, line_number):
            if rec.active and code in codes:
                try:
                    rec.on_line(code, _getframe(1), line_number)
                except Exception as exc:
                    rec._fail(exc)

        callbacks = {E.PY_START: py_start, E.PY_RESUME: py_resume, E.PY_THROW: py_throw,
                     E.PY_RETURN: py_return, E.PY_YIELD: py_yield, E.PY_UNWIND: py_unwind,
                     E.LINE: line}
        if self.use_c:
            callbacks.update(self._c_callbacks())
        for event, callback in callbacks.items():
            mon.register_callback(tool, event, callback)
        mon.set_events(tool, _GLOBAL)
        # what an earlier recording of this process DISABLEd stays disabled for
        # the tool id, whoever holds it now: a new plan must see every code again
        mon.restart_events()

    def _plan(self, code, frame):
        """A code object's first start: the plan's verdict (its CodeInfo, or None
        for code to DISABLE), and the local events a planned one needs."""
        rec = self.rec
        if not rec.active:
            return None
        try:
            info = rec.decide(code, frame)
        except Exception as exc:
            rec._fail(exc)
            return None
        if info is not None:
            mon.set_local_events(self.tool, code,
                                 _LOCAL | (E.LINE if info.rank >= FULL else 0))
        return info

    def _c_callbacks(self) -> dict:
        """The C hot path: its callbacks, and the Python it calls back."""
        from . import _hot
        rec = self.rec
        modes: dict = {}           # code -> index << 2 | mode (1: C, 2: Python)
        codes: list = []
        actors: list = []
        actor_index: dict = {}

        source = RingSource(None, codes, actors, rec.modules)

        def index_of(key):
            index = actor_index.get(key)
            if index is None:
                index = actor_index[key] = len(actors)
                actors.append(key)
                source.logged("actor", index, key)
            return index

        def decide(code):
            info = self._plan(code, _getframe(1))
            if info is None:
                return None
            modes[code] = len(codes) << 2 | (1 if info.rank == MINIMAL else 2)
            codes.append(code)
            source.logged("code", len(codes) - 1, (code.co_filename, code.co_firstlineno,
                                                    code.co_qualname, rec.modules.get(code, "?")))
            return modes[code]

        def thread_actor():
            try:
                return index_of(rec.thread_state().actor)
            except Exception as exc:   # recording stops; the record goes to the process
                rec._fail(exc)
                return index_of(rec.process_actor)

        def task_actor(task):
            try:
                key = rec.actors.task_keys.get(task)
                if key is None:
                    key = rec.actors.adopt_task(task, rec.thread_state())
                return index_of(key)
            except Exception as exc:
                rec._fail(exc)
                return index_of(rec.process_actor)

        def handler(method, **kwargs):
            def call(code, *value):
                try:
                    method(code, _getframe(1), *value, **kwargs)
                except Exception as exc:
                    rec._fail(exc)
            return call

        self.hot = _hot.Hot(
            modes=modes, codes=codes, actors=actors, decide=decide,
            on_call=handler(rec.on_call), on_resume=handler(rec.on_call, resumed=True),
            on_return=handler(rec.on_return), on_yield=handler(rec.on_return, yielded=True),
            thread_actor=thread_actor, task_actor=task_actor,
            get_running_loop=asyncio.events._get_running_loop,
            current_task=asyncio.current_task, disable=DISABLE,
            wake=lambda: rec.buffers.wake(), capacity=rec.plan.buffer_size,
            policy=("drop_oldest", "drop_newest", "block").index(rec.plan.overflow),
            arena=rec.arena.memory if rec.arena is not None else None)
        source.attach(self.hot)
        rec.buffers.sources.append(source)
        return {E.PY_START: self.hot.py_start, E.PY_RESUME: self.hot.py_resume,
                E.PY_RETURN: self.hot.py_return, E.PY_YIELD: self.hot.py_yield}

    def after_fork(self) -> None:
        if self.hot is not None:
            arena = self.rec.arena
            self.hot.reset(arena.memory if arena is not None else None)
            for source in self.rec.buffers.sources:
                if isinstance(source, RingSource):
                    source.after_fork(arena is not None)

    def stop(self) -> None:
        if self.hot is not None:
            self.hot.set_active(False)
        tool, self.tool = self.tool, None
        if tool is None:
            return
        mon.set_events(tool, 0)
        for code in list(self.rec.codes):
            try:
                mon.set_local_events(tool, code, 0)
            except ValueError:
                pass
        mon.free_tool_id(tool)


class RingSource:
    """The C rings as the flusher sees them: raw records of the private rings,
    and the code objects and actor keys their indexes stand for (both lists
    only ever grow; the writer process decodes the records, see
    store/writer_process.py). With an arena (capture/arena.py) the writer
    reads the shared rings itself, and the first `codes_logged` code and
    `actors_logged` actor indexes from the arena's description log; the
    flusher only tells it how far to read (`written`)."""

    def __init__(self, hot, codes: list, actors: list, modules: dict):
        self.codes = codes
        self.actors = actors
        self.modules = modules
        self.codes_logged = self.actors_logged = 0
        self._logging = True
        if hot is not None:
            self.attach(hot)

    def attach(self, hot) -> None:
        self.hot = hot
        self.drain_raw = hot.drain_raw
        self.take_dropped = hot.take_dropped
        self.written = hot.written
        self.set_idle = hot.set_idle

    def logged(self, what: str, index: int, description) -> None:
        """Describe an index in the arena's log while it takes them (in order)."""
        if not self._logging:
            return
        entry = msgpack.packb((what, index, description), use_bin_type=True)
        if self.hot.describe(entry):
            if what == "code":
                self.codes_logged = index + 1
            else:
                self.actors_logged = index + 1
        else:
            self._logging = False     # full, or no arena: the rest goes by pipe

    def after_fork(self, arena: bool) -> None:
        """A forked child starts a new arena, log and writer, with the lists as
        they are: describe them all again, to the new log while it takes them."""
        self.codes_logged = self.actors_logged = 0
        self._logging = arena
        for index, code in enumerate(self.codes):
            self.logged("code", index, (code.co_filename, code.co_firstlineno,
                                        code.co_qualname, self.modules.get(code, "?")))
        for index, key in enumerate(self.actors):
            self.logged("actor", index, key)
