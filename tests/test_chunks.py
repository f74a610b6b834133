"""Calls and returns in chunks: the C assembler and the Python reference give
the same bytes, and what they pack reads back as the events that went in."""
from __future__ import annotations

import random
from array import array

import pytest

from conftest import PROGRAMS, run_cinescope
from test_backends import _without_ids
from cinescope.capture import records as R
from cinescope.store import chunks
from cinescope.store._chunks import Assembler as CAssembler

ROW_KINDS = [R.RAISE, R.STATE, R.LINE, R.SEND, R.RECEIVE, R.SPAWN, R.EXIT]


class Program:
    """Random batches as a process's threads would produce them: nested calls
    per actor, some records lost (by actor 11), rows in between, C ring records beside
    Python ones. `expected` is what a reader must find, kept independently
    of the assembler: per event, its kind and location and the event it links
    to (the caller of a call, the call of a return)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.ts = 1_000_000
        self.open = {actor: [] for actor in (3, 7, 11)}     # actor -> [(event key, loc)]
        self.n = 0

    def batch(self):
        rng = self.rng
        recs, payloads, ring = bytearray(), [], bytearray()
        expected = []        # (key, actor, kind, loc, link key)
        for _ in range(rng.randrange(0, 400)):
            self.ts += rng.choice((1, 50, 80, 3000))    # the clock moves between events
            actor = rng.choice(list(self.open))
            stack = self.open[actor]
            key = self.n
            self.n += 1
            roll = rng.random()
            # a dropped record never reaches the writer; only actor 11 loses any,
            # so that the links of the others can be checked exactly
            lost = actor == 11 and rng.random() < 0.05
            if roll < 0.45 or not stack:
                loc = rng.randrange(1, 40)
                parent = stack[-1][0] if stack else None
                stack.append((key, loc))
                kind, link, flags = R.CALL, parent, rng.choice((0, 0, chunks.RESUMED))
            elif roll < 0.85:
                call, loc = stack.pop()
                kind, link, flags = R.RETURN, call, rng.choice((0, 0, chunks.YIELDED))
            else:
                kind = rng.choice(ROW_KINDS)
                loc = stack[-1][1] if kind != R.EXIT else 0
                if kind in (R.RAISE,):
                    stack.pop()
                if kind == R.EXIT:
                    stack.clear()
                link, flags = None, 0
            if lost:
                continue
            in_ring = kind in (R.CALL, R.RETURN) and actor != 11 and rng.random() < 0.5
            if in_ring:
                ring += chunks.RING.pack(self.ts, loc - 1, (3, 7).index(actor), kind, flags)
            else:
                payload = chunks.NONE
                if kind in (R.CALL, R.RETURN) and rng.random() < 0.5:
                    payload = len(payloads)
                    payloads.append((rng.choice((None, rng.randrange(1, 10 ** 12))),
                                     rng.choice((None, b"", rng.randbytes(rng.randrange(300))))))
                elif kind not in (R.CALL, R.RETURN):
                    payload = len(payloads)
                    payloads.append(("row", key))
                recs += chunks.WREC.pack(self.ts, loc, actor, kind, flags, 0, payload)
            expected.append((key, actor, kind, loc, link, flags))
        rings = [bytes(ring)] if ring else []
        return bytes(recs), rings, payloads, expected


RING_LOCS = array("I", range(1, 41))       # ring code index i is location i + 1
RING_ACTORS = array("I", [3, 7])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_chunk", [1, 7, 4096])
def test_c_and_python_assemblers_give_the_same_bytes(seed, max_chunk):
    program = Program(seed)
    reference, fast = chunks.Assembler(max_chunk), CAssembler(max_chunk)
    next_id = 1
    for _ in range(6):
        recs, rings, payloads, _ = program.batch()
        want = reference.assemble(recs, rings, RING_LOCS, RING_ACTORS, payloads, next_id)
        got = fast.assemble(recs, rings, RING_LOCS, RING_ACTORS, payloads, next_id)
        assert got == want
        next_id = want[2]


@pytest.mark.parametrize("seed", range(8))
def test_what_is_packed_reads_back_as_the_events_that_went_in(seed):
    """Decode every chunk, and check each event's kind, location, actor and
    link against what the program did; rows get ids and the open call."""
    program = Program(seed)
    assembler = CAssembler(50)
    next_id, by_key = 1, {}
    for _ in range(5):
        recs, rings, payloads, expected = program.batch()
        found_chunks, rows, after = assembler.assemble(recs, rings, RING_LOCS, RING_ACTORS,
                                                       payloads, next_id)
        assert after - next_id == len(expected)
        ids = {}
        for first_id, last_id, actor, ts0, ts1, count, calls, _stack, data in found_chunks:
            events = chunks.decode(data, first_id, ts0)
            assert len(events) == count and events[0][0] == first_id
            assert events[-1][0] == last_id and events[-1][2] == ts1
            assert calls == sum(1 for e in events if e[1] == R.CALL)
            for event_id, kind, _ts, loc, link, _obj, flag, _payload in events:
                ids[event_id] = ("chunk", actor, kind, loc, link, flag)
        for payload, event_id, call in rows:
            assert payloads[payload][0] == "row"
            ids[event_id] = ("row", payloads[payload][1], call)
        assert sorted(ids) == list(range(next_id, after))      # every id once, none twice
        chunk_events = [(i, v) for i, v in sorted(ids.items()) if v[0] == "chunk"]
        want = [e for e in expected if e[2] in (R.CALL, R.RETURN)]
        # one actor's events are consecutive ids, in time order
        want.sort(key=lambda e: (e[1], e[0]))
        assert [(v[1], v[2], v[3]) for _, v in chunk_events] == \
            [(e[1], e[2], e[3]) for e in want]
        for (event_id, v), e in zip(chunk_events, want):
            by_key[e[0]] = event_id
            assert v[5] == bool(e[5])
            link = e[4]
            if link is not None and e[1] != 11:
                assert v[4] == by_key[link], (e, v)
        next_id = after


def test_a_chunk_keeps_the_calls_open_when_it_starts():
    assembler = chunks.Assembler(2)
    recs = b"".join(chunks.WREC.pack(ts, loc, 5, R.CALL, 0, 0, chunks.NONE)
                    for ts, loc in ((10, 1), (20, 2), (30, 3)))
    found, _, _ = assembler.assemble(recs, [], array("I"), array("I"), [], 100)
    assert [c[0] for c in found] == [100, 102]
    assert chunks.decode_stack(found[0][7], 100) == []
    assert chunks.decode_stack(found[1][7], 102) == [(100, 1), (101, 2)]
    assert [e[4] for e in chunks.decode(found[1][8], 102, found[1][3])] == [101]


def test_bad_input_is_refused_with_a_reason():
    fast = CAssembler()
    with pytest.raises(ValueError, match="WREC"):
        fast.assemble(b"\0" * 5, [], array("I"), array("I"), [], 1)
    ring = chunks.RING.pack(1, 9, 0, R.CALL, 0)
    with pytest.raises(IndexError, match="never described"):
        fast.assemble(b"", [ring], array("I", [1]), array("I", [1]), [], 1)


@pytest.mark.parametrize("level", ["minimal", "debug"])
def test_a_program_recorded_with_the_python_assembler_reads_the_same(tmp_path, level):
    """The writer process uses the C assembler; without it (no compiler) the
    Python one does the work. Same program, both ways, same events."""
    shapes = []
    for assembler in ("c", "python"):
        store = tmp_path / f"{assembler}.db"
        proc = run_cinescope(["record", "--store", str(store), "--trace", "calls",
                              "--level", level, str(PROGRAMS / "calls.py")], cwd=tmp_path,
                             env={"CINESCOPE_ASSEMBLER": assembler})
        assert proc.returncode == 0, proc.stderr
        from cinescope.store import Store
        with Store(str(store)) as opened:
            events = opened.events()
        index = {e["id"]: i for i, e in enumerate(events)}
        shapes.append([(e["kind"], e["location"] and e["location"]["function"],
                        index.get(e["call"]), index.get(e["parent"]), _without_ids(e["data"]))
                       for e in events])
    assert len(shapes[0]) > 20
    assert shapes[0] == shapes[1]


def test_a_limit_reads_only_the_first_events_and_gives_the_same_ones(record):
    """70 threads: their chunks overlap in time. `events(limit=n)` reads the
    chunks that can hold the first n events, and must give exactly those."""
    rec = record("many_threads.py", "70", trace=["many_threads"], level="minimal")
    assert rec.returncode == 0, rec.stderr
    from cinescope.store import Store
    with Store(str(rec.store)) as s:
        everything = s.events()
        calls = s.events(kinds=["call"])
        assert len(everything) > 14000
        for n in (0, 1, 5, 150, 1000, 14000, 10 ** 6):
            assert s.events(limit=n) == everything[:n], n
            assert s.events(kinds=["call"], limit=n) == calls[:n], n
