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
import sys
import threading

from .recorder import FULL

_RETURNS = {dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in dis.opmap}
_YIELD = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap["RESUME"]
_get_ident = threading.get_ident
_exc_info = sys.exc_info


def _no_new_frames(frame, event, arg):
    """The global trace function of profile mode: it only lets the local line
    tracers of full-level frames run."""
    return None


class TraceBackend:
    def __init__(self, rec, mode: str):
        self.rec = rec
        self.mode = mode
        self.name = mode
        self._rejected: set = set()
        self._bytecode: dict = {}
        self._exceptions: dict = {}   # trace mode: id(frame) -> last exception seen in it
        self._pending: dict = {}      # profile mode: actor -> [(code, frame, line, ts)]
        self._n_pending = 0

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
            for actor in list(self._pending):
                self._resolve(actor, None, force=True)
            threading.setprofile(None)
            if sys.getprofile() == self._profile:
                sys.setprofile(None)
            if sys.gettrace() is _no_new_frames:
                sys.settrace(None)

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
            elif event == "return" and self.mode == "trace":
                exc = self._exceptions.pop(id(frame), None)
                if not self._left(frame, arg):
                    rec.on_raise(frame.f_code, frame, exc)
        except Exception as error:
            rec._fail(error)
            return None
        return self._local

    # -- profile mode ----------------------------------------------------------
    def _profile(self, frame, event, arg):
        rec = self.rec
        planned_return = event == "return" and frame.f_code in rec.codes and rec.active
        if self._n_pending and not (planned_return and self._unwinds(frame)):
            self._resolve(rec.current_actor(rec.thread_state()), frame)
        if event == "call":
            try:
                info = self._started(frame)
                if info is not None and info.rank >= FULL:
                    self._trace_lines(frame)
            except Exception as exc:
                rec._fail(exc)
        elif planned_return:
            try:
                if not self._left(frame, arg):
                    exc = self._exceptions.pop(id(frame), None)
                    if exc is not None:        # seen by the frame's line tracer
                        rec.on_raise(frame.f_code, frame, exc)
                    else:
                        self._pend(frame)
            except Exception as exc:
                rec._fail(exc)

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
        pending = self._pending.get(actor)
        if pending and (cancelled or _passes_through(exc, pending[0][1])):
            self._resolve(actor, None, force=True, exc=exc)

    def _resolve(self, actor: str, frame, force: bool = False, exc=None) -> None:
        """Record the pending raises of `actor`: with the exception that is now
        handled if it came through them; without one if `force`d or if a planned
        frame of the same actor must be recorded after them."""
        pending = self._pending.get(actor)
        if not pending:
            return
        if exc is None:
            exc = _exc_info()[1]
            if exc is not None and not _passes_through(exc, pending[0][1]):
                exc = None
        if exc is None and not force and frame is not None and frame.f_code not in self.rec.codes:
            return   # wait: the exception may still be caught and shown
        del self._pending[actor]
        self._n_pending -= len(pending)
        rec = self.rec
        for code, _frame, line, ts in pending:
            rec.record_raise(code, line, exc, ts, actor)


def _passes_through(exc, frame) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame is frame:
            return True
        tb = tb.tb_next
    return False
