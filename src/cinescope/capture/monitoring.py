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

import sys

from .recorder import FULL, MINIMAL
from .rings import Rings

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
        rec = self.rec

        def decide(code):
            info = self._plan(code, _getframe(1))
            if info is None:
                return None
            return rings.register(code, 1 if info.rank == MINIMAL else 2)

        def handler(method, **kwargs):
            def call(code, *value):
                try:
                    method(code, _getframe(1), *value, **kwargs)
                except Exception as exc:
                    rec._fail(exc)
            return call

        rings = Rings(rec, decide=decide, disable=DISABLE,
                      on_call=handler(rec.on_call),
                      on_resume=handler(rec.on_call, resumed=True),
                      on_return=handler(rec.on_return),
                      on_yield=handler(rec.on_return, yielded=True))
        self.hot = rings.hot
        return {E.PY_START: self.hot.py_start, E.PY_RESUME: self.hot.py_resume,
                E.PY_RETURN: self.hot.py_return, E.PY_YIELD: self.hot.py_yield}

    def after_fork(self) -> None:
        if self.hot is not None:
            Rings.after_fork(self.rec, self.hot)

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
