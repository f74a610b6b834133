"""The recording behind a debug session.

`launch_arguments` turns a debugpy launch configuration into one that runs
the same program under `cinescope record`: debugpy debugs `python -m
cinescope record ... PROGRAM ARGS`, and its rules keep Cinescope's own frames
out of the user's way. The configuration's optional "cinescope" object says
how to record, as `cinescope record`'s options do::

    "cinescope": {"store": ".cinescope/recordings.db", "plan": "...",
                  "trace": ["bank.*", "bank.teller:serve=full"], "level": "debug",
                  "record": true}

`Recording` finds the session once the program runs (by its pid, from
debugpy's `process` event) and waits, at a stop, until the store holds what
the program recorded up to then (see cinescope.debugger_sync).
"""
from __future__ import annotations

import ast
import json
import os
import sqlite3
import time

from ..store.queries import History
from ..store.schema import StoreError

DEFAULT_STORE = os.path.join(".cinescope", "recordings.db")
def sync_expression(flush: bool) -> str:
    """What debugpy evaluates in a stopped frame (see cinescope.debugger_sync)."""
    return f"__import__('cinescope').debugger_sync(locals().get('self'), {flush})"



SYNC_TIMEOUT = 5.0


class ConfigError(Exception):
    """A launch configuration Cinescope cannot record; the message says what to fix."""


def launch_arguments(arguments: dict) -> tuple[dict, str | None]:
    """(debugpy's launch arguments, the store path, or None when not recording)."""
    options = arguments.get("cinescope") or {}
    if not isinstance(options, dict):
        raise ConfigError('"cinescope" in the launch configuration must be an object, '
                          'e.g. {"trace": ["myapp.*"], "level": "debug"}')
    out = {k: v for k, v in arguments.items() if k != "cinescope"}
    if options.get("record") is False:
        return out, None
    if "program" in out:
        target = [str(out.pop("program"))]
    elif "module" in out:
        target = ["-m", str(out.pop("module"))]
    else:
        raise ConfigError('cinescope records a "program" or a "module" launch; for "code" '
                          'set "cinescope": {"record": false}')
    cwd = out.get("cwd") or os.getcwd()
    store = os.path.join(cwd, str(options.get("store") or DEFAULT_STORE))
    argv = ["record", "--store", store, "-q"]
    for name in ("plan", "level", "name"):
        if options.get(name):
            argv += [f"--{name}", str(options[name])]
    trace = options.get("trace") or []
    if isinstance(trace, str):
        trace = [trace]
    for target_spec in trace:
        argv += ["--trace", str(target_spec)]
    args = out.get("args") or []
    if isinstance(args, str):     # debugpy accepts one string of arguments too
        raise ConfigError('give "args" as a list of strings to record the program')
    out["module"] = "cinescope"
    out["args"] = argv + target + [str(a) for a in args]
    return _hide_cinescope(out), store


def attach_arguments(arguments: dict) -> tuple[dict, str | None]:
    """(debugpy's attach arguments, the store the program records into, or None).
    The program was started under `cinescope record`: "cinescope": {"store"}
    says where (relative to "cwd")."""
    options = arguments.get("cinescope") or {}
    if not isinstance(options, dict):
        raise ConfigError('"cinescope" in an attach configuration must be an object: '
                          '{"store": "path of the store the program records into"}')
    out = {k: v for k, v in arguments.items() if k != "cinescope"}
    if not options.get("store"):
        return out, None
    return _hide_cinescope(out), os.path.join(out.get("cwd") or os.getcwd(),
                                              str(options["store"]))


def _hide_cinescope(arguments: dict) -> dict:
    """Stepping never enters Cinescope's own code (the runner under the program)."""
    rules = list(arguments.get("rules") or [])
    rule = {"module": "cinescope", "include": False}
    return dict(arguments, rules=rules if rule in rules else rules + [rule])


class Recording:
    """The session a debugged process records into."""

    def __init__(self, store: str):
        self.store = store
        self.pid: int | None = None
        self._history: History | None = None

    def history(self) -> History:
        if self._history is None:
            if self.pid is None:
                raise StoreError("the program has not started yet")
            deadline = time.monotonic() + SYNC_TIMEOUT
            while True:
                session = _session_of(self.store, self.pid)
                if session is not None:
                    break
                if time.monotonic() > deadline:
                    raise StoreError(f"no recording of process {self.pid} in {self.store}")
                time.sleep(0.01)
            self._history = History(self.store, session)
        return self._history

    def wait_synced(self, sync: dict) -> None:
        """Wait until the store holds what the process recorded before `sync`
        (what debugger_sync returned), or its session ended."""
        cutoff, pid = sync.get("cutoff"), sync.get("pid")
        if cutoff is None or pid is None:
            return
        h = self.history()
        deadline = time.monotonic() + SYNC_TIMEOUT
        while time.monotonic() < deadline:
            row = h.conn.execute("SELECT ns FROM synced WHERE session = ? AND pid = ?",
                                 (h.session, pid)).fetchone()
            if row is not None and row[0] >= cutoff:
                break
            ended = h.conn.execute("SELECT end_ns FROM sessions WHERE id = ?",
                                   (h.session,)).fetchone()
            if ended is not None and ended[0] is not None:
                break
            time.sleep(0.002)

    def close(self) -> None:
        if self._history is not None:
            self._history.__exit__(None, None, None)
            self._history = None


def parse_sync(result: str) -> dict:
    """debugpy's evaluate result of sync_expression (the repr of a JSON string)."""
    try:
        value = json.loads(ast.literal_eval(result))
    except (ValueError, SyntaxError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _session_of(store: str, pid: int) -> int | None:
    if not os.path.exists(store):
        return None
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            # the session the process started, or (a child) the one it records into
            row = conn.execute("SELECT max(id) FROM sessions WHERE pid = ?", (pid,)).fetchone()
            if row[0] is None:
                row = conn.execute("SELECT max(session) FROM actors WHERE key = ?",
                                   (f"p{pid}",)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None
