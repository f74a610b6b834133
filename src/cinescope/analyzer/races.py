"""Race candidates: two writes of one attribute of one object by different
actors with no happens-before between them.

Happens-before is what the recording shows: program order within an actor
(a thread, an asyncio task, a process), a send before its receive, a spawn
before everything the spawned actor does. Vector clocks are computed over the
session's state, send, receive, spawn and exit events in a causal order (time
order, but a receive never before its send, nor an actor's events before its
spawn). Locks, joins, events, conditions and unrecorded channels leave no
event, so writes they order look unordered: these are candidates, for a
person to judge (docs/anomalies.md).
"""
from __future__ import annotations

import heapq

from ..capture import records as R
from ..store.queries import History
from .anomalies import EVENTS_KEPT, Anomaly

_KINDS = (R.STATE, R.SEND, R.RECEIVE, R.SPAWN, R.EXIT)


def causal_order(events: list[dict]) -> list[dict]:
    """The events in time order, except that a receive waits for its send and
    an actor's first event for its spawn (clocks of two threads can disagree
    by the time it takes to record)."""
    by_actor: dict[int, list[dict]] = {}
    for e in sorted(events, key=lambda e: (e["ts"], e["id"])):
        by_actor.setdefault(e["actor"], []).append(e)
    sends = {e["message"]: e["id"] for e in events if e["kind"] == "send"
             and e["message"] is not None}
    spawns = {e["other_actor"]: e["id"] for e in events if e["kind"] == "spawn"
              and e["other_actor"] is not None}
    done: set[int] = set()
    position = {actor: 0 for actor in by_actor}
    waiting: dict[int, list[int]] = {}       # event id -> actors whose head waits for it
    ready: list[tuple[int, int, int]] = []

    def needs(actor: int) -> int | None:
        e = by_actor[actor][position[actor]]
        send = sends.get(e["message"]) if e["kind"] == "receive" else None
        if send is not None and send not in done:
            return send
        spawn = spawns.get(actor) if position[actor] == 0 else None
        if spawn is not None and spawn not in done:
            return spawn
        return None

    def offer(actor: int) -> None:
        if position[actor] >= len(by_actor[actor]):
            return
        dep = needs(actor)
        if dep is None:
            e = by_actor[actor][position[actor]]
            heapq.heappush(ready, (e["ts"], e["id"], actor))
        else:
            waiting.setdefault(dep, []).append(actor)

    for actor in by_actor:
        offer(actor)
    out: list[dict] = []
    while len(out) < len(events):
        if not ready:                       # only a cycle left (a bad recording): by time
            actor = min((a for a in by_actor if position[a] < len(by_actor[a])),
                        key=lambda a: (by_actor[a][position[a]]["ts"],
                                       by_actor[a][position[a]]["id"]))
            for blocked in waiting.values():
                if actor in blocked:
                    blocked.remove(actor)
            e = by_actor[actor][position[actor]]
            heapq.heappush(ready, (e["ts"], e["id"], actor))
        _, _, actor = heapq.heappop(ready)
        e = by_actor[actor][position[actor]]
        out.append(e)
        done.add(e["id"])
        position[actor] += 1
        offer(actor)
        for other in waiting.pop(e["id"], []):
            offer(other)
    return out


def find_races(h: History) -> list[Anomaly]:
    events = h._row_events(f"e.kind IN ({','.join('?' * len(_KINDS))})", _KINDS)
    types = {o["id"]: o["type"] for o in h.store.objects(h.session)}
    clocks: dict[int, dict[int, int]] = {}           # actor -> its vector clock now
    sent_at: dict[int, dict[int, int]] = {}          # message -> its send's clock
    spawned_at: dict[int, dict[int, int]] = {}       # spawn event -> its clock
    spawned_by: dict[int, int] = {}                  # actor -> its spawn event
    last: dict[tuple, dict[int, tuple[dict, int]]] = {}   # (obj, attr) -> actor -> write
    found: dict[tuple, tuple[dict, dict, int]] = {}
    for e in causal_order(events):
        actor = e["actor"]
        clock = clocks.get(actor)
        if clock is None:
            clock = clocks[actor] = {}
            spawn = spawned_by.get(actor)
            if spawn is not None:
                _join(clock, spawned_at.get(spawn, {}))
        if e["kind"] == "receive":
            sent = sent_at.get(e["message"])
            if sent is not None:
                _join(clock, sent)
        clock[actor] = clock.get(actor, 0) + 1
        if e["kind"] == "send" and e["message"] is not None:
            sent_at[e["message"]] = dict(clock)
        elif e["kind"] == "spawn" and e["other_actor"] is not None:
            spawned_at[e["id"]] = dict(clock)
            spawned_by[e["other_actor"]] = e["id"]
        elif e["kind"] == "state" and e["data"].get("method") and e["object"] is not None:
            # a change noticed at a method's start was made by someone unknown: skipped
            for attr in e["data"].get("changes") or {}:
                key = (e["object"], attr)
                writers = last.setdefault(key, {})
                for other, (write, count) in writers.items():
                    if other != actor and clock.get(other, 0) < count:
                        entry = found.get(key)
                        found[key] = (entry[0], entry[1], entry[2] + 1) if entry \
                            else (write, e, 1)
                        break
                writers[actor] = (e, clock[actor])
    out = []
    for (obj, attr), (first, second, pairs) in found.items():
        kind = types.get(obj, "object").rsplit(".", 1)[-1]
        loc = second.get("location") or {}
        out.append(Anomaly(
            "race", f"{kind} #{obj} .{attr} was written by {first['actor_name']} "
            f"({first['data']['method']}, t={first['t']:.3f} s) and by "
            f"{second['actor_name']} ({second['data']['method']}, t={second['t']:.3f} s) "
            "with nothing recorded that orders the two writes (no message or spawn between "
            "them): a race candidate", loc.get("file"), loc.get("line"), "warning",
            (first["id"], second["id"])[:EVENTS_KEPT],
            {"object": obj, "type": types.get(obj), "attr": attr,
             "actors": [first["actor_name"], second["actor_name"]],
             "methods": [first["data"]["method"], second["data"]["method"]],
             "values": [first["data"]["changes"][attr].get("new"),
                        second["data"]["changes"][attr].get("new")],
             "unordered_writes": pairs}, second["t"]))
    return out


def _join(clock: dict[int, int], other: dict[int, int]) -> None:
    for actor, count in other.items():
        if clock.get(actor, 0) < count:
            clock[actor] = count
