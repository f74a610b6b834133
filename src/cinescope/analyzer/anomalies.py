"""What a recording points at: exceptions and where they start, slow outliers
per function, messages never received, queues that keep growing, race
candidates, and broken invariants (docs/anomalies.md says how each is found
and where it can be wrong).

    from cinescope.store import History
    from cinescope.analyzer.anomalies import find_anomalies
    with History("recordings.db") as h:
        for a in find_anomalies(h, plan=plan):
            print(a.severity, a.kind, a.file, a.line, a.message)
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ..capture import records as R
from ..capture.invariants import UNKNOWN, compile_invariant
from ..store.queries import MISSING, History
from ..store.schema import StoreError

KINDS = ("exception", "slow_call", "unreceived", "growing_queue", "race", "invariant")
SEVERITIES = ("error", "warning", "information")

# slow outliers: a function needs SLOW_MIN_CALLS finished calls; a call is an
# outlier when it took >= SLOW_RATIO x the median, >= median + SLOW_MADS x MAD,
# and at least SLOW_FLOOR_NS more than the median (noise on microsecond calls)
SLOW_MIN_CALLS = 5
SLOW_RATIO = 10.0
SLOW_MADS = 10.0
SLOW_FLOOR_NS = 1_000_000
SLOW_PER_FUNCTION = 3           # outliers reported per function, the slowest first
# growing queues: depth (sends - receives) at the end >= GROW_MIN_DEPTH, and
# never lower at the end of a quarter of the channel's life than at the one before
GROW_MIN_DEPTH = 5
EVENTS_KEPT = 20                # event ids an anomaly lists at most
# raises that are control flow, not errors
CONTROL_FLOW = {"StopIteration", "StopAsyncIteration", "GeneratorExit"}


@dataclass(frozen=True)
class Anomaly:
    """One thing a recording points at, with the source line to show it on."""
    kind: str
    message: str
    file: str | None
    line: int | None
    severity: str
    events: tuple[int, ...]
    details: dict = field(default_factory=dict)
    t: float | None = None      # seconds since the session started, of its first event

    def to_json(self) -> dict:
        return {"kind": self.kind, "severity": self.severity, "message": self.message,
                "file": self.file, "line": self.line, "t": self.t,
                "events": list(self.events), "details": self.details}


def find_anomalies(history: History, *, plan=None) -> list[Anomaly]:
    """Every anomaly of the session, errors first, then by time. `plan`: a
    loaded plan (capture.plan.Plan) whose [invariants] are checked."""
    from .races import find_races
    found = (exception_anomalies(history) + slow_call_anomalies(history)
             + message_anomalies(history) + find_races(history))
    if plan is not None and getattr(plan, "invariants", None):
        found += invariant_anomalies(history, plan.invariants)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda a: (rank.get(a.severity, 9), a.t if a.t is not None else 0.0,
                              a.events[:1]))
    return found


def _where(event: dict | None) -> tuple[str | None, int | None]:
    loc = (event or {}).get("location") or {}
    return loc.get("file"), loc.get("line")


def _function(event: dict | None) -> str:
    return ((event or {}).get("location") or {}).get("function") or "?"


def _short(value: object, width: int = 60) -> str:
    from .explain import value_text
    text = value_text(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# -- exceptions --------------------------------------------------------------------------
def exception_anomalies(h: History) -> list[Anomaly]:
    """One anomaly per exception chain: the raises of one actor that carry an
    exception out of a call into its caller, where the caller raises in turn
    (the same exception, or another raised while handling it). The chain
    starts at its first raise: the innermost recorded frame."""
    raises = h._row_events("e.kind = ?", (R.RAISE,))
    parents: dict[int, int | None] = {}

    def parent(call: int | None) -> int | None:
        if call is None:
            return None
        if call not in parents:
            try:
                parents[call] = h.event(call)["parent"]
            except StoreError:
                parents[call] = None
        return parents[call]

    chains: list[list[dict]] = []
    arriving: dict[tuple[int, int], list[dict]] = {}    # (actor, call) -> chain that left into it
    for e in raises:
        exc = e["data"].get("exception") or {}
        if exc.get("type", "").rsplit(".", 1)[-1] in CONTROL_FLOW:
            continue
        chain = arriving.pop((e["actor"], e["call"]), None) if e["call"] is not None else None
        if chain is None:
            chain = []
            chains.append(chain)
        chain.append(e)
        up = parent(e["call"])
        if up is not None:
            arriving[(e["actor"], up)] = chain
    groups: dict[tuple, list[list[dict]]] = {}
    for chain in chains:
        first, last = chain[0], chain[-1]
        key = (_exc_type(first), _where(first), _exc_type(last), _where(last),
               parent(last["call"]) is None)
        groups.setdefault(key, []).append(chain)
    out = []
    for (_, _, _, _, escaped), same in groups.items():
        chain = same[0]
        first, last = chain[0], chain[-1]
        exc = first["data"].get("exception") or {}
        text = f"{_exc_type(first)}: {exc.get('message', '')}".rstrip(": ") \
            if exc else "an exception (its type was not recorded)"
        path = " -> ".join(dict.fromkeys(_function(e) for e in chain))
        became = f", re-raised as {_exc_type(last)}" if _exc_type(last) != _exc_type(first) \
            else ""
        if escaped:
            end = f"and left {_function(last)} uncaught (no recorded caller caught it)"
        else:
            caller = h.event(parent(last["call"]))
            end = f"and was caught in {_function(caller)}"
        times = f" ({len(same)} times)" if len(same) > 1 else ""
        file, line = _where(first)
        ids = [e["id"] for c in same for e in c]
        out.append(Anomaly(
            "exception", f"{text} raised in {_function(first)}{became}, through {path}, "
            f"{end}{times}", file, line, "error" if escaped else "warning",
            tuple(ids[:EVENTS_KEPT]),
            {"type": _exc_type(first), "exception_message": exc.get("message"),
             "raised_as": _exc_type(last), "path": path.split(" -> "), "uncaught": escaped,
             "count": len(same), "actor": first["actor_name"]}, first["t"]))
    return out


def _exc_type(e: dict) -> str:
    exc = e["data"].get("exception") or {}
    name = exc.get("type") or "?"
    return name.removeprefix("__main__.").removeprefix("builtins.")


# -- slow calls ---------------------------------------------------------------------------
def slow_call_anomalies(h: History) -> list[Anomaly]:
    """Per function (per code location): calls far slower than its typical call."""
    by_function: dict[tuple, list[tuple[int, int, int]]] = {}
    locations: dict[tuple, dict] = {}
    for call, actor, took, loc in h.call_durations():
        key = (loc or {}).get("file"), (loc or {}).get("line"), (loc or {}).get("function")
        by_function.setdefault(key, []).append((took, call, actor))
        locations[key] = loc or {}
    out = []
    for key, calls in by_function.items():
        if len(calls) < SLOW_MIN_CALLS:
            continue
        durations = [c[0] for c in calls]
        median = statistics.median(durations)
        mad = statistics.median(abs(d - median) for d in durations)
        limit = max(median * SLOW_RATIO, median + SLOW_MADS * mad, median + SLOW_FLOOR_NS)
        outliers = sorted((c for c in calls if c[0] >= limit), reverse=True)
        for took, call, _ in outliers[:SLOW_PER_FUNCTION]:
            event = h.event(call)
            ratio = took / median if median else float("inf")
            out.append(Anomaly(
                "slow_call", f"a call of {key[2]} took {took / 1e6:.1f} ms, {ratio:.0f}x the "
                f"median {median / 1e6:.3f} ms of its {len(calls)} calls"
                + (" (" + ", ".join(f"{k}={_short(v, 30)}" for k, v in
                                    event["data"]["args"].items()) + ")"
                   if event["data"].get("args") else ""),
                key[0], key[1], "warning", (call,),
                {"function": key[2], "duration_ns": took, "median_ns": int(median),
                 "mad_ns": int(mad), "calls": len(calls), "ratio": round(ratio, 1),
                 "outliers": len(outliers), "actor": event["actor_name"]}, event["t"]))
    return out


# -- messages -----------------------------------------------------------------------------
def message_anomalies(h: History) -> list[Anomaly]:
    """Per channel: sends never received, and depth that keeps growing."""
    types = {o["id"]: o["type"] for o in h.store.objects(h.session)}
    channels: dict[int | None, list] = {}
    for m in h.message_flow():
        if m.send is not None:
            channels.setdefault(m.channel, []).append(m)
    out = []
    for channel, messages in channels.items():
        name = f"{types.get(channel, 'channel')} #{channel}"
        lost = [m for m in messages if m.receive is None]
        if not lost:
            continue
        steps = sorted([(m.send["ts"], 1) for m in messages]
                       + [(m.receive["ts"], -1) for m in messages if m.receive is not None])
        first_ts, last_ts = steps[0][0], steps[-1][0]
        quarters, depth, i = [], 0, 0
        for q in range(1, 5):
            edge = first_ts + (last_ts - first_ts) * q / 4
            while i < len(steps) and steps[i][0] <= edge:
                depth += steps[i][1]
                i += 1
            quarters.append(depth)
        senders = sorted({m.send["actor_name"] for m in lost})
        first = lost[0].send
        file, line = _where(first)
        growing = depth >= GROW_MIN_DEPTH and all(
            a <= b for a, b in zip(quarters, quarters[1:])) and quarters[-1] > quarters[0]
        if growing:
            out.append(Anomaly(
                "growing_queue", f"{name} kept growing: {len(messages)} sent, "
                f"{len(messages) - len(lost)} received, {depth} left at the end (depth by "
                f"quarter of its life: {', '.join(map(str, quarters))}); sent by "
                f"{', '.join(senders)} from {_function(first)}", file, line, "warning",
                tuple(m.send["id"] for m in lost[-EVENTS_KEPT:]),
                {"channel": channel, "channel_type": types.get(channel), "sent": len(messages),
                 "received": len(messages) - len(lost), "depth": depth,
                 "depth_by_quarter": quarters, "senders": senders}, lost[-1].send["t"]))
            continue
        what = "a message" if len(lost) == 1 else f"{len(lost)} messages"
        out.append(Anomaly(
            "unreceived", f"{what} sent on {name} by {', '.join(senders)} from "
            f"{_function(first)} {'was' if len(lost) == 1 else 'were'} never received "
            f"(first: {_short(lost[0].value)} at t={first['t']:.3f} s)", file, line, "warning",
            tuple(m.send["id"] for m in lost[:EVENTS_KEPT]),
            {"channel": channel, "channel_type": types.get(channel), "unreceived": len(lost),
             "sent": len(messages), "senders": senders, "first_value": lost[0].value},
            first["t"]))
    return out


# -- invariants ---------------------------------------------------------------------------
def invariant_anomalies(h: History, invariants: dict) -> list[Anomaly]:
    """Each object of each class at each of its state changes: the first
    change per object and invariant after which the invariant is False."""
    out = []
    for spec, exprs in invariants.items():
        compiled = [compile_invariant(e) for e in exprs]
        try:
            objects = h.objects(spec)
        except StoreError:
            continue                        # the class left no state in this session
        for obj in objects:
            state: dict = {}
            broken: set[int] = set()
            changes = h.value_history(obj)
            for i, change in enumerate(changes):
                if change.deleted:
                    state.pop(change.attr, None)
                elif change.new is not MISSING:
                    state[change.attr] = change.new
                if i + 1 < len(changes) and changes[i + 1].event == change.event:
                    continue                # evaluate once an event's changes are all in
                for n, inv in enumerate(compiled):
                    if n in broken or inv.evaluate(state) is not False:
                        continue
                    broken.add(n)
                    out.append(_broken(h, spec, obj, inv, change, changes))
    return out


def _broken(h: History, spec: str, obj: int, inv, change, changes) -> Anomaly:
    event = h.event(change.event)
    mine = {c.attr: c for c in changes if c.event == change.event}
    shown = [c for name, c in mine.items() if name in inv.names] or list(mine.values())
    moves = ", ".join(f"{c.attr}: {_short(c.old) if c.old is not MISSING else '(unset)'} -> "
                      f"{_short(c.new)}" for c in shown)
    method = change.method or "code outside its methods"
    file, line = _where(event)
    return Anomaly(
        "invariant", f"{spec.rpartition(':')[2]} #{obj}: invariant `{inv.text}` broken by "
        f"{method} ({moves}) in {change.actor_name}", file, line, "error", (change.event,),
        {"target": spec, "object": obj, "invariant": inv.text, "method": change.method,
         "actor": change.actor_name,
         "changes": {c.attr: {"old": None if c.old is MISSING else c.old, "new": c.new}
                     for c in shown}}, change.t)


__all__ = ["Anomaly", "find_anomalies", "KINDS", "SEVERITIES", "UNKNOWN"]
