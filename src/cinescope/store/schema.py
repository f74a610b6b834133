"""The store's schema, its version, and opening a store safely.

A store is one SQLite file (WAL mode) holding any number of sessions. The
`meta` table names the application and the schema version; a store written by
an older Cinescope is migrated forward on open, one by a newer one is refused.
Nothing is written to a file that is not a Cinescope store.
"""
from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

APPLICATION = "cinescope"
SCHEMA_VERSION = 4
SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(Exception):
    """A store that cannot be used. The message says what to do."""


def _create_v1(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["sessions"].create({
        "id": int, "name": str, "argv": str, "cwd": str, "python": str, "backend": str,
        "plan": str, "level": str, "pid": int, "started_at": str, "start_ns": int,
        "start_wall_ns": int, "ended_at": str, "end_ns": int, "exit_status": int,
        "status": str, "events_written": int, "events_dropped": int, "error": str,
    }, pk="id", defaults={"events_written": 0, "events_dropped": 0, "status": "recording"})
    db["actors"].create({
        "id": int, "session": int, "key": str, "kind": str, "name": str, "pid": int,
        "ident": int, "parent": int, "spawn_event": int, "started_ns": int, "ended_ns": int,
    }, pk="id", foreign_keys=[("session", "sessions", "id")])
    db["actors"].create_index(["session", "key"], unique=True)
    db["locations"].create({
        "id": int, "module": str, "function": str, "file": str, "line": int,
    }, pk="id")
    db["locations"].create_index(["file", "line", "function", "module"], unique=True)
    db["objects"].create({
        "id": int, "session": int, "type": str, "pid": int, "address": int,
    }, pk="id", foreign_keys=[("session", "sessions", "id")])
    db["objects"].create_index(["session", "type"])
    db.execute("""
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            session INTEGER NOT NULL REFERENCES sessions(id),
            kind INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            actor INTEGER REFERENCES actors(id),
            location INTEGER REFERENCES locations(id),
            call INTEGER,
            parent INTEGER,
            message INTEGER,
            object INTEGER,
            other_actor INTEGER,
            data BLOB
        )""")
    # the questions: one actor over time; by correlation id; by kind; by object
    db.execute("CREATE INDEX events_actor_ts ON events(actor, ts)")
    db.execute("CREATE INDEX events_session_kind_ts ON events(session, kind, ts)")
    db.execute("CREATE INDEX events_call ON events(call) WHERE call IS NOT NULL")
    db.execute("CREATE INDEX events_message ON events(message) WHERE message IS NOT NULL")
    db.execute("CREATE INDEX events_object_ts ON events(object, ts) WHERE object IS NOT NULL")


def _add_chunks(db: sqlite_utils.Database) -> None:
    """Schema 2: calls and returns in chunks (store/chunks.py). The calls and
    returns a version-1 store holds as rows stay rows, and are read as such."""
    db.execute("""
        CREATE TABLE chunks (
            first_id INTEGER PRIMARY KEY,
            last_id INTEGER NOT NULL,
            session INTEGER NOT NULL REFERENCES sessions(id),
            actor INTEGER NOT NULL REFERENCES actors(id),
            ts0 INTEGER NOT NULL,
            ts1 INTEGER NOT NULL,
            count INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            stack BLOB NOT NULL,
            data BLOB NOT NULL
        )""")
    # the questions: one actor over time; a whole session; an id (the key)
    db.execute("CREATE INDEX chunks_actor_ts ON chunks(actor, ts0)")
    db.execute("CREATE INDEX chunks_session ON chunks(session)")


def _add_checkpoints(db) -> None:
    """Schema 3: an object's whole recorded state every CHECKPOINT_EVERY
    changes, so that its state at any moment is a checkpoint and the changes
    after it. Sessions of older stores have none: their state is rebuilt from
    all the changes."""
    db.execute("""
        CREATE TABLE checkpoints (
            object INTEGER NOT NULL REFERENCES objects(id),
            ts INTEGER NOT NULL,
            event INTEGER NOT NULL,
            state BLOB NOT NULL
        )""")
    db.execute("CREATE INDEX checkpoints_object_ts ON checkpoints(object, ts, event)")


def _add_synced(db) -> None:
    """Schema 4: for each recorded process, the time up to which everything it
    recorded is in the store (a debugger stopped in it waits for that)."""
    db.execute("""
        CREATE TABLE synced (
            session INTEGER NOT NULL REFERENCES sessions(id),
            pid INTEGER NOT NULL,
            ns INTEGER NOT NULL,
            PRIMARY KEY (session, pid)
        )""")


# MIGRATIONS[n] turns a version-n store into version n+1, inside one transaction.
MIGRATIONS: dict[int, callable] = {1: _add_chunks, 2: _add_checkpoints, 3: _add_synced}


def _meta(conn: sqlite3.Connection) -> dict[str, str] | None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        return None
    return dict(conn.execute("SELECT key, value FROM meta"))   # corrupt: DatabaseError


def _check_file(path: str) -> bool:
    """True when `path` exists and holds data; raise when it is no SQLite file."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        raise StoreError(f"{path} is a directory, not a Cinescope store; "
                         "give --store a file path") from None
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror}") from None
    if not header:
        return False
    if header != SQLITE_HEADER:
        raise StoreError(f"{path} is not a Cinescope store (not an SQLite database); "
                         "choose another --store")
    return True


def _create_file(path: str) -> None:
    """Create the store file readable and writable by its owner only."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create directory {directory} for the store: "
                             f"{exc.strerror}") from None
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create store {path}: {exc.strerror}") from None
    os.close(fd)
    os.chmod(path, 0o600)


