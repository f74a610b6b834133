"""Time travel over a recording: a cursor on one actor's events (or all).

    from cinescope.replay import Cursor
    with Cursor.open("rec.db", actor="teller-1") as cur:
        cur.seek(event=1234)
        cur.step_back()                  # the previous moment of this frame: over calls
        cur.step_back(into=True)         # the previous event, whatever its depth
        cur.reverse_continue(function="Account.withdraw")
        cur.state_at(7)                  # object 7's attributes at the cursor
        cur.stack()                      # the calls open at the cursor

Stepping over calls is what users expect of Step Back: the cursor moves to
the neighbouring event at the same level or an enclosing one: the calls the
current function makes and their returns, what happens in it, its own
return; never the events inside a callee (`into=True` goes there).
"""
from __future__ import annotations

from ..store.queries import Frame, History


class Cursor:
    """A cursor on one actor's events, or (actor None) on every actor's, in
    time order; across actors every step is an event (there is no common
    call to step over)."""

    def __init__(self, history: History, actor: str | int | None):
        self.history = history
        self.actor = history.actor_id(actor) if actor is not None else None
        self.actors = [self.actor] if self.actor is not None else \
            [a["id"] for a in history.store.actors(history.session)]
        self.event: dict | None = None          # None: before the first event

    @classmethod
    def open(cls, store: str, actor: str | int | None,
             session: int | None = None) -> "Cursor":
        return cls(History(store, session), actor)

    def _next(self, at: dict | None, forward: bool) -> dict | None:
        """The event right after (before) `at` among the cursor's actors."""
        found = [e for e in (self.history.step(a, at, forward) for a in self.actors) if e]
        if not found:
            return None
        return (min if forward else max)(found, key=lambda e: (e["ts"], e["id"]))

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc) -> None:
        self.history.__exit__(*exc)

    # -- where ------------------------------------------------------------------------
    def seek(self, event: int | None = None, t: float | None = None) -> dict | None:
        """To an event of this actor, or to its last event at or before time t."""
        h = self.history
        if event is not None:
            found = h.event(event)
            if found["actor"] not in self.actors:
                raise ValueError(f"event {event} is not of actor {self.actor}; "
                                 "open a cursor on its actor")
            self.event = found
        elif t is not None:
            ts = h.start_ns + round(t * 1e9)
            last = [e for e in (h._last_event(a, ts) for a in self.actors) if e]
            self.event = max(last, key=lambda e: (e["ts"], e["id"])) if last else None
        else:
            raise ValueError("seek needs an event or a time t")
        return self.event

    def stack(self) -> list[Frame]:
        if self.event is None:
            return []
        return self.history.call_stack_at(self.event["id"])

    # -- stepping ----------------------------------------------------------------------
    def step_forward(self, into: bool = False) -> dict | None:
        """The next event (over calls unless `into`); None at the end (the
        cursor stays)."""
        return self._step(True, into)

    def step_back(self, into: bool = False) -> dict | None:
        """The previous event (over calls unless `into`); None at the start."""
        return self._step(False, into)

    def _step(self, forward: bool, into: bool) -> dict | None:
        if self.event is None and not forward:
            return None                 # before the first event: nothing is earlier
        allowed = None
        if not into and self.event is not None and self.actor is not None:
            # the calls enclosing the cursor's event, at its level
            allowed = {f.call for f in self.stack()} | {None}
            if self.event["kind"] in ("call", "return", "raise"):
                allowed.discard(self.event["call"])
        at = self.event
        while True:
            at = self._next(at, forward)
            if at is None:
                return None
            if allowed is None or self._level(at) in allowed:
                self.event = at
                return at

    def _level(self, event: dict) -> int | None:
        """The call an event happens at: a call or a return (raise) at the
        caller's, anything else in its own call."""
        kind = event["kind"]
        if kind == "call":
            return event["parent"]
        if kind in ("return", "raise"):
            if event["call"] is None:
                return None
            return self.history.event(event["call"])["parent"]
        return event["call"]

    def reverse_continue(self, *, function: str | None = None, file: str | None = None,
                         line: int | None = None) -> dict | None:
        """Back to the previous event at a location: a function's calls, or a
        file and line (a call of a function starting there, or a line event)."""
        return self._continue(False, function, file, line)

    def continue_(self, *, function: str | None = None, file: str | None = None,
                  line: int | None = None) -> dict | None:
        """Forward to the next event at a location (see reverse_continue)."""
        return self._continue(True, function, file, line)

    def _continue(self, forward, function, file, line) -> dict | None:
        if function is None and line is None:
            raise ValueError("say where to stop: a function, or a file and line")
        at = self.event
        while True:
            at = self._next(at, forward)
            if at is None:
                return None
            if _hit(at, function, file, line):
                self.event = at
                return at

    # -- values ------------------------------------------------------------------------
    def state_at(self, obj: int) -> dict:
        """Object `obj`'s recorded attributes as they were at the cursor (after
        the cursor's event), rebuilt from its changes."""
        if self.event is None:
            return {}
        after = self._next(self.event, True)
        return self.history.state_at(obj, before=after["id"] if after else None)

    def locals(self) -> dict:
        """The locals of the cursor's call as its recorded lines left them
        (level full records them)."""
        if self.event is None or self.event["call"] is None:
            return {}
        call = self.event["call"]
        values: dict = {}
        for e in self.history.correlated(call):
            if (e["ts"], e["id"]) > (self.event["ts"], self.event["id"]):
                break
            if e["kind"] == "line" and e["call"] == call:
                values.update(e["data"].get("locals") or {})
            elif e["kind"] == "call" and e["id"] == call:
                values.update(e["data"].get("args") or {})
        return values


def _hit(event: dict, function, file, line) -> bool:
    loc = event["location"]
    if loc is None:
        return False
    if function is not None:
        return event["kind"] == "call" and loc["function"] == function
    if file is not None and not (loc["file"] == file or loc["file"].endswith("/" + file)):
        return False
    if event["kind"] == "line":
        return event["data"].get("line") == line
    return event["kind"] == "call" and loc["line"] == line
