"""The sys.settrace / sys.setprofile backend (Python 3.11; also runs on 3.12+).

`trace` mode: a global trace function decides on each new code object once;
planned frames get a local trace function, which sees their returns, the
exceptions passing through them and (level full) their lines. Unplanned
frames cost one call of the global function and nothing more.

`profile` mode, for when a debugger owns sys.settrace (pydevd does on 3.11):
the profile hook sees calls and returns only, so an exception leaving a frame
is known by its instruction, not its value.

A frame leaving with a `return` event is told apart by the instruction it
stopped at: a return instruction returns, a yield yields, anything else is an
exception unwinding. Level full needs line events, which only `trace` mode
has: under `profile` mode a full-level function records as debug.
"""
from __future__ import annotations

import dis
import sys
import threading

from .recorder import FULL

_RETURNS = {dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in dis.opmap}
_YIELD = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap["RESUME"]


class TraceBackend:
    def __init__(self, rec, mode: str):
        self.rec = rec
        self.mode = mode
        self.name = mode
        self._rejected: set = set()
        self._bytecode: dict = {}
        self._exceptions: dict = {}   # id(frame) -> the last exception seen passing through it

    def start(self) -> None:
        if self.mode == "trace":
            threading.settrace(self._global)
            sys.settrace(self._global)
        else:
            threading.setprofile(self._profile)
            sys.setprofile(self._profile)

    def stop(self) -> None:
        if self.mode == "trace":
            threading.settrace(None)
            if sys.gettrace() == self._global:
                sys.settrace(None)
        else:
            threading.setprofile(None)
            if sys.getprofile() == self._profile:
                sys.setprofile(None)

    def _bytes(self, code) -> bytes:
        raw = self._bytecode.get(code)
        if raw is None:
            raw = self._bytecode[code] = code.co_code
        return raw

    def _started(self, frame):
        """The CodeInfo of a planned frame that starts or resumes, else None."""
        rec = self.rec
        if not rec.active:
            return None
        code = frame.f_code
        info = rec.codes.get(code)
        if info is None:
            if code in self._rejected:
                return None
            info = rec.decide(code, frame)
            if info is None:
                self._rejected.add(code)
                return None
        raw = self._bytes(code)
        lasti = frame.f_lasti
        resumed = lasti >= 0 and not (raw[lasti] == _RESUME and raw[lasti + 1] == 0)
        rec.on_call(code, frame, resumed)
        return info

    def _left(self, frame, value) -> None:
        code = frame.f_code
        raw = self._bytes(code)
        lasti = frame.f_lasti
        op = raw[lasti]
        rec = self.rec
        if op in _RETURNS:
            rec.on_return(code, frame, value)
        elif op == _YIELD or (op == _RESUME and lasti >= 2 and raw[lasti - 2] == _YIELD):
            # (3.13 reports a yield at the RESUME that follows it)
            rec.on_return(code, frame, value, yielded=True)
        else:
            rec.on_raise(code, frame, self._exceptions.pop(id(frame), None))
            return
        self._exceptions.pop(id(frame), None)

    def _global(self, frame, event, arg):
        try:
            info = self._started(frame)
        except Exception as exc:
            self.rec._fail(exc)
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
            elif event == "return":
                self._left(frame, arg)
        except Exception as exc:
            rec._fail(exc)
            return None
        return self._local

    def _profile(self, frame, event, arg):
        if event == "call":
            try:
                self._started(frame)
            except Exception as exc:
                self.rec._fail(exc)
        elif event == "return" and frame.f_code in self.rec.codes and self.rec.active:
            try:
                self._left(frame, arg)
            except Exception as exc:
                self.rec._fail(exc)
