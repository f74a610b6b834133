"""Object state: the attribute changes of one object across one method call.

Each tracked object keeps its last captured attributes. Whenever one of its
methods starts, yields or ends, the object's attributes are captured again and
compared with that snapshot: the difference is one `state` record, attributed
to the method that made it (or to none, for a change made from outside any of
the object's methods, found when the next method starts).
"""
from __future__ import annotations

import itertools
import weakref

from .records import OBJECT, STATE
from .values import type_name

_ABSENT = object()


class _Tracked:
    __slots__ = ("key", "type", "last", "active", "__weakref__")

    def __init__(self, key: int, cls: type):
        self.key = key
        self.type = cls
        self.last: dict = {}
        self.active: list = []  # codes of this object's methods now running


class StateTracker:
    def __init__(self, snapshotter, attributes):
        self.snap = snapshotter
        self.attributes = attributes  # obj -> dict of its own attributes
        self._objects: dict[int, _Tracked] = {}
        self._keys = itertools.count(1)
        self.watches = None      # capture.watch.Watches, once a debugger sets one

    def tracks(self, address: int) -> bool:
        """Whether the object at `address` (its id) is followed."""
        return address in self._objects

    def object_key(self, obj, st, ts: int) -> int:
        """The key of any object the recording refers to (also channels)."""
        return self._tracked(obj, st, ts).key

    def _tracked(self, obj, st, ts: int) -> _Tracked:
        oid = id(obj)
        tracked = self._objects.get(oid)
        if tracked is not None and tracked.type is type(obj):
            return tracked
        tracked = _Tracked(next(self._keys), type(obj))
        self._objects[oid] = tracked
        try:
            weakref.finalize(obj, self._objects.pop, oid, None)
        except TypeError:
            pass  # not weak-referenceable: the entry is replaced if the id is reused by another type
        st.describe((OBJECT, ts, tracked.key, type_name(obj), oid))
        return tracked

    def _capture(self, obj) -> dict:
        snap = self.snap
        return {name: snap.capture_named(name, value)
                for name, value in self.attributes(obj).items()}

    def _diff(self, tracked: _Tracked, obj) -> dict | None:
        now = self._capture(obj)
        last = tracked.last
        if now == last:
            return None
        changes = {}
        for name, new in now.items():
            old = last.get(name, _ABSENT)
            if old is _ABSENT:
                changes[name] = {"new": new}
            elif old != new:
                changes[name] = {"old": old, "new": new}
        for name, old in last.items():
            if name not in now:
                changes[name] = {"old": old, "deleted": True}
        tracked.last = now
        return changes or None

    def enter(self, obj, code, actor, ts, st) -> int:
        """A method of `obj` starts (or resumes); returns the object's key."""
        tracked = self._tracked(obj, st, ts)
        changes = self._diff(tracked, obj)
        if changes:
            owner = tracked.active[-1] if tracked.active else None
            st.push((STATE, ts, actor, owner, tracked.key, changes))
            if self.watches is not None:
                self.watches.changed(obj, changes, code, False)
        tracked.active.append(code)
        return tracked.key

    def leave(self, obj, code, actor, ts, st) -> None:
        """A method of `obj` returns, raises or yields."""
        tracked = self._objects.get(id(obj))
        if tracked is None or tracked.type is not type(obj):
            return
        changes = self._diff(tracked, obj)
        if changes:
            st.push((STATE, ts, actor, code, tracked.key, changes))
            if self.watches is not None:
                self.watches.changed(obj, changes, code, True)
        active = tracked.active
        for i in range(len(active) - 1, -1, -1):
            if active[i] is code:
                del active[i]
                break
