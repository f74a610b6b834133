"""Reading a store: sessions and events, in the documented JSON shapes.

Session::

    {"id", "name", "argv", "cwd", "python", "backend", "plan", "level", "pid",
     "started_at", "ended_at", "duration", "exit_status", "status",
     "events_written", "events_dropped", "error"}

Event::

    {"id", "session", "kind", "ts", "t", "actor", "actor_name", "location",
     "call", "parent", "message", "object", "other_actor", "data"}

`ts` is the monotonic clock in nanoseconds (one clock for all processes of a
machine); `t` is seconds since the session started. `location` is
{"file", "line", "function", "module"} or null. The linking ids: `call` (a
call event's own id; on return, raise, state and line events the call they
belong to; on send, receive and spawn the call they happen in), `parent` (on
a call: the caller's call), `message` (a send and its receive share it),
`object` (the object of a state event or method call, the channel of a send
or receive), `other_actor` (on a spawn: the actor spawned). `data` depends
on the kind; see docs/json.md.
"""
from __future__ import annotations

import json
import os
import sqlite3

import msgpack

from ..capture import records as R
from ..capture.records import EVENT_KINDS, KIND_CODES
from . import chunks
from .schema import StoreError, connect


def _unpack(blob):
    if blob is None:
        return {}
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


