"""How fast the questions are answered on a large recording.

    python benchmarks/queries.py [--events 1000000 10000000] [--actors 100]
                                 [--objects 100000] [--runs 50]

Generates a store per size through the real writer (SessionWriter, as the
writer process feeds it): calls and returns as C ring records (nested, per
actor), state changes of many objects and messages between actors as the
Python side records them; one object in ten changes is the same object, for
a long history. Then times each question of issue 4 on random targets and
prints the median and the 90th percentile in milliseconds.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

from cinescope.capture import records as R
from cinescope.replay import Cursor
from cinescope.store import History, Store
from cinescope.store.chunks import RING
from cinescope.store.writer import SessionWriter, create_session
from cinescope.store.writer_process import CodeInfo

BATCH = 200_000
CODES = 200


def generate(path: str, events: int, actors: int, objects: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    session = create_session(path, name=f"bench {events}", argv=["bench.py"], plan={},
                             level="debug", backend="bench")
    modules: dict = {}
    writer = SessionWriter(path, session, modules, pid=1)
    codes = [CodeInfo(f"/bench/mod{i % 10}.py", 10 + i, f"Class{i % 20}.method{i}")
             for i in range(CODES)]
    for code in codes:
        modules[code] = f"mod{codes.index(code) % 10}"
        writer.ring_code(code)
    keys = [f"p1.t{i}" for i in range(actors)]
    for key in keys:
        writer.ring_actor(key)
    meta = [(R.ACTOR, 0, key, "thread", f"worker-{i}", None, i) for i, key in enumerate(keys)]
    meta += [(R.OBJECT, 0, n, "bench.Account", 1000 + n) for n in range(objects)]
    writer.write(meta, 0)
    ts = time.monotonic_ns()
    stacks = [[] for _ in range(actors)]
    balance = [0] * objects
    message = 0
    written = 0
    while written < events:
        ring, records = bytearray(), []
        n = min(BATCH, events - written)
        for _ in range(n):
            ts += 50
            actor = rng.randrange(actors)
            stack = stacks[actor]
            roll = rng.random()
            if roll < 0.08 and stack:                 # a state change in the current method
                # one object in ten changes is object 0: a long history
                obj = 0 if rng.random() < 0.1 else rng.randrange(objects)
                old, balance[obj] = balance[obj], balance[obj] + rng.randrange(1, 100)
                records.append((R.STATE, ts, keys[actor], codes[stack[-1]], obj,
                                {"balance": {"old": old, "new": balance[obj]}}))
            elif roll < 0.10:                         # a message to another actor
                message += 1
                other = rng.randrange(actors)
                code = codes[stack[-1]] if stack else codes[0]
                records.append((R.SEND, ts, keys[actor], code, 1, message, 0, message))
                records.append((R.RECEIVE, ts + 20, keys[other], code, 1, message, 0, message))
            elif len(stack) < 8 and (not stack or roll < 0.55):
                code = rng.randrange(CODES)
                stack.append(code)
                ring += RING.pack(ts, code, actor, R.CALL, 0)
            else:
                ring += RING.pack(ts, stack.pop(), actor, R.RETURN, 0)
        writer.write(records, 0, [bytes(ring)])
        written += n + sum(1 for r in records if r[0] == R.SEND)
    writer.close({"status": "finished", "exit_status": 0})
    return session


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def measure(path: str, runs: int, objects: int, actors: int) -> list[tuple[str, float, float]]:
    rng = random.Random(2)
    out = []

    def open_and_list():
        with Store(path) as store:
            store.sessions()
    out.append(("open the store, list sessions", *timed(open_and_list, runs)))
    with History(path) as h:
        last = h.conn.execute("SELECT max(last_id) FROM chunks").fetchone()[0]
        state_ids = [r[0] for r in h.conn.execute(
            "SELECT id FROM events WHERE kind = ? ORDER BY random() LIMIT ?", (R.STATE, runs))]
        out.append(("state_history of one object", *timed(
            lambda: h.value_history(rng.randrange(objects) + 1), runs)))
        out.append(("call_stack_at an event", *timed(
            lambda: h.call_stack_at(rng.randrange(1, last)), runs)))
        out.append(("last_write before an event", *timed(
            lambda: h.last_write(h.event(rng.choice(state_ids))["object"], "balance",
                                 before=rng.choice(state_ids)), runs)))

        def state_at():
            event = h.event(rng.choice(state_ids))
            cursor = Cursor(h, event["actor"])
            cursor.seek(event=event["id"])
            cursor.state_at(event["object"])
        out.append(("seek + state_at", *timed(state_at, runs)))
        [hot] = [r[0] for r in h.conn.execute(
            "SELECT id FROM objects WHERE session = ? ORDER BY id LIMIT 1", (h.session,))]
        hot_events = [r[0] for r in h.conn.execute(
            "SELECT id FROM events WHERE object = ? AND kind = ? ORDER BY random() LIMIT ?",
            (hot, R.STATE, runs))]
        changes = h.conn.execute("SELECT count(*) FROM events WHERE object = ?",
                                 (hot,)).fetchone()[0]
        out.append((f"state_at, object of {changes:,} changes", *timed(
            lambda: h.state_at(hot, before=rng.choice(hot_events)), runs)))
        cursor = Cursor(h, "worker-1")
        first_ts, last_ts = h.conn.execute("SELECT min(ts0), max(ts1) FROM chunks").fetchone()
        middle = ((first_ts + last_ts) / 2 - h.start_ns) / 1e9

        def step_back():
            if cursor.step_back() is None:      # at the start: from the middle again
                cursor.seek(t=middle)
        assert cursor.seek(t=middle) is not None
        out.append(("one cursor step back (over calls)", *timed(step_back, runs)))
        out.append(("message_flow between two actors", *timed(
            lambda: h.message_flow(f"worker-{rng.randrange(actors)}",
                                   f"worker-{rng.randrange(actors)}"), max(runs // 10, 3))))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--actors", type=int, default=100)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    opts = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; {opts.actors} actors, {opts.objects} objects; "
          f"milliseconds, median and 90th percentile of {opts.runs} runs\n")
    with tempfile.TemporaryDirectory() as tmp:
        for events in opts.events:
            path = os.path.join(tmp, f"{events}.db")
            start = time.perf_counter()
            generate(path, events, opts.actors, opts.objects)
            took = time.perf_counter() - start
            size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
            print(f"{events:,} events: generated in {took:.1f} s, {size / 1e6:.0f} MB")
            for name, median, p90 in measure(path, opts.runs, opts.objects, opts.actors):
                print(f"  {name:<36} {median:>9.2f} {p90:>9.2f}")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
