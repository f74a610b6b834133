"""The writer process's side of the ring arena (capture/arena.py): the rings
and the description log of a recorded process, read from shared memory.

`open_arena(fd)` maps the memory file the program passed and returns a
reader: `_chunks.ArenaReader` (C, with the memory ordering the program's
side relies on), or `ArenaReader` below, the pure-Python reference (plain
loads: sound on x86-64, whose stores are seen in order).
"""
from __future__ import annotations

import mmap
import os
import struct

from ..capture.arena import HEADER, MAGIC
from ..capture.arena import SLOT_HEADER as SLOT_SIZE
from ..capture.native import native
from .chunks import RING

SLOT = struct.Struct("<3Q")     # head, tail, dropped (at the start of a slot header)


class ArenaReader:
    def __init__(self, memory):
        self.memory = memory
        magic, self.slots, self.capacity, size, _, self.log_offset, self.log_capacity, _ = \
            HEADER.unpack_from(memory, 0)
        if magic != MAGIC or size != RING.size or self.capacity & (self.capacity - 1):
            raise ValueError("not a ring arena (capture/arena.py)")
        self.records = HEADER.size + self.slots * SLOT_SIZE
        self.log_read = 0
        self.dropped_seen = [0] * self.slots

    def log(self) -> list[bytes]:
        length = HEADER.unpack_from(self.memory, 0)[7]
        out = []
        while self.log_read + 4 <= length:
            at = self.log_offset + self.log_read
            (size,) = struct.unpack_from("<I", self.memory, at)
            if self.log_read + 4 + size > length:
                break
            out.append(bytes(self.memory[at + 4:at + 4 + size]))
            self.log_read += 4 + size
        return out

    def drain(self, cutoff: int) -> tuple[bytes, int]:
        in_use = min(HEADER.unpack_from(self.memory, 0)[4], self.slots)
        cap, out, dropped = self.capacity, bytearray(), 0
        for i in range(in_use):
            at = HEADER.size + i * SLOT_SIZE
            head, tail, _ = SLOT.unpack_from(self.memory, at)
            start = head - cap if head - tail > cap else tail
            ring = self.records + i * cap * RING.size
            mark, end = len(out), start
            while end < head:
                offset = ring + (end & (cap - 1)) * RING.size
                if struct.unpack_from("<Q", self.memory, offset)[0] > cutoff:
                    break
                out += self.memory[offset:offset + RING.size]
                end += 1
            head2, _, program_dropped = SLOT.unpack_from(self.memory, at)
            valid = head2 - cap if head2 > cap else 0
            if valid > start:           # overwritten while copied: not kept
                del out[mark:mark + (min(valid, end) - start) * RING.size]
            new_tail = max(end, valid)
            dropped += new_tail - tail - (len(out) - mark) // RING.size
            struct.pack_into("<Q", self.memory, at + 8, new_tail)
            dropped += program_dropped - self.dropped_seen[i]
            self.dropped_seen[i] = program_dropped
        return bytes(out), dropped

    def release(self) -> None:
        pass


def open_arena(fd: int, use_c: bool = True):
    """(reader, mmap) of the arena whose memory file is `fd`."""
    memory = mmap.mmap(fd, 0)
    os.close(fd)
    reader = native("cinescope.store._chunks", "ArenaReader", "CINESCOPE_ASSEMBLER") \
        if use_c else None
    return (reader or ArenaReader)(memory), memory
