"""Per-thread record buffers and the overflow policy.

Each thread of the recorded program appends records to its own buffer; one
flusher drains them all. Appends and pops on a deque are atomic, so the two
sides never lock each other. When a buffer is full the policy decides:

- ``drop_oldest``: the oldest record in the buffer makes room (default);
- ``drop_newest``: the new record is not kept;
- ``block``: the thread waits until the flusher has made room (or is gone).

A thread that releases the GIL often (an event loop polling between tasks)
takes it back before a waiting thread runs, so the woken flusher may wait
for it for as long as the program runs. A buffer that reaches half full
(and again three quarters) more than STARVED after the wake therefore lets
the flusher in: the writing thread sleeps NUDGE seconds at a time until the
flusher has started draining (at most NUDGES times).

Every dropped record is counted; the flusher reports the count to the store.
Only events are ever dropped: the records that describe actors and objects go
to a second queue of the buffer that has no limit (there are few of them), so
that what was kept can always be read.
"""
from __future__ import annotations

import threading
import time
from collections import deque

NUDGE = 0.0001          # seconds the writing thread steps aside for a starved flusher
STARVED = 1_000_000     # ns after a wake: the flusher is starved if it has not drained
NUDGES = 50             # at most this many NUDGEs, until the flusher has drained


class ThreadBuffer:
    __slots__ = ("records", "meta", "capacity", "policy", "dropped", "owner", "_wake",
                 "woken_at")

    def __init__(self, capacity: int, policy: str, owner: "BufferSet"):
        self.records: deque = deque()
        self.meta: deque = deque()      # records that describe (actors, objects): never dropped
        self.capacity = capacity
        self.policy = policy
        self.dropped = 0
        self.woken_at = 0
        self.owner = owner
        self._wake = owner.wake

    def push(self, record: tuple) -> None:
        if self.owner.idle:      # the flusher sleeps until a record comes
            self.owner.idle = False
            self._wake()
        records = self.records
        size = len(records)
        if size >= self.capacity:
            if not self._make_room():
                self.dropped += 1
                return
        elif size == self.capacity >> 2:
            self._wake()     # a quarter full: have the flusher come before it is full
            self.woken_at = record[1]
        elif (size == self.capacity >> 1 or size == (self.capacity >> 2) * 3) \
                and record[1] - self.woken_at >= STARVED:
            self._wake()     # woken a while ago, not drained: the flusher is starved
            for _ in range(NUDGES):
                time.sleep(NUDGE)
                if len(records) < size:
                    break
        records.append(record)

    def _make_room(self) -> bool:
        """True when the record may now be appended."""
        if self.policy == "drop_oldest":
            try:
                self.records.popleft()
                self.dropped += 1
            except IndexError:
                pass
            return True
        if self.policy == "block":
            self._wake()
            while len(self.records) >= self.capacity and self.owner.draining:
                time.sleep(0.0005)
            return len(self.records) < self.capacity
        return False


class BufferSet:
    """All the thread buffers of one process."""

    def __init__(self, capacity: int, policy: str):
        self.capacity = capacity
        self.policy = policy
        self._buffers: list[ThreadBuffer] = []
        self._lock = threading.Lock()
        self.wake = lambda: None  # set by the flusher
        self.draining = True      # False once no flusher will empty the buffers
        self.idle = False         # the flusher sleeps until a record wakes it
        self._dropped_reported = 0
        self._written = 0
        # other places records wait in (the C rings): drain_raw(cutoff) -> bytes,
        # take_dropped(); their records go to the sink as they are
        self.sources: list = []

    def new_buffer(self) -> ThreadBuffer:
        buf = ThreadBuffer(self.capacity, self.policy, self)
        with self._lock:
            self._buffers.append(buf)
        return buf

    def drain(self, cutoff: int | None = None) -> tuple[list[tuple], list]:
        """Take the records written at or before `cutoff` (all, if None), oldest
        first within each thread; the records that describe, all of them. One
        cutoff for every buffer and ring, so that no record written before
        another is left for the next batch while the other goes in this one.
        Returns (records, [(source, raw bytes), ...])."""
        with self._lock:
            buffers = list(self._buffers)
        out: list[tuple] = []
        for buf in buffers:
            pop = buf.meta.popleft
            for _ in range(len(buf.meta)):
                out.append(pop())
            records = buf.records
            pop = records.popleft
            if cutoff is None:
                for _ in range(len(records)):
                    out.append(pop())
            else:
                while records and records[0][1] <= cutoff:
                    out.append(pop())
        raw = [(source, source.drain_raw(cutoff if cutoff is not None else 2 ** 64 - 1))
               for source in self.sources]
        return out, [(source, blob) for source, blob in raw if blob]

    def set_idle(self, idle: bool) -> None:
        """The flusher sleeps until the next record (True) or wakes on its
        timer again (False); the first record to see `idle` wakes it."""
        self.idle = idle
        for source in self.sources:
            source.set_idle(idle)

    def arena_moved(self) -> bool:
        """Records were written into a shared ring since the last call (the
        writer reads them itself, but only up to a cutoff the flusher sends)."""
        written = sum(source.written() for source in self.sources)
        moved, self._written = written != self._written, written
        return moved

    def take_dropped(self) -> int:
        """Records dropped since the last call."""
        with self._lock:
            total = sum(b.dropped for b in self._buffers)
        new = total - self._dropped_reported
        self._dropped_reported = total
        return new + sum(source.take_dropped() for source in self.sources)

    def reset_after_fork(self, keep: ThreadBuffer | None) -> None:
        """In a forked child: the parent's records are the parent's to write."""
        self._lock = threading.Lock()   # another thread may have held it at the fork
        with self._lock:
            self._buffers = [keep] if keep is not None else []
        self._dropped_reported = 0
        self._written = 0
        self.idle = False
        if keep is not None:
            keep.records.clear()
            keep.meta.clear()
            keep.dropped = 0

    @property
    def pending(self) -> int:
        return sum(len(b.records) for b in self._buffers)
