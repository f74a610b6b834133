"""The ring arena: the C rings in memory shared with the writer process.

A recorded process writes its level-minimal calls and returns into per-thread
rings (capture/_hot.c). When the rings live in an arena, a memory file
(memfd) mapped by the program and by its writer process, the writer reads
them itself: a killed program loses nothing it wrote there. What the rings'
code and actor indexes stand for goes into the arena's description log, so
that the writer can read a killed program's last records too.

Layout (little-endian; store/_chunks.c reads it, capture/_hot.c writes it):

    header (64 bytes): magic, slots, capacity, record size, slots in use,
                       log offset, log capacity, log length (u64 each)
    slot headers (64 bytes each): head (written by the program), tail
                       (written by the writer), dropped (by the program)
    records: slots x capacity x 24 bytes
    log: entries of u32 size + msgpack, `log length` bytes of them in use

The program publishes a record by storing its slot's head after the record
(release), the writer a drain by storing the tail; a ring that overflows with
drop_oldest is overwritten, and the writer counts what it lost. Threads
beyond `slots` get private rings, drained by the flusher as without an arena.
"""
from __future__ import annotations

import mmap
import os
import struct

MAGIC = int.from_bytes(b"CSRING01", "little")
HEADER = struct.Struct("<8Q")
SLOT_HEADER = 64
RECORD = 24
SLOTS = 64
LOG_BYTES = 16 << 20


class Arena:
    """One process's arena: the memory file and its mapping."""

    def __init__(self, fd: int, memory: mmap.mmap, slots: int, capacity: int):
        self.fd = fd
        self.memory = memory
        self.slots = slots
        self.capacity = capacity

    @classmethod
    def create(cls, capacity: int, slots: int = SLOTS) -> "Arena | None":
        """A new arena, or None where memory files are not available."""
        if not hasattr(os, "memfd_create"):
            return None
        size = 16
        while size < capacity:          # the rings' capacity is a power of two
            size <<= 1
        capacity = size
        records = HEADER.size + slots * SLOT_HEADER
        log = records + slots * capacity * RECORD
        total = log + LOG_BYTES
        try:
            fd = os.memfd_create("cinescope-rings", os.MFD_CLOEXEC)
        except OSError:
            return None
        try:
            os.ftruncate(fd, total)
            memory = mmap.mmap(fd, total)
        except OSError:
            os.close(fd)
            return None
        HEADER.pack_into(memory, 0, MAGIC, slots, capacity, RECORD, 0, log, LOG_BYTES, 0)
        return cls(fd, memory, slots, capacity)

    def close(self) -> None:
        """The program's side: unmap and close (the writer keeps its own)."""
        try:
            self.memory.close()
        except (BufferError, ValueError):
            pass                # a Hot still holds it; it goes with the Hot
        try:
            os.close(self.fd)
        except OSError:
            pass
