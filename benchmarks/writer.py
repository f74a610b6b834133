"""How fast the store takes events, and how big they are.

    python benchmarks/writer.py [--events N] [--batch N]

Feeds the session writer batches of call/return records (level minimal: no
values) as the flusher would, and prints events per second and bytes per
event in the store, indexes included, beside the two reference points the
issue gives: SQLite with one plain row per event, and msgpack blobs of 64 K
events.
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
from cinescope.store.writer import SessionWriter, create_session


def sample_code():
    def work(n):
        return n
    return work.__code__


def records(n: int, code) -> list[tuple]:
    out, ts = [], time.monotonic_ns()
    for i in range(n // 2):
        out.append((R.CALL, ts + 2 * i, "p1", code, None, None, False))
        out.append((R.RETURN, ts + 2 * i + 1, "p1", code, R.NO_VALUE, False))
    return out


def size_of(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def cinescope_writer(path: str, n: int, batch: int) -> tuple[float, int]:
    session = create_session(path, name="bench", argv=[], plan={}, level="minimal",
                             backend="bench")
    code = sample_code()
    writer = SessionWriter(path, session, {code: "bench"})
    todo = records(n, code)
    start = time.perf_counter()
    for i in range(0, n, batch):
        writer.write(todo[i:i + batch], 0)
    elapsed = time.perf_counter() - start
    writer.close(None)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return elapsed, size_of(path)


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
    print(f"{'store':<34} {'events/s':>12} {'ns/event':>9} {'bytes/event':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("cinescope session writer", cinescope_writer),
                         ("SQLite, one plain row per event", plain_rows),
                         ("msgpack blobs of 64 K events", msgpack_blobs)):
            elapsed, size = fn(os.path.join(tmp, name.split()[0] + ".db"), opts.events,
                               opts.batch)
            print(f"{name:<34} {opts.events / elapsed:>12,.0f} "
                  f"{elapsed * 1e9 / opts.events:>9.0f} {size / opts.events:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
