"""History mode: one stopped thread walking back and forth through its recording.

A `Travel` starts at the live moment (the end of the thread's recorded
events, after the debugger synced the store) and moves over the actor's
events with a replay cursor. A moment shown from the recording is an event:

- a line event (level full) shows its frame *at* that line, before the line
  ran: what a debugger stopped on a line shows;
- a call shows the called function at its first line, with its arguments;
- a return or raise shows the function as it left;
- anything else (a state change, a send...) shows the line that made it.

Stepping forward past the last recorded event ends history mode: the
debugger shows the live program again.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..capture import records as R
from ..replay.cursor import Cursor
from ..store.queries import History


@dataclass
class HistoricFrame:
    call: int               # the call event of the frame
    function: str
    file: str | None
    line: int
    object: int | None      # its recorded self, if a method of a recorded class
    locals: dict
    returned: dict | None = None     # at a return: {"value": ...}; at a raise: the exception


class Travel:
    def __init__(self, history: History, actor: int):
        self.history = history
        self.actor = actor
        self.cursor = Cursor(history, actor)
        self.live = True
        self.reached_change = None      # the watched change the last run_to stopped at
        self._lines: dict[int, list[dict]] = {}

    # -- moving ---------------------------------------------------------------------
    def step_back(self, into: bool = False) -> bool:
        """To the previous recorded moment, over calls unless `into`; False at
        the start of the recording (nothing moves)."""
        if self.live:
            last = self.history.recent(self.actor, 1)
            if not last:
                return False
            end = (last[0]["ts"] - self.history.start_ns) / 1e9
            # the calls open now: the previous moment is in one of them
            allowed = None if into else {f.call for f in self.history.call_stack_at(
                actor=self.actor, t=end)} | {None}
            at = last[0] if self._moment(last[0], allowed, into) else \
                self._walk(last[0], False, allowed, into)
        else:
            at = self._walk(self.cursor.event, False, self._allowed(into), into)
        if at is None:
            return False
        self.cursor.event, self.live = at, False
        return True

    def step_forward(self, into: bool = False) -> bool:
        """To the next recorded moment; False when that is the live moment."""
        if self.live:
            return False
        at = self._walk(self.cursor.event, True, self._allowed(into), into)
        if at is None:
            self.live = True
            return False
        self.cursor.event = at
        return True

    def _allowed(self, into: bool) -> set | None:
        """The calls whose moments a step over calls may stop at: those
        enclosing the cursor's event, at its level."""
        if into:
            return None
        e = self.cursor.event
        allowed = {f.call for f in self.cursor.stack()} | {None}
        if e["kind"] in ("call", "return", "raise"):
            allowed.discard(e["call"])
        return allowed

    def _walk(self, at: dict, forward: bool, allowed: set | None, into: bool) -> dict | None:
        """The next (previous) moment a step stops at. A call made at an allowed
        level is stepped over whole: backward to its call event, forward to its
        return, without reading the events inside it."""
        while True:
            at = self.cursor._next(at, forward)
            if at is None:
                return None
            if allowed is not None:
                call = self._outermost_call(at, allowed)
                if call is not None:
                    at = call if not forward else self.history.return_of(call)
                    if at is None:
                        return None         # still open: over it is the live moment
            if self._moment(at, allowed, into):
                return at

    def _outermost_call(self, e: dict, allowed: set) -> dict | None:
        """The call made at an allowed level that event e is inside; None when
        e itself is at an allowed level."""
        level = self.cursor._level(e)
        if level in allowed:
            return None
        call = self.history.event(level)
        while call["parent"] not in allowed:
            call = self.history.event(call["parent"])
        return call

    def _moment(self, e: dict, allowed: set | None, into: bool) -> bool:
        """Whether a step stops at event e. In a function recorded line by line
        the moments are its lines (and its own return): the calls a line makes,
        and what it sends or changes, are inside that line."""
        level = self.cursor._level(e)
        if allowed is not None and level not in allowed:
            return False
        if into or e["kind"] == "line" or level is None:
            return True
        return not self._line_events(level)

    def step_out(self) -> bool:
        """Forward to the moment the current function returns; False: live."""
        if self.live:
            return False
        frames = self.cursor.stack()
        if not frames:
            return self.step_forward()
        call = frames[-1].call
        at = self.cursor.event
        while True:
            at = self.cursor._next(at, True)
            if at is None:
                self.live = True
                return False
            if at["kind"] in ("return", "raise") and at["call"] == call:
                self.cursor.event = at
                return True

    def run_to(self, breakpoints: dict[str, set[int]], forward: bool,
               watches: list[tuple[int, str]] = (), all_threads: bool = True) -> bool:
        """To the previous (next) recorded hit of a breakpoint (file -> lines)
        or change of a watched attribute ((object, attr)), whichever comes
        first, in any thread (or only the walked one). A moment of another
        thread moves the walk to that thread. Backward: False at the start
        (nothing moves). Forward: False when none is left before the live
        moment (history mode ends)."""
        self.reached_change = None
        if self.live and forward:
            return False
        hit = self._breakpoint_hit(breakpoints, forward, all_threads)
        change = self._watched_change(watches, forward)
        if change is not None:
            e = self.history.event(change.event)
            if hit is None or ((e["ts"], e["id"]) > (hit["ts"], hit["id"])) != forward:
                hit, self.reached_change = e, change
        if hit is None:
            if forward:
                self.live = True
            return False
        if hit["actor"] != self.actor:
            self.actor, self.cursor = hit["actor"], Cursor(self.history, hit["actor"])
        self.cursor.event, self.live = hit, False
        return True

    def _breakpoint_hit(self, breakpoints: dict[str, set[int]], forward: bool,
                        all_threads: bool) -> dict | None:
        if not breakpoints:
            return None
        walker = Cursor(self.history, None) if all_threads else self.cursor
        at = None if self.live else self.cursor.event
        if at is None:      # from the live moment: the last recorded event counts
            last = [e for a in walker.actors for e in self.history.recent(a, 1)]
            if not last:
                return None
            at = max(last, key=lambda e: (e["ts"], e["id"]))
            if _hits(at, breakpoints):
                return at
        while True:
            at = walker._next(at, forward)
            if at is None or _hits(at, breakpoints):
                return at

    def _watched_change(self, watches: list[tuple[int, str]], forward: bool):
        """The nearest recorded change of a watched attribute before (after) now."""
        found = None
        at = None if self.live else self.cursor.event
        for obj, attr in watches:
            if forward:
                later = self.history.value_history(obj, attr, after=(at["ts"], at["id"]))
                change = later[0] if later else None
            else:
                write = self.history.last_write(obj, attr, before=at["id"] if at else None)
                change = write.change if write is not None else None
            if change is not None and (found is None or (
                    (change.ts, change.event) < (found.ts, found.event)) == forward):
                found = change
        return found

    # -- what the moment shows ----------------------------------------------------
    @property
    def event(self) -> dict | None:
        return None if self.live else self.cursor.event

    def frames(self) -> list[HistoricFrame]:
        """The frames at the moment, innermost first."""
        e = self.cursor.event
        h = self.history
        stack = h.call_stack_at(e["id"])
        out: list[HistoricFrame] = []
        inner = None
        for frame in reversed(stack):
            call = h.event(frame.call)
            if inner is None:
                line, bound, returned = self._top(e, call)
            else:
                after = [x for x in self._line_events(frame.call)
                         if (x["ts"], x["id"]) > (inner["ts"], inner["id"])]
                line = after[0]["data"]["line"] if after else frame.line
                bound, returned = (inner["ts"], inner["id"]), None
            out.append(HistoricFrame(frame.call, frame.function or "?", frame.file, line or 1,
                                     frame.object, self._locals(call, bound), returned))
            inner = call
        return out

    def _top(self, e: dict, call: dict) -> tuple:
        """(line, locals bound, returned) of the innermost frame at event e."""
        kind = e["kind"]
        loc = e["location"] or {}
        if kind == "line":
            return e["data"]["line"], (e["ts"], e["id"]), None
        if kind == "call":
            return loc.get("line"), (e["ts"], e["id"] + 1), None
        if kind in ("return", "raise"):
            lines = [x for x in self._line_events(call["id"])
                     if (x["ts"], x["id"]) < (e["ts"], e["id"])]
            line = lines[-1]["data"]["line"] if lines else (
                loc.get("line") if kind == "raise" else (call["location"] or {}).get("line"))
            data = e.get("data") or {}
            returned = {"exception": data.get("exception")} if kind == "raise" else (
                {"value": data["value"]} if "value" in data else None)
            return line, (e["ts"], e["id"] + 1), returned
        return loc.get("line"), (e["ts"], e["id"]), None

    def _line_events(self, call: int) -> list[dict]:
        found = self._lines.get(call)
        if found is None:
            found = self._lines[call] = self.history._row_events(
                "e.call = ? AND e.kind = ?", (call, R.LINE), index="events_call")
        return found

    def _locals(self, call: dict, bound: tuple) -> dict:
        """The call's arguments and its recorded locals as they were at `bound`
        (its events before that (ts, id))."""
        values = dict((call.get("data") or {}).get("args") or {})
        for x in self._line_events(call["id"]):
            if (x["ts"], x["id"]) >= bound:
                break
            values.update(x["data"].get("locals") or {})
        return values


def _hits(event: dict, breakpoints: dict[str, set[int]]) -> bool:
    loc = event["location"]
    if loc is None or loc.get("file") not in breakpoints:
        return False
    lines = breakpoints[loc["file"]]
    if event["kind"] == "line":
        return event["data"].get("line") in lines
    return event["kind"] == "call" and loc.get("line") in lines
