"""Stores that cannot be used are refused with one clear line and left untouched;
stores that can be used are private, in WAL mode, and hold many sessions."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest
from conftest import PROGRAMS, jsonl, run_cinescope

from cinescope.store.schema import SCHEMA_VERSION

SIDE_FILES = ("-wal", "-shm", "-journal")


def fingerprint(path):
    """The store file's bytes (hashed) and which journal files exist beside it."""
    return (hashlib.sha256(path.read_bytes()).hexdigest(),
            sorted(s for s in SIDE_FILES if os.path.exists(f"{path}{s}")))


def run(command, store, record, tmp_path):
    """Run one cinescope command against `store`; returns (returncode, stdout, stderr)."""
    if command == "record":
        rec = record("calls.py", trace=["calls:fib"], store=store, cwd=tmp_path)
        return rec.returncode, rec.stdout, rec.stderr
    proc = run_cinescope([command, "--store", str(store)], cwd=tmp_path)
    return proc.returncode, proc.stdout, proc.stderr


def assert_refused(result, store, *needles):
    """Exit 2 and one `cinescope: error:` line that names `store` and says every
    needle (looked for outside the store's path)."""
    returncode, stdout, stderr = result
    assert returncode == 2, (returncode, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("cinescope: error: "), line
    assert str(store) in line, f"{str(store)!r} not in {line!r}"
    said = line.replace(str(store), "<store>")
    for needle in needles:
        assert needle in said, f"{needle!r} not in {said!r}"
    assert stdout == ""     # nothing listed, and no program ran
    return said


@pytest.fixture
def recorded_store(record, tmp_path):
    """A real Cinescope store holding one session, all its data in the main file."""
    rec = record("calls.py", trace=["calls:fib"], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert not any(os.path.exists(f"{rec.store}{s}") for s in SIDE_FILES)
    return rec.store


COMMANDS = ["sessions", "events", "record"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_text_file(record, tmp_path, command):
    store = tmp_path / "notes.txt"
    store.write_text("these are my notes, not a database\n" * 20)
    before = fingerprint(store)
    assert_refused(run(command, store, record, tmp_path), store, "not a Cinescope store")
    assert fingerprint(store) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_another_applications_sqlite_database(record, tmp_path, command):
    store = tmp_path / "app.db"
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO users (name) VALUES (?)", [("ann",), ("bob",)])
    conn.close()
    before = fingerprint(store)
    assert_refused(run(command, store, record, tmp_path), store, "not a Cinescope store")
    assert fingerprint(store) == before
    with sqlite3.connect(store) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
        users = conn.execute("SELECT name FROM users ORDER BY id").fetchall()
    conn.close()
    assert tables == ["users"] and users == [("ann",), ("bob",)]


def corrupt_from_table(store, table):
    """Overwrite the store from `table`'s first page to the end with garbage."""
    conn = sqlite3.connect(store)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                               (table,)).fetchone()
    finally:
        conn.close()
    size = store.stat().st_size
    start = (root - 1) * page_size
    assert 0 < start < size
    with open(store, "r+b") as fh:
        fh.seek(start)
        fh.write((b"\xde\xad\xbe\xef" * (size // 4 + 1))[: size - start])
    assert store.stat().st_size == size


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("table", ["meta", "sessions"],
                         ids=["from-the-meta-page-on", "from-the-sessions-page-on"])
def test_a_corrupt_store(record, tmp_path, recorded_store, table, command):
    corrupt_from_table(recorded_store, table)
    before = fingerprint(recorded_store)
    assert_refused(run(command, recorded_store, record, tmp_path), recorded_store, "corrupt")
    assert fingerprint(recorded_store) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_store_from_a_newer_cinescope(record, tmp_path, recorded_store, command):
    with sqlite3.connect(recorded_store) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    before = fingerprint(recorded_store)
    said = assert_refused(run(command, recorded_store, record, tmp_path), recorded_store,
                          "newer Cinescope")
    assert "99" in said
    assert fingerprint(recorded_store) == before
    with sqlite3.connect(recorded_store) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()
    conn.close()
    assert version == ("99",) and sessions == (1,)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_directory(record, tmp_path, command):
    store = tmp_path / "recordings"
    store.mkdir()
    assert_refused(run(command, store, record, tmp_path), store, "directory")
    assert list(store.iterdir()) == []


@pytest.mark.parametrize("command", ["sessions", "events"])
def test_reading_a_store_that_does_not_exist(tmp_path, command):
    store = tmp_path / "missing.db"
    proc = run_cinescope([command, "--store", str(store)], cwd=tmp_path)
    assert_refused((proc.returncode, proc.stdout, proc.stderr), store, "no Cinescope store")
    assert not store.exists()


# -- stores that work ----------------------------------------------------------------

@pytest.fixture
def open_umask():
    """Run with umask 000, so that only Cinescope's own choice of mode restricts access."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_default_store_and_directory_are_private(tmp_path, open_umask):
    proc = run_cinescope(["record", "--trace", "calls:fib", str(PROGRAMS / "calls.py")],
                         cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    directory = tmp_path / ".cinescope"
    store = directory / "recordings.db"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert proc.stderr.endswith(f"store {os.path.join('.cinescope', 'recordings.db')}, "
                                "session 1\n")


def test_a_named_store_in_a_new_directory_is_private(record, tmp_path, open_umask):
    store = tmp_path / "fresh" / "rec.db"
    rec = record("calls.py", trace=["calls:fib"], store=store)
    assert rec.returncode == 0, rec.stderr
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_store_is_in_wal_mode_and_says_what_it_is(recorded_store):
    conn = sqlite3.connect(recorded_store)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    finally:
        conn.close()
    assert meta == {"application": "cinescope", "schema_version": str(SCHEMA_VERSION)}


SESSION_FIELDS = {"id", "name", "argv", "cwd", "python", "plan", "level", "started_at",
                  "ended_at", "duration", "exit_status", "status", "events_written",
                  "events_dropped", "error"}


def test_one_store_holds_two_sessions(record, tmp_path):
    first = record("calls.py", trace=["calls:fib"], options=["--name", "first run"])
    assert first.returncode == 0, first.stderr
    second = record("calls.py", "extra-arg", trace=["calls:catcher", "calls:fail"],
                    level="minimal", options=["--name", "second run"])
    assert second.returncode == 0, second.stderr
    assert first.store == second.store

    proc = run_cinescope(["sessions", "--store", str(first.store), "--json"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    sessions = jsonl(proc.stdout)
    assert len(sessions) == 2
    one, two = sessions
    for s in sessions:
        assert SESSION_FIELDS <= set(s), SESSION_FIELDS - set(s)
        assert s["status"] == "finished" and s["exit_status"] == 0 and s["error"] is None
        assert s["events_dropped"] == 0 and s["events_written"] > 0
        assert s["cwd"] == str(tmp_path)
        assert isinstance(s["duration"], float) and s["duration"] >= 0
        assert isinstance(s["started_at"], str) and isinstance(s["ended_at"], str)
        assert s["python"].startswith(".".join(map(str, sys.version_info[:2])))
    assert one["id"] != two["id"]
    assert (one["name"], two["name"]) == ("first run", "second run")
    assert one["argv"] == [str(PROGRAMS / "calls.py")]
    assert two["argv"] == [str(PROGRAMS / "calls.py"), "extra-arg"]
    assert (one["level"], two["level"]) == ("debug", "minimal")
    assert one["plan"]["trace"] == ["calls:fib"]
    assert sorted(two["plan"]["trace"]) == ["calls:catcher", "calls:fail"]

    # each session's events are its own, and its count says how many it has
    for s, functions in ((one, {"fib"}), (two, {"catcher", "fail"})):
        events = run_cinescope(["events", "--store", str(first.store), "--session",
                                str(s["id"]), "--json"], cwd=tmp_path)
        assert events.returncode == 0, events.stderr
        events = jsonl(events.stdout)
        assert len(events) == s["events_written"]
        assert {e["session"] for e in events} == {s["id"]}
        assert {e["location"]["function"] for e in events if e["location"]} == functions

    # the table form lists both as well
    table = run_cinescope(["sessions", "--store", str(first.store)], cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    assert len(rows) == 3 and "first run" in rows[1] and "second run" in rows[2]


def test_an_older_store_is_migrated_forward(tmp_path, monkeypatch):
    """A store of schema N-1 gets MIGRATIONS[N-1] applied once, in one
    transaction, and its version raised; its sessions are kept."""
    from cinescope.store import schema
    path = str(tmp_path / "old.db")
    db = schema.connect(path, create=True)
    db.conn.execute("INSERT INTO sessions (name, status) VALUES ('kept', 'finished')")
    db.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (str(schema.SCHEMA_VERSION - 1),))
    db.conn.close()
    applied = []

    def add_column(database):
        applied.append(True)
        database.conn.execute("ALTER TABLE sessions ADD COLUMN note TEXT")

    monkeypatch.setitem(schema.MIGRATIONS, schema.SCHEMA_VERSION - 1, add_column)
    db = schema.connect(path)
    assert applied == [True]
    assert dict(db.conn.execute("SELECT key, value FROM meta"))["schema_version"] == \
        str(schema.SCHEMA_VERSION)
    assert [r[0] for r in db.conn.execute("SELECT name FROM sessions")] == ["kept"]
    assert "note" in [r[1] for r in db.conn.execute("PRAGMA table_info(sessions)")]
    db.conn.close()
    schema.connect(path).conn.close()     # a second open migrates nothing
    assert applied == [True]


def test_a_store_with_no_migration_path_is_refused_untouched(tmp_path):
    from cinescope.store import schema
    path = tmp_path / "older.db"
    db = schema.connect(str(path), create=True)
    db.conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    db.conn.close()
    before = path.read_bytes()
    with pytest.raises(schema.StoreError, match="no migration from store schema 0"):
        schema.connect(str(path))
    assert path.read_bytes() == before


def test_a_store_of_schema_1_reads_as_it_did_and_takes_new_sessions(tmp_path):
    """tests/data/store-v1.db was recorded by Cinescope with store schema 1
    (calls and returns as rows); store-v1.events.jsonl is what that version's
    `events --json` printed. This version migrates the store, prints the same
    events, and records a new session (calls and returns in chunks) beside it."""
    import shutil
    from cinescope.store import schema
    data = Path(__file__).parent / "data"
    store = tmp_path / "old.db"
    shutil.copy(data / "store-v1.db", store)
    shown = run_cinescope(["events", "--store", str(store), "--json"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == (data / "store-v1.events.jsonl").read_text().splitlines()
    db = schema.connect(str(store))
    assert dict(db.conn.execute("SELECT key, value FROM meta"))["schema_version"] == \
        str(schema.SCHEMA_VERSION)
    db.conn.close()
    shutil.copy(data / "store_v1_prog.py", tmp_path / "prog.py")
    rec = run_cinescope(["record", "--store", str(store), "--trace", "prog", "prog.py"],
                        cwd=tmp_path)
    assert rec.returncode == 0 and rec.stdout == "6\n", rec.stderr
    old = [json.loads(line) for line in (data / "store-v1.events.jsonl").read_text().splitlines()]
    new = [json.loads(line) for line in run_cinescope(
        ["events", "--store", str(store), "--session", "2", "--json"], cwd=tmp_path).stdout
        .splitlines()]

    def shape(events):      # what must match: kinds, functions, links, data
        ids = {e["id"]: i for i, e in enumerate(events)}
        return [(e["kind"], e["location"]["function"] if e["location"] else None,
                 ids.get(e["call"]), ids.get(e["parent"]), e["data"]) for e in events]
    assert shape(new) == shape(old)
    again = run_cinescope(["events", "--store", str(store), "--session", "1", "--json"],
                          cwd=tmp_path)
    assert again.stdout.splitlines() == (data / "store-v1.events.jsonl").read_text().splitlines()


@pytest.mark.parametrize("cut", ["mid-event", "whole events"])
def test_a_corrupt_chunk_is_one_line_and_names_the_chunk(record, tmp_path, cut):
    rec = record("calls.py", trace=["calls"], level="minimal")
    assert rec.returncode == 0
    with sqlite3.connect(rec.store) as db:
        first, data = db.execute("SELECT first_id, data FROM chunks ORDER BY first_id "
                                 "LIMIT 1").fetchone()
        # level minimal, no object: an event is 5 one-byte fields, or a longer ts delta
        from cinescope.store import chunks
        events = chunks.decode(data, first, 0)
        assert len(events) > 2
        short = data[:3]
        if cut == "whole events":     # cut at an event boundary: only the count tells
            pos = 0
            for _ in range(2):
                pos += 1
                for _field in range(4):
                    while data[pos] & 0x80:
                        pos += 1
                    pos += 1
            short = data[:pos]
        db.execute("UPDATE chunks SET data = ? WHERE first_id = ?", (short, first))
    shown = run_cinescope(["events", "--store", str(rec.store)], cwd=tmp_path)
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.count("\n") == 1
    assert f"chunk {first} cannot be read" in shown.stderr and "Traceback" not in shown.stderr
