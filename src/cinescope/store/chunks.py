"""Call and return events in chunks: the store's compact layout for the bulk.

Calls and returns are most of a recording. One SQLite row each costs about
80 bytes and a microsecond; a chunk holds up to CHUNK_EVENTS of one actor's
calls and returns, a few bytes each, in one row of the `chunks` table.

The `Assembler` turns one batch of a process's events into chunks and rows:
it orders the events by actor and time, gives each its id (one actor's
events of a batch get consecutive ids, so chunks never overlap in ids and
one lookup finds the chunk of an id), links each to its call with a stack
per actor, and packs the calls and returns. The other kinds (raise, state,
line, send, receive, spawn, exit) stay rows of `events`; the assembler gives
them their id and the call they belong to.

Input, per batch:

- `recs`: bytes of WREC records, one per event the Python side recorded;
- `rings`: blobs of the C rings (capture/_hot.c, RING records) whose code and
  actor indexes `ring_locs` and `ring_actors` (arrays of u32) translate to
  location and actor ids;
- `payloads`: for a WREC's `payload` index, (object id, msgpack data) of a
  call or return, or anything the caller wants back for a row.

A chunk's `data`: per event, a tag byte (bits 0-1: 0 call, 1 return; bit 2:
resumed call or yielding return; bit 3: an object id follows; bit 4:
msgpack data follows), then varints: id minus the previous id (the first
minus `first_id`), ts minus the previous ts (the first minus `ts0`), the
location id (0: none), the link (a call: id minus its caller's call; a
return: id minus its call; 0: none), [object id], [data length, data]. A
chunk's `stack`: the calls open when it starts, outermost first, as varints
(count, then first_id minus call id and location per call).

`_chunks.c` is the same assembler in C; tests hold the two to the same bytes.
`new_assembler()` gives the C one when it was built, unless the environment
says CINESCOPE_ASSEMBLER=python.
"""
from __future__ import annotations

import struct

from ..capture import records as R
from ..capture.native import native

