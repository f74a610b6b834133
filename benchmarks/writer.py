"""How fast the store takes events, and how big they are.

    python benchmarks/writer.py [--events N] [--batch N]

Feeds the session writer batches of call/return events as the writer
process would: the C rings' raw records (level minimal, no values) and the
Python side's records (level debug: an argument and a return value each).
Prints events per second and bytes per event in the store, indexes
included, beside the two reference points the issue gives: SQLite with one
plain row per event, and msgpack blobs of 64 K events.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time

import msgpack

from cinescope.capture import records as R
from cinescope.store.chunks import RING
from cinescope.store.writer import SessionWriter, create_session


def sample_code():
    def work(n):
        return n
    return work.__code__


DEPTH = 20        # calls nest this deep, then return: a recursion


def shape(n: int):
    """(ts, is_call) of n events: recursions DEPTH deep, 80 ns apart."""
    ts = time.monotonic_ns()
    for i in range(n):
        step = i % (2 * DEPTH)
        yield ts + 80 * i, step < DEPTH


def records(n: int, code) -> list[tuple]:
    """Python-side records at level debug: an argument and a return value."""
    return [(R.CALL, ts, "p1", code, {"n": 1}, None, False) if is_call
            else (R.RETURN, ts, "p1", code, 1, False) for ts, is_call in shape(n)]


def ring_blob(n: int) -> bytes:
    """C ring records at level minimal (capture/_hot.c), code index 0, actor 0."""
    return b"".join(RING.pack(ts, 0, 0, R.CALL if is_call else R.RETURN, 0)
                    for ts, is_call in shape(n))


def size_of(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _cinescope(path: str, level: str, batches) -> tuple[float, int]:
    """Time a SessionWriter over `batches(writer, code)`: [(records, rings)]."""
    session = create_session(path, name="bench", argv=[], plan={}, level=level,
                             backend="bench")
    code = sample_code()
    writer = SessionWriter(path, session, {code: "bench"})
    todo = batches(writer, code)
    start = time.perf_counter()
    for records_, rings in todo:
        writer.write(records_, 0, rings)
    elapsed = time.perf_counter() - start
    writer.close(None)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return elapsed, size_of(path)


def cinescope_rings(path: str, n: int, batch: int) -> tuple[float, int]:
    def batches(writer, code):
        writer.ring_code(code)
        writer.ring_actor("p1")
        blob, size = ring_blob(n), RING.size
        return [([], [blob[i * size:(i + batch) * size]]) for i in range(0, n, batch)]
    return _cinescope(path, "minimal", batches)


def cinescope_records(path: str, n: int, batch: int) -> tuple[float, int]:
    def batches(writer, code):
        todo = records(n, code)
        return [(todo[i:i + batch], ()) for i in range(0, n, batch)]
    return _cinescope(path, "debug", batches)


def plain_rows(path: str, n: int, batch: int) -> tuple[float, int]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind INT, ts INT, actor INT, "
               "location INT, call INT)")
    rows = [(i, 1 + i % 2, i, 1, 1, i - i % 2) for i in range(n)]
    start = time.perf_counter()
    for i in range(0, n, batch):
        with db:
            db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?)", rows[i:i + batch])
    elapsed = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return elapsed, size_of(path)


def msgpack_blobs(path: str, n: int, batch: int) -> tuple[float, int]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, data BLOB)")
    chunk = 65536
    events = [(1 + i % 2, i, 1, 1, i - i % 2) for i in range(n)]
    start = time.perf_counter()
    for i in range(0, n, chunk):
        with db:
            db.execute("INSERT INTO chunks (data) VALUES (?)",
                       (msgpack.packb(events[i:i + chunk]),))
    elapsed = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return elapsed, size_of(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=20_000, help="records per flush")
    opts = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {opts.events} call/return events, "
          f"{opts.batch} per batch\n")
    print(f"{'store':<36} {'events/s':>12} {'ns/event':>9} {'bytes/event':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("cinescope, C rings (minimal)", cinescope_rings),
                         ("cinescope, Python records (debug)", cinescope_records),
                         ("SQLite, one plain row per event", plain_rows),
                         ("msgpack blobs of 64 K events", msgpack_blobs)):
            elapsed, size = fn(os.path.join(tmp, fn.__name__ + ".db"), opts.events,
                               opts.batch)
            print(f"{name:<36} {opts.events / elapsed:>12,.0f} "
                  f"{elapsed * 1e9 / opts.events:>9.0f} {size / opts.events:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