def jsonable(value):
    """Values as JSON can carry them (bytes become {"type": "bytes", "hex"})."""
    if isinstance(value, bytes):
        return {"type": "bytes", "hex": value.hex()}
    if isinstance(value, dict):
        if value.get("type") in ("bytes", "bytearray") and isinstance(value.get("value"), bytes):
            out = {k: v for k, v in value.items() if k != "value"}
            out["hex"] = value["value"].hex()
            return out
        return {str(k) if not isinstance(k, str) else k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class Store:
    def __init__(self, path: str):
        self.path = path
        if not os.path.exists(path):
            raise StoreError(f"no Cinescope store at {path}; record a program first "
                             "(cinescope record ...) or pass --store")
        self.db = connect(path)
        self.conn = self.db.conn

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def _query(self, sql: str, params=()) -> list[sqlite3.Row]:
        try:
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path} is corrupt or unreadable ({exc}); "
                             "restore it from a copy or choose another --store") from None

    # -- sessions --------------------------------------------------------------
    def sessions(self) -> list[dict]:
        return [self._session(row) for row in self._query("SELECT * FROM sessions ORDER BY id")]

    def session(self, session_id: int | None = None) -> dict:
        """One session; the latest when `session_id` is None."""
        if session_id is None:
            rows = self._query("SELECT * FROM sessions ORDER BY id DESC LIMIT 1")
            if not rows:
                raise StoreError(f"store {self.path} holds no session yet")
        else:
            rows = self._query("SELECT * FROM sessions WHERE id = ?", (session_id,))
            if not rows:
                raise StoreError(f"store {self.path} has no session {session_id}; "
                                 "`cinescope sessions` lists them")
        return self._session(rows[0])

    def _session(self, row: dict) -> dict:
        out = dict(row)
        out["argv"] = json.loads(row["argv"]) if row["argv"] else []
        out["plan"] = json.loads(row["plan"]) if row["plan"] else None
        out["duration"] = ((row["end_ns"] - row["start_ns"]) / 1e9
                           if row["end_ns"] and row["start_ns"] else None)
        if out["status"] == "recording" and not _alive(row["pid"]):
            out["status"] = "unfinished"   # killed, or exited without running atexit
        for key in ("start_ns", "end_ns", "start_wall_ns"):
            out.pop(key)
        return out

    # -- events ----------------------------------------------------------------
    def events(self, session: int | None = None, kinds=(), actor: str | int | None = None,
               limit: int | None = None, after: int | None = None) -> list[dict]:
        """Events of a session (the latest by default) in time order."""
        sess = self.session(session)
        start = self._query("SELECT start_ns FROM sessions WHERE id=?", (sess["id"],))[0]["start_ns"]
        where, params = ["e.session = ?"], [sess["id"]]
        chunk_where, chunk_params = ["session = ?"], [sess["id"]]
        codes = []
        if kinds:
            unknown = [k for k in kinds if k not in KIND_CODES]
            if unknown:
                raise StoreError(f"unknown event kind {unknown[0]!r}; kinds are "
                                 f"{', '.join(KIND_CODES)}")
            codes = [KIND_CODES[k] for k in kinds]
            where.append(f"e.kind IN ({','.join('?' * len(kinds))})")
            params += codes
        if actor is not None:
            ids = self._actor_ids(sess["id"], actor)
            where.append(f"e.actor IN ({','.join('?' * len(ids))})")
            params += ids
            chunk_where.append(f"actor IN ({','.join('?' * len(ids))})")
            chunk_params += ids
        if after is not None:
            where.append("e.id > ?")
            params.append(after)
            chunk_where.append("last_id > ?")
            chunk_params.append(after)
        sql = ("SELECT e.*, a.name AS actor_name, l.file, l.line, l.function, l.module "
               "FROM events e LEFT JOIN actors a ON a.id = e.actor "
               "LEFT JOIN locations l ON l.id = e.location "
               f"WHERE {' AND '.join(where)}")
        if limit is not None:
            limit = max(int(limit), 0)
            sql += f" ORDER BY e.ts, e.id LIMIT {limit}"
        rows = [self._event(row, start) for row in self._query(sql, params)]
        out = list(rows)
        if not codes or R.CALL in codes or R.RETURN in codes:
            out += self._chunk_events(sess["id"], start, chunk_where, chunk_params,
                                      set(codes) or None, after, limit, rows)
        out.sort(key=lambda e: (e["ts"], e["id"]))
        return out if limit is None else out[:limit]

    def _chunk_events(self, session: int, start_ns: int, where: list, params: list,
                      kinds: set | None, after: int | None, limit: int | None = None,
                      rows: list = ()) -> list[dict]:
        """The chunks' events; with a limit, only the chunks that can hold one of
        the first `limit` events (by time) are read: chunks are read in the
        order they start, until `limit` events are known to come before the
        next one's start."""
        locations = self._locations()
        names = {a["id"]: a["name"] for a in self._query(
            "SELECT id, name FROM actors WHERE session = ?", (session,))}
        out = []
        # with a limit the blobs are read one by one, as far as needed; without, at once
        columns = "first_id, actor, ts0, count" + (", data" if limit is None else "")
        for row in self._query(f"SELECT {columns} FROM chunks "
                               f"WHERE {' AND '.join(where)} ORDER BY ts0, first_id", params):
            if limit is not None and len(out) + len(rows) >= limit:
                start = row["ts0"]
                if sum(e["ts"] < start for e in out) + sum(e["ts"] < start for e in rows) \
                        >= limit:
                    break
            data = row["data"] if limit is None else self._query(
                "SELECT data FROM chunks WHERE first_id = ?", (row["first_id"],))[0]["data"]
            for item in self.decode_chunk(row["first_id"], row["ts0"], row["count"], data):
                event_id, kind = item[0], item[1]
                if kinds is not None and kind not in kinds or after is not None \
                        and event_id <= after:
                    continue
                out.append(chunk_event(item, session, start_ns, row["actor"],
                                       names.get(row["actor"]), locations.get(item[3])))
        return out

    def decode_chunk(self, first_id: int, ts0: int, count: int, data: bytes) -> list[tuple]:
        """A chunk's events (store/chunks.py), or StoreError when it is corrupt."""
        try:
            return chunks.decode(data, first_id, ts0, count)
        except (IndexError, ValueError) as exc:
            raise StoreError(f"store {self.path} is corrupt: chunk {first_id} cannot be "
                             f"read ({exc}); restore it from a copy") from None

    def _locations(self) -> dict[int, dict]:
        return {row["id"]: {"file": row["file"], "line": row["line"],
                            "function": row["function"], "module": row["module"]}
                for row in self._query("SELECT id, file, line, function, module FROM locations")}

    def _actor_ids(self, session: int, actor: str | int) -> list[int]:
        text = str(actor)
        rows = self._query("SELECT id FROM actors WHERE session = ? AND "
                           "(CAST(id AS TEXT) = ? OR name = ? OR key = ?)",
                           (session, text, text, text))
        if not rows:
            raise StoreError(f"session {session} has no actor {actor!r}; "
                             "`cinescope actors` lists them")
        return [r["id"] for r in rows]

    @staticmethod
    def _event(row: dict, start_ns: int) -> dict:
        location = None
        if row["file"] is not None:
            location = {"file": row["file"], "line": row["line"], "function": row["function"],
                        "module": row["module"]}
        return {
            "id": row["id"], "session": row["session"], "kind": EVENT_KINDS[row["kind"]],
            "ts": row["ts"], "t": round((row["ts"] - start_ns) / 1e9, 9),
            "actor": row["actor"], "actor_name": row["actor_name"], "location": location,
            "call": row["call"], "parent": row["parent"], "message": row["message"],
            "object": row["object"], "other_actor": row["other_actor"],
            "data": jsonable(_unpack(row["data"])),
        }

    def actors(self, session: int | None = None) -> list[dict]:
        sess = self.session(session)
        return self._query("SELECT id, key, kind, name, pid, ident, parent, spawn_event, "
                           "started_ns, ended_ns FROM actors WHERE session = ? ORDER BY id",
                           (sess["id"],))

    def objects(self, session: int | None = None) -> list[dict]:
        sess = self.session(session)
        return self._query("SELECT id, type, pid, address FROM objects WHERE session = ? "
                           "ORDER BY id", (sess["id"],))

    def counts(self, session: int | None = None) -> dict[str, int]:
        sess = self.session(session)
        rows = self._query("SELECT kind, count(*) AS n FROM events WHERE session = ? "
                           "GROUP BY kind", (sess["id"],))
        out = {EVENT_KINDS[r["kind"]]: r["n"] for r in rows}
        calls, returns = self._query("SELECT coalesce(sum(calls), 0) AS calls, "
                                     "coalesce(sum(count - calls), 0) AS returns "
                                     "FROM chunks WHERE session = ?", (sess["id"],))[0].values()
        for kind, n in (("call", calls), ("return", returns)):
            if n:
                out[kind] = out.get(kind, 0) + n
        return out


def chunk_event(item: tuple, session: int, start_ns: int, actor: int, actor_name,
                location) -> dict:
    """An event of a chunk (a chunks.decode tuple) in the JSON shape of events."""
    event_id, kind, ts, _, link, obj, flag, payload = item
    data = jsonable(_unpack(payload))
    if flag:
        data["resumed" if kind == R.CALL else "yielded"] = True
    return {"id": event_id, "session": session, "kind": EVENT_KINDS[kind], "ts": ts,
            "t": round((ts - start_ns) / 1e9, 9), "actor": actor, "actor_name": actor_name,
            "location": location, "call": event_id if kind == R.CALL else link,
            "parent": link if kind == R.CALL else None, "message": None, "object": obj,
            "other_actor": None, "data": data}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
