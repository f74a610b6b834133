"""The flusher: a thread that moves records from the thread buffers to a sink.

It wakes every `interval` seconds while the program records (so a killed
program loses at most that much of what waits in the Python buffers), when a
buffer or ring fills up, and once more when recording stops. When a wake
finds nothing to write it sleeps until the next record wakes it. The sink does the
expensive part (correlating, packing, writing) on this thread, never on the
program's. A sink is any object with ``write(records, dropped, raw, cutoff,
sources)`` (raw: [(source, bytes)] from the C rings' private rings; cutoff:
the time every record of the batch is at or before, None for all; sources:
the rings, whose arena the sink may read up to the cutoff, see
store/pipe.py) and ``close(session_end)``.
"""
from __future__ import annotations

import threading
import time

FLUSH_INTERVAL = 0.05


class Flusher(threading.Thread):
    cinescope_internal = True   # never recorded as an actor of the program
    # debugpy (pydevd) neither shows nor traces threads marked like its own
    is_pydev_daemon_thread = True
    pydev_do_not_trace = True

    def __init__(self, buffers, sink, on_error, interval: float = FLUSH_INTERVAL):
        super().__init__(name="cinescope-flusher", daemon=True)
        self.buffers = buffers
        self.sink = sink
        self.on_error = on_error
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._io = threading.Lock()   # held while writing; a fork waits for it
        self.last_cutoff = None
        buffers.wake = self._wake.set
        buffers.draining = True

    def run(self) -> None:
        idle = False
        while not self._stopping:
            self._wake.wait(None if idle else self.interval)
            self._wake.clear()
            if self._stopping:
                break
            wrote = self.flush()
            if not wrote:
                # nothing recorded: sleep until the next record wakes us. Each
                # timed wake takes the GIL from the program, and on an idle
                # second core that handoff is slow (8 % of an asyncio program
                # on 3.13 with a one-function plan, at 20 wakes a second)
                self.buffers.set_idle(True)
                wrote = self.flush()        # what came before the flag was seen
                if wrote:
                    self.buffers.set_idle(False)
            idle = not wrote

    def flush(self, final: bool = False, sync: bool = False) -> bool:
        """Write what waits; True when there was anything. With `sync`, send
        the batch even when empty: its cutoff tells the store that everything
        up to then is written (see `sync`)."""
        with self._io:
            cutoff = None if final else time.monotonic_ns()
            records, raw = self.buffers.drain(cutoff)
            dropped = self.buffers.take_dropped()
            if not (records or raw or dropped or sync or self.buffers.arena_moved()):
                return False
            self.last_cutoff = cutoff
            try:
                self.sink.write(records, dropped, raw, cutoff, self.buffers.sources)
            except Exception as exc:
                self.buffers.draining = False
                self.on_error(exc)
            return True

    def sync(self) -> int:
        """Write everything recorded up to now, from any thread (a debugger
        stopped in the program calls it); returns the cutoff, which the writer
        stores once that batch is in (store: table synced)."""
        self.flush(sync=True)
        return self.last_cutoff

    def stop(self, session_end: dict | None) -> None:
        """Write what is left and close the sink (from any thread, once)."""
        self._stopping = True
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
        self.flush(final=True)
        self.buffers.draining = False
        with self._io:
            try:
                self.sink.close(session_end)
            except Exception as exc:
                self.on_error(exc)

    # fork safety: the child must not inherit a half-written transaction
    def hold(self) -> None:
        self._io.acquire()

    def release(self) -> None:
        try:
            self._io.release()
        except RuntimeError:
            pass
