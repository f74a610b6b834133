"""Messages: sends and receives on queues and pipes, paired by message id.

Hooked channels: ``queue.Queue`` / ``LifoQueue`` / ``PriorityQueue``,
``asyncio.Queue`` / ``LifoQueue`` / ``PriorityQueue``, and
``multiprocessing``'s ``Queue``, ``JoinableQueue``, ``SimpleQueue`` and
``Pipe`` connections. (``queue.SimpleQueue`` is written in C and cannot be
hooked.)

In one process, a message id rides beside the item: the queue's own storage
is untouched, and a per-queue table maps the identity of each item still in
the queue to its message id. Across processes the id travels inside the
pickle: the item is wrapped in a `_Tagged` whose unpickling yields the item
itself and notes the id for the receiving side, so a receiver sees exactly
the object it would have seen without Cinescope.

A send is recorded when the code that sends is planned at level debug or
more; a receive when the code that receives is, or when its message's send
was recorded. The hooks are installed the first time planned code names a
channel operation (put, get, send, recv...), so that a plan that never
touches a channel costs nothing on the program's queues.
"""
from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
import weakref
from collections import deque
from multiprocessing import connection as mp_connection
from multiprocessing import queues as mp_queues

from . import records as R

_monotonic_ns = time.monotonic_ns
_received = threading.local()   # message id noted while unpickling, per thread


def _untag(message_id, obj):
    _received.message = message_id
    return obj


class _Tagged:
    __slots__ = ("message_id", "obj")

    def __init__(self, message_id: int, obj):
        self.message_id = message_id
        self.obj = obj

    def __reduce__(self):
        return _untag, (self.message_id, self.obj)


class Channels:
    def __init__(self, rec):
        self.rec = rec
        self._pending: dict[int, dict[int, deque]] = {}  # id(queue) -> id(item) -> message ids
        self.installed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        """Hook the channels (once), when planned code first names a channel
        operation: a program whose planned code never does pays nothing."""
        with self._lock:
            if self.installed:
                return
            self.installed = True
            self._install()

    def _install(self) -> None:
        rec = self.rec
        for cls in (queue.Queue, queue.LifoQueue, queue.PriorityQueue,
                    asyncio.Queue, asyncio.LifoQueue, asyncio.PriorityQueue):
            if "_put" in cls.__dict__:
                rec.patch(cls, "_put", self._local_put(cls.__dict__["_put"]))
            if "_get" in cls.__dict__:
                rec.patch(cls, "_get", self._local_get(cls.__dict__["_get"]))
        for cls in (mp_queues.Queue, mp_queues.JoinableQueue, mp_queues.SimpleQueue):
            if "put" in cls.__dict__:
                rec.patch(cls, "put", self._remote_send(cls.__dict__["put"]))
            if "get" in cls.__dict__:
                rec.patch(cls, "get", self._remote_receive(cls.__dict__["get"]))
        base = mp_connection._ConnectionBase   # Connection and PipeConnection share it
        rec.patch(base, "send", self._remote_send(base.send))
        rec.patch(base, "recv", self._remote_receive(base.recv))

    # -- in one process --------------------------------------------------------
    def _local_put(self, original):
        channels = self

        def _put(q, item):
            original(q, item)
            if channels.rec.active:
                try:
                    channels._sent_local(q, item, sys._getframe(1))
                except Exception as exc:
                    channels.rec._fail(exc)
        return _put

    def _local_get(self, original):
        channels = self

        def _get(q):
            item = original(q)
            if channels.rec.active:
                try:
                    channels._received_local(q, item, sys._getframe(1))
                except Exception as exc:
                    channels.rec._fail(exc)
            return item
        return _get

    def _sent_local(self, q, item, frame) -> None:
        rec = self.rec
        site = rec.site(frame)
        if not site[2]:
            return
        message_id = rec.next_message_id()
        pending = self._pending.get(id(q))
        if pending is None:
            pending = self._pending[id(q)] = {}
            try:
                weakref.finalize(q, self._pending.pop, id(q), None)
            except TypeError:
                pass
        pending.setdefault(id(item), deque()).append(message_id)
        self._record(R.SEND, q, item, site, message_id)

    def _received_local(self, q, item, frame) -> None:
        message_id = None
        pending = self._pending.get(id(q))
        if pending:
            ids = pending.get(id(item))
            if ids:
                message_id = ids.popleft()
                if not ids:
                    del pending[id(item)]
        site = self.rec.site(frame)
        if message_id is not None or site[2]:
            self._record(R.RECEIVE, q, item, site, message_id)

    # -- across processes ------------------------------------------------------
    def _remote_send(self, original):
        channels = self

        def send(channel, obj, *args, **kwargs):
            rec = channels.rec
            site = message_id = None
            if rec.active:
                try:
                    site = rec.site(sys._getframe(1))
                    if site[2]:
                        message_id = rec.next_message_id()
                except Exception as exc:
                    rec._fail(exc)
            if message_id is None:
                return original(channel, obj, *args, **kwargs)
            sent = _monotonic_ns()    # before it goes: the receiver may record first
            result = original(channel, _Tagged(message_id, obj), *args, **kwargs)
            try:
                channels._record(R.SEND, channel, obj, site, message_id, sent)
            except Exception as exc:
                rec._fail(exc)
            return result
        return send

    def _remote_receive(self, original):
        channels = self

        def receive(channel, *args, **kwargs):
            _received.message = None
            obj = original(channel, *args, **kwargs)
            message_id, _received.message = _received.message, None
            rec = channels.rec
            if rec.active:
                try:
                    site = rec.site(sys._getframe(1))
                    if message_id is not None or site[2]:
                        channels._record(R.RECEIVE, channel, obj, site, message_id)
                except Exception as exc:
                    rec._fail(exc)
            return obj
        return receive

    def _record(self, kind, channel, item, site, message_id, ts=None) -> None:
        rec = self.rec
        rec.check_hook()
        st = rec.thread_state()
        ts = ts if ts is not None else _monotonic_ns()
        key = rec.state.object_key(channel, st, ts)
        st.push((kind, ts, rec.current_actor(st), site[0], site[1], message_id, key,
                 rec.snap.capture(item)))
