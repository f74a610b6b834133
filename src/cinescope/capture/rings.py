"""The C rings of a recording (capture/_hot.c), whichever backend feeds them.

`Rings` builds the `_hot.Hot` that owns the per-thread rings, with the
Python it calls back: the actor of a thread or asyncio task, and (for the
sys.monitoring backend) the plan's verdict on a code object and the handlers
of non-minimal code. A code object recorded in the rings gets an index
(`register`); its description goes to the arena's log (capture/arena.py) or,
without one, through the flusher (`RingSource`).
"""
from __future__ import annotations

import asyncio
import sys

import msgpack


class Rings:
    def __init__(self, rec, decide=None, disable=None, on_call=None, on_resume=None,
                 on_return=None, on_yield=None):
        from . import _hot
        self.rec = rec
        self.modes: dict = {}       # code -> index << 2 | mode (1: C, 2: Python)
        self.codes: list = []
        actors: list = []
        actor_index: dict = {}
        self.source = source = RingSource(None, self.codes, actors, rec.modules)

        def index_of(key):
            index = actor_index.get(key)
            if index is None:
                index = actor_index[key] = len(actors)
                actors.append(key)
                source.logged("actor", index, key)
            return index

        def thread_actor():
            try:
                return index_of(rec.thread_state().actor)
            except Exception as exc:   # recording stops; the record goes to the process
                rec._fail(exc)
                return index_of(rec.process_actor)

        def task_actor(task):
            try:
                key = rec.actors.task_keys.get(task)
                if key is None:
                    key = rec.actors.adopt_task(task, rec.thread_state())
                return index_of(key)
            except Exception as exc:
                rec._fail(exc)
                return index_of(rec.process_actor)

        self.hot = _hot.Hot(
            modes=self.modes, codes=self.codes, actors=actors, decide=decide,
            on_call=on_call, on_resume=on_resume, on_return=on_return, on_yield=on_yield,
            thread_actor=thread_actor, task_actor=task_actor,
            get_running_loop=asyncio.events._get_running_loop,
            current_task=asyncio.current_task, disable=disable,
            wake=lambda: rec.buffers.wake(), capacity=rec.plan.buffer_size,
            policy=("drop_oldest", "drop_newest", "block").index(rec.plan.overflow),
            arena=rec.arena.memory if rec.arena is not None else None)
        source.attach(self.hot)
        rec.buffers.sources.append(source)
        self._watch_loops()

    def _watch_loops(self) -> None:
        """Tell the C side when an asyncio loop starts or stops running in a
        thread, so that it asks asyncio for the running task only there.
        asyncio's loops announce themselves through events._set_running_loop,
        looked up when they run; uvloop binds its own copy when imported, so
        with uvloop already imported the C side asks on every event."""
        hot, original = self.hot, asyncio.events._set_running_loop
        if "uvloop" in sys.modules:
            hot.loops_unseen(True)

        def set_running_loop(loop):
            original(loop)
            try:
                hot.loop_running(loop is not None)
            except Exception:
                hot.loops_unseen(True)
        for owner in (asyncio.events, asyncio):
            if owner.__dict__.get("_set_running_loop") is original:
                self.rec.patch(owner, "_set_running_loop", set_running_loop)

    def register(self, code, mode: int) -> int:
        """Give a planned code object its index and mode (1: its calls and returns
        go into the rings; 2: the Python handlers record it)."""
        codes = self.codes
        self.modes[code] = len(codes) << 2 | mode
        codes.append(code)
        self.source.logged("code", len(codes) - 1, (code.co_filename, code.co_firstlineno,
                                                     code.co_qualname,
                                                     self.rec.modules.get(code, "?")))
        return self.modes[code]

    @staticmethod
    def after_fork(rec, hot) -> None:
        arena = rec.arena
        hot.reset(arena.memory if arena is not None else None)
        for source in rec.buffers.sources:
            if isinstance(source, RingSource):
                source.after_fork(arena is not None)


class RingSource:
    """The C rings as the flusher sees them: raw records of the private rings,
    and the code objects and actor keys their indexes stand for (both lists
    only ever grow; the writer process decodes the records, see
    store/writer_process.py). With an arena (capture/arena.py) the writer
    reads the shared rings itself, and the first `codes_logged` code and
    `actors_logged` actor indexes from the arena's description log; the
    flusher only tells it how far to read (`written`)."""

    def __init__(self, hot, codes: list, actors: list, modules: dict):
        self.codes = codes
        self.actors = actors
        self.modules = modules
        self.codes_logged = self.actors_logged = 0
        self._logging = True
        if hot is not None:
            self.attach(hot)

    def attach(self, hot) -> None:
        self.hot = hot
        self.drain_raw = hot.drain_raw
        self.take_dropped = hot.take_dropped
        self.written = hot.written
        self.set_idle = hot.set_idle

    def logged(self, what: str, index: int, description) -> None:
        """Describe an index in the arena's log while it takes them (in order)."""
        if not self._logging:
            return
        entry = msgpack.packb((what, index, description), use_bin_type=True)
        if self.hot.describe(entry):
            if what == "code":
                self.codes_logged = index + 1
            else:
                self.actors_logged = index + 1
        else:
            self._logging = False     # full, or no arena: the rest goes by pipe

    def after_fork(self, arena: bool) -> None:
        """A forked child starts a new arena, log and writer, with the lists as
        they are: describe them all again, to the new log while it takes them."""
        self.codes_logged = self.actors_logged = 0
        self._logging = arena
        for index, code in enumerate(self.codes):
            self.logged("code", index, (code.co_filename, code.co_firstlineno,
                                        code.co_qualname, self.modules.get(code, "?")))
        for index, key in enumerate(self.actors):
            self.logged("actor", index, key)
