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

import msgpack

from ..capture import records as R
from .schema import StoreError, connect


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

    def __init__(self, path: str, session: int, code_modules: dict):
        self.db = connect(path)
        self.conn: sqlite3.Connection = self.db.conn
        self.session = session
        self.code_modules = code_modules
        self._actors: dict[str, int] = {}
        self._objects: dict[int, int] = {}
        self._locations: dict[tuple, int] = {}
        self._stacks: dict[int, list] = {}      # actor id -> [[call id, code], ...]

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
    def write(self, records: list[tuple], dropped: int) -> None:
        records.sort(key=lambda r: r[1])
        conn = self.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            next_id = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0] + 1
            rows, errors = [], []
            for record in records:
                kind = record[0]
                if kind >= R.ACTOR:
                    self._describe(record, errors)
                    continue
                row = self._event(next_id, record, errors)
                if row is not None:
                    rows.append(row)
                    next_id += 1
            conn.executemany("INSERT INTO events (id, session, kind, ts, actor, location, call, "
                             "parent, message, object, other_actor, data) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            conn.execute("UPDATE sessions SET events_written = events_written + ?, "
                         "events_dropped = events_dropped + ? WHERE id = ?",
                         (len(rows), dropped, self.session))
            for message in errors:
                self._add_error(message)

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
                (self.session, type_name, os.getpid(), address))
            self._objects[key] = cursor.lastrowid
        elif kind == R.ERROR:
            errors.append(record[2])

    def _event(self, event_id: int, r: tuple, errors: list):
        kind, ts, actor_key = r[0], r[1], r[2]
        actor = self._actor(actor_key)
        stack = self._stacks.setdefault(actor, [])
        call = parent = message = obj = other = location = data = None
        if kind == R.CALL:
            _, _, _, code, args, obj_key, resumed = r
            location = self._location(code, None)
            parent = stack[-1][0] if stack else None
            call = event_id
            stack.append([event_id, code])
            obj = self._objects.get(obj_key) if obj_key is not None else None
            data = {}
            if args is not None:
                data["args"] = args
            if resumed:
                data["resumed"] = True
        elif kind == R.RETURN or kind == R.RAISE:
            code = r[3]
            call = _pop_call(stack, code)
            if kind == R.RETURN:
                location = self._location(code, None)
                value, yielded = r[4], r[5]
                data = {} if value is R.NO_VALUE else {"value": value}
                if yielded:
                    data["yielded"] = True
            else:
                location = self._location(code, r[4])
                data = {"exception": r[5]}
        elif kind == R.STATE:
            _, _, _, code, obj_key, changes = r
            obj = self._objects.get(obj_key)
            call = _find_call(stack, code) if code is not None else (stack[-1][0] if stack else None)
            location = self._location(code, None)
            data = {"method": code.co_qualname if code is not None else None, "changes": changes}
        elif kind == R.LINE:
            _, _, _, code, line, changed = r
            call = _find_call(stack, code)
            location = self._location(code, line)
            data = {"line": line, "locals": changed}
        elif kind == R.SEND or kind == R.RECEIVE:
            _, _, _, code, line, message, channel, value = r
            call = stack[-1][0] if stack else None
            location = self._location(code, line)
            obj = self._objects.get(channel)
            data = {"value": value}
        elif kind == R.SPAWN:
            _, _, _, code, line, child_key, info = r
            call = stack[-1][0] if stack else None
            location = self._location(code, line)
            other = self._actor(child_key)
            self.conn.execute("UPDATE actors SET spawn_event=?, parent=? WHERE id=?",
                              (event_id, actor, other))
            data = info
        elif kind == R.EXIT:
            data = r[3]
            self.conn.execute("UPDATE actors SET ended_ns=? WHERE id=?", (ts, actor))
            self._stacks.pop(actor, None)
        else:
            return None
        return (event_id, self.session, kind, ts, actor, location, call, parent, message, obj,
                other, _pack(data, errors) if data else None)

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


def _pop_call(stack: list, code) -> int | None:
    """Pop the frame of `code` (and any left open above it by dropped records)."""
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][1] is code:
            call = stack[i][0]
            del stack[i:]
            return call
    return None


def _find_call(stack: list, code) -> int | None:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][1] is code:
            return stack[i][0]
    return None