def connect(path: str, create: bool = False, readonly: bool = False) -> "sqlite_utils.Database":
    """Open a Cinescope store, creating or migrating it as needed.

    Raises StoreError (never touching the file) when it is not a Cinescope
    store, is corrupt, or was written by a newer Cinescope.
    """
    import sqlite_utils
    return sqlite_utils.Database(open_store(path, create, readonly))


def open_store(path: str, create: bool = False, readonly: bool = False) -> sqlite3.Connection:
    """connect() without sqlite-utils: the writer process's way in. sqlite-utils
    (a fifth of a second to import) is loaded only to create or migrate."""
    exists = _check_file(path)
    if not exists and not create:
        raise StoreError(f"no Cinescope store at {path}; record a program first "
                         "(cinescope record ...) or pass --store")
    if not exists:
        _create_file(path)
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        meta = _meta(conn)
        if meta is None:
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if has_tables or readonly:
                conn.close()
                raise StoreError(f"{path} is an SQLite database but not a Cinescope store; "
                                 "choose another --store")
            import sqlite_utils
            db = sqlite_utils.Database(conn)
            db.enable_wal()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                if _meta(conn) is None:   # another process may have won the race
                    _create_v1(db)
                    _add_chunks(db)
                    _add_checkpoints(db)
                    _add_synced(db)
                    db["meta"].insert_all([{"key": "application", "value": APPLICATION},
                                           {"key": "schema_version",
                                            "value": str(SCHEMA_VERSION)}])
            return conn
        if meta.get("application") != APPLICATION:
            conn.close()
            raise StoreError(f"{path} is an SQLite database but not a Cinescope store; "
                             "choose another --store")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(f"{path} was written by a newer Cinescope (store schema {version}, "
                             f"this one reads up to {SCHEMA_VERSION}); upgrade cinescope")
        if version < SCHEMA_VERSION and not readonly:
            import sqlite_utils
            _migrate(sqlite_utils.Database(conn), version)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"store {path} is corrupt or unreadable ({exc}); "
                         "restore it from a copy or choose another --store") from None


def _migrate(db: sqlite_utils.Database, version: int) -> None:
    conn = db.conn
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise StoreError(f"no migration from store schema {version}; "
                                 "this store cannot be read by this Cinescope")
            step(db)
            version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