CHUNK_EVENTS = 4096
NONE = 0xFFFFFFFF                          # a WREC without payload
WREC = struct.Struct("<QIIBBHI")           # ts, loc, actor, kind, flags, pad, payload
RING = struct.Struct("<QIIBB6x")           # capture/_hot.c's Record: ts, code, actor, kind, flags
RESUMED, YIELDED = 1, 2                    # flags of a call, of a return
_T_RETURN, _T_FLAG, _T_OBJECT, _T_DATA = 1, 4, 8, 16


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_varint(data, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


class Assembler:
    """Pure-Python assembler: the reference for _chunks.Assembler."""

    def __init__(self, max_chunk: int = CHUNK_EVENTS):
        self.max_chunk = max_chunk
        self.stacks: dict[int, list[list[int]]] = {}   # actor -> [[call id, location], ...]

    def assemble(self, recs: bytes, rings, ring_locs, ring_actors, payloads: list,
                 next_id: int) -> tuple[list[tuple], list[tuple], int]:
        """Returns (chunks, rows, next id). A chunk is (first_id, last_id, actor,
        ts0, ts1, count, calls, stack, data); a row is (payload, id, call)."""
        events = [(actor, ts, seq, loc, kind, flags, payload) for seq, (
            ts, loc, actor, kind, flags, _, payload) in enumerate(WREC.iter_unpack(recs))]
        seq = len(events)
        for blob in rings:
            for ts, code, actor, kind, flags in RING.iter_unpack(blob):
                events.append((ring_actors[actor], ts, seq, ring_locs[code], kind, flags, NONE))
                seq += 1
        events.sort()
        chunks, rows = [], []
        chunk = None
        for actor, ts, _, loc, kind, flags, payload in events:
            event_id = next_id
            next_id += 1
            stack = self.stacks.get(actor)
            if stack is None:
                stack = self.stacks[actor] = []
            if kind == R.CALL or kind == R.RETURN:
                if chunk is None or chunk.actor != actor or chunk.count == self.max_chunk:
                    if chunk is not None:
                        chunks.append(chunk.done())
                    chunk = _Chunk(actor, event_id, ts, stack)
                if kind == R.CALL:
                    link = event_id - stack[-1][0] if stack else 0
                    stack.append([event_id, loc])
                else:
                    call = _pop(stack, loc)
                    link = event_id - call if call else 0
                chunk.add(event_id, ts, kind, flags, loc, link,
                          payloads[payload] if payload != NONE else None)
                continue
            if kind == R.RAISE:
                call = _pop(stack, loc)
            elif kind == R.STATE or kind == R.LINE:
                call = _find(stack, loc) if loc else (stack[-1][0] if stack else 0)
            elif kind == R.EXIT:
                call = 0
                stack.clear()
            else:                       # send, receive, spawn: in the current call
                call = stack[-1][0] if stack else 0
            rows.append((payload, event_id, call or None))
        if chunk is not None:
            chunks.append(chunk.done())
        return chunks, rows, next_id


def new_assembler(max_chunk: int = CHUNK_EVENTS):
    assembler = native("cinescope.store._chunks", "Assembler", "CINESCOPE_ASSEMBLER")
    return (assembler or Assembler)(max_chunk)


class _Chunk:
    __slots__ = ("actor", "first_id", "last_id", "ts0", "ts1", "count", "calls", "stack",
                 "data")

    def __init__(self, actor: int, first_id: int, ts0: int, stack: list):
        self.actor, self.first_id, self.last_id = actor, first_id, first_id
        self.ts0 = self.ts1 = ts0
        self.count = self.calls = 0
        self.stack = bytearray()
        _varint(self.stack, len(stack))
        for call, loc in stack:
            _varint(self.stack, first_id - call)
            _varint(self.stack, loc)
        self.data = bytearray()

    def add(self, event_id, ts, kind, flags, loc, link, payload) -> None:
        obj, data = payload if payload is not None else (None, None)
        if kind == R.CALL:
            tag = _T_FLAG if flags & RESUMED else 0
            self.calls += 1
        else:
            tag = _T_RETURN | (_T_FLAG if flags & YIELDED else 0)
        if obj is not None:
            tag |= _T_OBJECT
        if data is not None:
            tag |= _T_DATA
        out = self.data
        out.append(tag)
        _varint(out, event_id - self.last_id)
        _varint(out, ts - self.ts1)
        _varint(out, loc)
        _varint(out, link)
        if obj is not None:
            _varint(out, obj)
        if data is not None:
            _varint(out, len(data))
            out += data
        self.last_id, self.ts1 = event_id, ts
        self.count += 1

    def done(self) -> tuple:
        return (self.first_id, self.last_id, self.actor, self.ts0, self.ts1, self.count,
                self.calls, bytes(self.stack), bytes(self.data))


def _pop(stack: list, loc: int) -> int:
    """Pop the call of `loc` (and any left open above it by dropped records)."""
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][1] == loc:
            call = stack[i][0]
            del stack[i:]
            return call
    return 0


def _find(stack: list, loc: int) -> int:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][1] == loc:
            return stack[i][0]
    return 0


def decode(data: bytes, first_id: int, ts0: int, count: int | None = None) -> list[tuple]:
    """A chunk's events: (id, kind, ts, location, link, object, flag, data)
    with `link` the caller's call (a call) or the call (a return), or None.
    ValueError or IndexError when `data` is not a whole chunk of `count` events."""
    out = []
    event_id, ts, pos, end = first_id, ts0, 0, len(data)
    while pos < end:
        tag = data[pos]
        delta, pos = _read_varint(data, pos + 1)
        event_id += delta
        delta, pos = _read_varint(data, pos)
        ts += delta
        loc, pos = _read_varint(data, pos)
        link, pos = _read_varint(data, pos)
        obj = payload = None
        if tag & _T_OBJECT:
            obj, pos = _read_varint(data, pos)
        if tag & _T_DATA:
            size, pos = _read_varint(data, pos)
            payload = bytes(data[pos:pos + size])
            pos += size
        out.append((event_id, R.RETURN if tag & _T_RETURN else R.CALL, ts, loc or None,
                    event_id - link if link else None, obj, bool(tag & _T_FLAG), payload))
        if pos > end:
            raise ValueError("the last event is cut short")
    if count is not None and len(out) != count:
        raise ValueError(f"{len(out)} events where the chunk says {count}")
    return out


def decode_stack(blob: bytes, first_id: int) -> list[tuple[int, int]]:
    """The calls open when a chunk starts: [(call id, location id)], outermost first."""
    count, pos = _read_varint(blob, 0)
    out = []
    for _ in range(count):
        delta, pos = _read_varint(blob, pos)
        loc, pos = _read_varint(blob, pos)
        out.append((first_id - delta, loc))
    return out
