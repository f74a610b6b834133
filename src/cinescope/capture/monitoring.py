"""The sys.monitoring backend (Python 3.12+).

PY_START is the only event on everywhere: the first time a code object
starts, the plan decides; unplanned code gets DISABLE and never calls back
again (until some tool calls restart_events, when it is disabled again).
Planned code gets its local events: returns, yields, resumes, and lines at
level full. PY_UNWIND and PY_THROW can only be global; their callbacks look
the code up and return at once for unplanned code.

Tool id 3 (4 if 3 is taken): 0 is debugpy's, 1 coverage's, 2 the profilers'.
"""
from __future__ import annotations

import sys

from .recorder import FULL

mon = sys.monitoring
E = mon.events
DISABLE = mon.DISABLE
_LOCAL = E.PY_RETURN | E.PY_YIELD | E.PY_RESUME
_GLOBAL = E.PY_START | E.PY_UNWIND | E.PY_THROW
_getframe = sys._getframe


class MonitoringBackend:
    name = "monitoring"

    def __init__(self, rec):
        self.rec = rec
        self.tool = None

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
                if not rec.active:
                    return DISABLE
                try:
                    info = rec.decide(code, _getframe(1))
                except Exception as exc:
                    rec._fail(exc)
                    return DISABLE
                if info is None:
                    return DISABLE
                mon.set_local_events(tool, code, _LOCAL | (E.LINE if info.rank >= FULL else 0))
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
        for event, callback in callbacks.items():
            mon.register_callback(tool, event, callback)
        mon.set_events(tool, _GLOBAL)

    def stop(self) -> None:
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
