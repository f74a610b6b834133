"""The session writer: turns a process's records into rows of the store.

It runs on the recorder's flusher thread, never on the program's. Per batch
it orders records by time, gives each event its id, links it (a return to
its call, a call to its caller, a state change to its method call, an event
to the call it happens in), packs values with msgpack and inserts
everything in one transaction. Every process of a session has its own
writer; ids come from the store under its write lock, so they are unique in
the store and increase in the order batches are written.
"""
from __future__ import annotations

import datetime
import json
import os
import sqlite3
import sys
import time

from array import array

import msgpack

from ..capture import records as R
from . import chunks
from .schema import StoreError, connect, open_store

CHECKPOINT_EVERY = 64     # changes of one object between checkpoints of its whole state
# the msgpack of a one-key map's head, before a value the recorder packed itself
_ARGS = b"\x81\xa4args"
_VALUE = b"\x81\xa5value"


def _pack(data, errors: list) -> bytes:
    try:
        return msgpack.packb(data, use_bin_type=True)
    except Exception as exc:   # skip the value, keep the event, say why
        errors.append(f"a value could not be encoded and was skipped: {exc!r}"[:300])
        return msgpack.packb({"error": "value could not be encoded"})


def create_session(path: str, *, name: str | None, argv: list[str], plan: dict,
                   level: str, backend: str) -> int:
    """Create a session row and return its id."""
    db = connect(path, create=True)
    try:
        now = time.time_ns()
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            cursor = db.conn.execute(
                "INSERT INTO sessions (name, argv, cwd, python, backend, plan, level, pid, "
                "started_at, start_ns, start_wall_ns, status, events_written, events_dropped) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?, 'recording', 0, 0)",
                (name, json.dumps(argv), os.getcwd(), sys.version.split()[0], backend,
                 json.dumps(plan), level, os.getpid(), _iso(now), time.monotonic_ns(), now))
        return cursor.lastrowid
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"store {path} is corrupt or unreadable ({exc}); "
                         "restore it from a copy or choose another --store") from None
    finally:
        db.conn.close()


def _iso(wall_ns: int) -> str:
    return datetime.datetime.fromtimestamp(wall_ns / 1e9, datetime.timezone.utc) \
        .isoformat(timespec="milliseconds")


