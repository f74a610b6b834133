"""The ring arena, the memory a recorded process shares with its writer: the
C reader and the pure-Python one read the same records, and count the same
losses, as the program leaves them."""
from __future__ import annotations

import os
import struct

import pytest

from conftest import PROGRAMS, run_cinescope
from cinescope.capture.arena import Arena
from cinescope.store import Store
from cinescope.store._chunks import ArenaReader as CReader
from cinescope.store.chunks import RING
from cinescope.store.rings import HEADER, SLOT_SIZE, ArenaReader

ALL = 2 ** 64 - 1


def write_ring(arena: Arena, slot: int, records: int, first_ts: int = 1000,
               dropped: int = 0) -> None:
    """What the program does: records, then the head; `records` may exceed the
    capacity (the oldest are overwritten)."""
    memory, cap = arena.memory, arena.capacity
    base = HEADER.size + arena.slots * SLOT_SIZE + slot * cap * RING.size
    for n in range(records):
        RING.pack_into(memory, base + (n % cap) * RING.size, first_ts + n, n % 7, slot, 1, 0)
    at = HEADER.size + slot * SLOT_SIZE
    struct.pack_into("<Q", memory, at, records)
    struct.pack_into("<Q", memory, at + 16, dropped)
    in_use = HEADER.unpack_from(memory, 0)[4]
    struct.pack_into("<Q", memory, 32, max(in_use, slot + 1))


def log(arena: Arena, *entries: bytes) -> None:
    fields = list(HEADER.unpack_from(arena.memory, 0))
    at = fields[5] + fields[7]
    for entry in entries:
        struct.pack_into("<I", arena.memory, at, len(entry))
        arena.memory[at + 4:at + 4 + len(entry)] = entry
        at += 4 + len(entry)
    fields[7] = at - fields[5]
    HEADER.pack_into(arena.memory, 0, *fields)


@pytest.fixture
def arena():
    made = Arena.create(16, slots=3)
    yield made
    made.close()


@pytest.mark.parametrize("reader", [CReader, ArenaReader])
def test_records_up_to_a_cutoff_then_the_rest(arena, reader):
    write_ring(arena, 0, 10)
    r = reader(arena.memory)
    blob, lost = r.drain(1005)
    assert [rec[0] for rec in RING.iter_unpack(blob)] == list(range(1000, 1006))
    assert lost == 0
    blob, lost = r.drain(ALL)
    assert [rec[0] for rec in RING.iter_unpack(blob)] == list(range(1006, 1010))
    assert r.drain(ALL) == (b"", 0)
    r.release()


@pytest.mark.parametrize("reader", [CReader, ArenaReader])
def test_overwritten_and_unwritten_records_are_counted(arena, reader):
    write_ring(arena, 0, 40)                  # 16 kept, the 24 oldest overwritten
    write_ring(arena, 1, 3, first_ts=5000, dropped=5)   # 5 the program did not write
    r = reader(arena.memory)
    blob, lost = r.drain(ALL)
    stamps = [rec[0] for rec in RING.iter_unpack(blob)]
    assert stamps == list(range(1024, 1040)) + [5000, 5001, 5002]
    assert lost == 24 + 5
    assert r.drain(ALL) == (b"", 0)           # counted once
    r.release()


@pytest.mark.parametrize("reader", [CReader, ArenaReader])
def test_the_description_log_is_read_once_in_order(arena, reader):
    r = reader(arena.memory)
    assert r.log() == []
    log(arena, b"first", b"")
    assert r.log() == [b"first", b""]
    log(arena, b"third")
    assert r.log() == [b"third"]
    r.release()


@pytest.mark.parametrize("reader", [CReader, ArenaReader])
def test_not_an_arena_is_refused(reader):
    with pytest.raises(ValueError, match="not a ring arena"):
        reader(bytearray(4096))


# the C rings: sys.monitoring's on 3.12+, the C profile hook's on 3.11
def test_threads_beyond_the_arena_slots_use_private_rings(tmp_path):
    """70 threads, 64 slots: the last threads' rings are private, drained by
    the flusher; every call of every thread is recorded either way."""
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "many_threads",
                          "--level", "minimal", str(PROGRAMS / "many_threads.py"), "70"],
                         cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    with Store(str(store)) as s:
        calls = [e for e in s.events(kinds=["call"])
                 if e["location"]["function"] == "work"]
        session = s.session()
    assert len(calls) == 70 * 100
    assert len({c["actor"] for c in calls}) == 70
    assert session["events_dropped"] == 0

def test_a_forked_child_records_into_its_own_arena(tmp_path):
    """The child leaves with os._exit, its flusher never runs: its writer
    reads the child's own arena, and the parent's is the parent's."""
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "forked_minimal",
                          "--level", "minimal", str(PROGRAMS / "forked_minimal.py")],
                         cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Store(str(store)) as s:
        events = s.events(kinds=["call"])
        actors = {a["id"]: a for a in s.actors()}
    by_pid = {}
    for e in events:
        if e["location"]["function"] == "work":
            by_pid.setdefault(actors[e["actor"]]["pid"], []).append(e)
    assert sorted(len(v) for v in by_pid.values()) == [300, 500]
    assert os.getpid() not in by_pid