class SessionWriter:
    """A sink for one process of one session (see capture.flusher)."""

    def __init__(self, path: str, session: int, code_modules: dict, pid: int | None = None):
        self.conn: sqlite3.Connection = open_store(path)
        self.session = session
        self.pid = pid if pid is not None else os.getpid()    # the recorded process
        self.code_modules = code_modules
        self._actors: dict[str, int] = {}
        self._objects: dict[int, int] = {}
        self._locations: dict[tuple, int] = {}
        self._assembler = chunks.new_assembler()
        self._ring_locs = array("I")          # the C rings' code index -> location id
        self._ring_actors = array("I")        # the C rings' actor index -> actor id
        self._ring_pending: list = []         # code objects of ring indexes not yet located
        self._ring_actor_keys: list[str] = []
        self._changes: dict[int, dict] = {}     # payload index -> a state event's changes
        self._states: dict[int, dict] = {}      # object id -> its state as recorded so far
        self._seen: dict[int, int] = {}         # object id -> changes seen

    # -- lookups ---------------------------------------------------------------
    def _actor(self, key: str | None) -> int | None:
        if key is None:
            return None
        actor = self._actors.get(key)
        if actor is None:
            self.conn.execute("INSERT OR IGNORE INTO actors (session, key) VALUES (?, ?)",
                              (self.session, key))
            actor = self.conn.execute("SELECT id FROM actors WHERE session = ? AND key = ?",
                                      (self.session, key)).fetchone()[0]
            self._actors[key] = actor
        return actor

    def _location(self, code, line: int | None) -> int | None:
        if code is None:
            return None
        if line is None:
            line = code.co_firstlineno
        key = (code, line)
        loc = self._locations.get(key)
        if loc is None:
            row = (code.co_filename, line, code.co_qualname, self.code_modules.get(code, "?"))
            self.conn.execute("INSERT OR IGNORE INTO locations (file, line, function, module) "
                              "VALUES (?,?,?,?)", row)
            loc = self.conn.execute("SELECT id FROM locations WHERE file=? AND line=? AND "
                                    "function=? AND module=?", row).fetchone()[0]
            self._locations[key] = loc
        return loc

    # -- the sink interface ------------------------------------------------------
    def ring_code(self, code) -> None:
        """The next code index of the C rings stands for `code`."""
        self._ring_pending.append(code)

    def ring_actor(self, key: str) -> None:
        """The next actor index of the C rings stands for `key`."""
        self._ring_actor_keys.append(key)

    def write(self, records: list[tuple], dropped: int, rings=(), synced: int | None = None) -> None:
        """Store a batch; `synced`: the program's cutoff for it (everything it
        recorded up to then is in this batch or an earlier one)."""
        conn = self.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            errors: list[str] = []
            for record in records:          # first what the events refer to
                if record[0] >= R.ACTOR:
                    self._describe(record, errors)
            for code in self._ring_pending:
                self._ring_locs.append(self._location(code, None))
            self._ring_pending.clear()
            for key in self._ring_actor_keys[len(self._ring_actors):]:
                self._ring_actors.append(self._actor(key))
            recs, payloads = bytearray(), []
            for record in records:
                if record[0] < R.ACTOR:
                    self._event(record, recs, payloads, errors)
            chunks, links, next_id = self._assembler.assemble(
                bytes(recs), list(rings), self._ring_locs, self._ring_actors, payloads,
                self._next_id())
            conn.executemany("INSERT INTO chunks (first_id, last_id, session, actor, ts0, ts1, "
                             "count, calls, stack, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                             [c[:2] + (self.session,) + c[2:] for c in chunks])
            rows, states = [], []
            for payload, event_id, call in links:
                kind, ts, actor, location, message, obj, other, data = payloads[payload]
                rows.append((event_id, self.session, kind, ts, actor, location, call, None,
                             message, obj, other, data))
                if kind == R.SPAWN:
                    conn.execute("UPDATE actors SET spawn_event=?, parent=? WHERE id=?",
                                 (event_id, actor, other))
                elif kind == R.STATE and payload in self._changes:
                    states.append((ts, event_id, obj, self._changes.pop(payload)))
            self._changes.clear()
            self._checkpoint(states, errors)
            conn.executemany("INSERT INTO events (id, session, kind, ts, actor, location, call, "
                             "parent, message, object, other_actor, data) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            written = len(rows) + sum(c[5] for c in chunks)
            conn.execute("UPDATE sessions SET events_written = events_written + ?, "
                         "events_dropped = events_dropped + ? WHERE id = ?",
                         (written, dropped, self.session))
            for message in errors:
                self._add_error(message)
            if synced is not None and synced < 2 ** 63 and self.pid is not None:
                conn.execute("INSERT OR REPLACE INTO synced (session, pid, ns) VALUES (?,?,?)",
                             (self.session, self.pid, synced))

    def _checkpoint(self, states: list, errors: list) -> None:
        """Fold the batch's state changes into each object's state, in time
        order, and store an object's whole state every CHECKPOINT_EVERY changes."""
        rows = []
        for ts, event_id, obj, changes in sorted(states, key=lambda s: (s[0], s[1])):
            state = self._states.setdefault(obj, {})
            for attr, change in changes.items():
                if change.get("deleted"):
                    state.pop(attr, None)
                elif "new" in change:
                    state[attr] = change["new"]
            seen = self._seen[obj] = self._seen.get(obj, 0) + 1
            if seen % CHECKPOINT_EVERY == 0:
                rows.append((obj, ts, event_id, _pack(state, errors)))
        if rows:
            self.conn.executemany("INSERT INTO checkpoints (object, ts, event, state) "
                                  "VALUES (?,?,?,?)", rows)

    def _next_id(self) -> int:
        """Above every id in the store (under its write lock: other writers wait)."""
        row = self.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        last = self.conn.execute("SELECT last_id FROM chunks ORDER BY first_id DESC "
                                 "LIMIT 1").fetchone()
        return max(row, last[0] if last else 0) + 1

    def _add_error(self, message: str) -> None:
        self.conn.execute("UPDATE sessions SET error = CASE WHEN error IS NULL THEN ? "
                          "ELSE error || char(10) || ? END WHERE id = ?",
                          (message, message, self.session))

    def _describe(self, record: tuple, errors: list) -> None:
        kind = record[0]
        if kind == R.ACTOR:
            _, ts, key, actor_kind, name, parent_key, ident = record
            actor = self._actor(key)
            self.conn.execute(
                "UPDATE actors SET kind=?, name=?, pid=?, ident=?, "
                "parent=coalesce(parent, ?), started_ns=coalesce(started_ns, ?) WHERE id=?",
                (actor_kind, name, int(key[1:].split(".")[0]), ident,
                 self._actor(parent_key), ts, actor))
        elif kind == R.OBJECT:
            _, ts, key, type_name, address = record
            cursor = self.conn.execute(
                "INSERT INTO objects (session, type, pid, address) VALUES (?,?,?,?)",
                (self.session, type_name, self.pid, address))
            self._objects[key] = cursor.lastrowid
        elif kind == R.ERROR:
            errors.append(record[2])

    def _event(self, r: tuple, recs: bytearray, payloads: list, errors: list) -> None:
        """Append the record as a WREC (see chunks.py), its payload to `payloads`."""
        kind, ts, actor = r[0], r[1], self._actor(r[2])
        flags = match = 0
        message = obj = other = None
        if kind == R.CALL:
            _, _, _, code, args, obj_key, resumed = r
            match = self._location(code, None)
            obj = self._objects.get(obj_key) if obj_key is not None else None
            data = _ARGS + args if type(args) is bytes else (
                _pack({"args": args}, errors) if args is not None else None)
            flags = chunks.RESUMED if resumed else 0
            payload = (obj, data) if obj is not None or data is not None else None
        elif kind == R.RETURN:
            _, _, _, code, value, yielded = r
            match = self._location(code, None)
            flags = chunks.YIELDED if yielded else 0
            if value is R.NO_VALUE:
                payload = None
            elif type(value) in (list, tuple) and len(value) == 1 and type(value[0]) is bytes:
                payload = (None, _VALUE + value[0])     # packed by the recorder's encoder
            else:
                payload = (None, _pack({"value": value}, errors))
        else:
            code = r[3] if kind != R.EXIT else None
            match = self._location(code, None) if code is not None else 0
            location = match or None
            if kind == R.RAISE:
                location, data = self._location(code, r[4]), {"exception": r[5]}
            elif kind == R.STATE:
                _, _, _, code, obj_key, changes = r
                obj = self._objects.get(obj_key)
                if obj is not None and changes:
                    self._changes[len(payloads)] = changes
                data = {"method": code.co_qualname if code is not None else None,
                        "changes": changes}
            elif kind == R.LINE:
                _, _, _, code, line, changed = r
                location, data = self._location(code, line), {"line": line, "locals": changed}
            elif kind == R.SEND or kind == R.RECEIVE:
                _, _, _, code, line, message, channel, value = r
                location, obj, data = self._location(code, line), self._objects.get(channel), \
                    {"value": value}
            elif kind == R.SPAWN:
                _, _, _, code, line, child_key, data = r
                location, other = self._location(code, line), self._actor(child_key)
            elif kind == R.EXIT:
                data = r[3]
                self.conn.execute("UPDATE actors SET ended_ns=? WHERE id=?", (ts, actor))
            else:
                return
            payload = (kind, ts, actor, location, message, obj, other,
                       _pack(data, errors) if data else None)
        if payload is None:
            index = chunks.NONE
        else:
            index = len(payloads)
            payloads.append(payload)
        recs += chunks.WREC.pack(ts, match, actor or 0, kind, flags, 0, index)

    def close(self, session_end: dict | None) -> None:
        """Finish this process's part; `session_end` finishes the session too."""
        try:
            if session_end is not None:
                wall = time.time_ns()
                with self.conn:
                    self.conn.execute(
                        "UPDATE sessions SET ended_at=?, end_ns=?, exit_status=?, status=? "
                        "WHERE id=?",
                        (_iso(wall), time.monotonic_ns(), session_end.get("exit_status"),
                         session_end.get("status", "finished"), self.session))
                    if session_end.get("error"):
                        self._add_error(session_end["error"])
        finally:
            self.conn.close()

