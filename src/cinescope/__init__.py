"""Cinescope: an execution-cinema debugger for Python.

Record what a program did (calls, returns, exceptions, object state changes,
messages between threads, tasks and processes) into a historical store, then
ask it questions. See the README.
"""
from __future__ import annotations

__version__ = "0.1.0"


def record(*args, **kwargs):
    """Record the code a plan selects while a `with` block runs (see cinescope.session)."""
    from .session import record as _record
    return _record(*args, **kwargs)


def history(store: str | None = None, session: int | None = None):
    """The questions to a recording, at the REPL: ``h = cinescope.history()``
    (the default store, the latest session), then ``h.value_history(...)``,
    ``h.call_stack_at(...)``, ... (see cinescope.store.queries.History)."""
    from .session import DEFAULT_STORE
    from .store import History
    return History(store or DEFAULT_STORE, session)


def cursor(actor: str | int = "MainProcess", store: str | None = None,
           session: int | None = None, at: int | None = None):
    """A replay cursor on one actor, at the REPL: ``c = cinescope.cursor("teller-1",
    at=1234)``, then ``c.step_back()``, ``c.state_at(7)``, ... (see
    cinescope.replay.Cursor); without `at`, before the actor's first event."""
    from .replay import Cursor
    cur = Cursor(history(store, session), actor)
    if at is not None:
        cur.seek(event=at)
    return cur


def debugger_sync(obj=None, flush: bool = True) -> str:
    """Called by `cinescope dap` (through debugpy's evaluate) in a program
    stopped at a breakpoint. With `flush`, write what was recorded so far.
    A JSON object: {"cutoff": ns, "pid": pid, "actor": key, "self": id(obj)},
    or {} when nothing records."""
    import json
    from .capture.recorder import Recorder
    rec = Recorder.current
    if rec is None:
        return "{}"
    answer = rec.sync(flush)
    answer["self"] = id(obj) if obj is not None else None
    return json.dumps(answer)


def debugger_watch(watches: str) -> str:
    """Called by `cinescope dap` in a stopped program: break when these
    attributes change. `watches`: a JSON list of {"id", "address" (an object's
    id()), "attr"}, replacing the previous ones. A JSON object: breakpoint id ->
    null when watched, or why not."""
    import json
    from .capture.recorder import Recorder
    rec = Recorder.current
    wanted = json.loads(watches)
    if rec is None:
        return json.dumps({w["id"]: "nothing is recorded in this program" for w in wanted})
    return json.dumps(rec.watch(wanted))


def debugger_hit() -> str:
    """Called by `cinescope dap` at a stop: the watched change that stopped this
    thread ({"breakpoints", "attr", "type", "method", "old", "new"}), or null."""
    import json
    from .capture.recorder import Recorder
    from .store.store import jsonable
    rec = Recorder.current
    hit = rec.take_hit() if rec is not None else None
    return json.dumps(jsonable(hit) if hit is not None else None)
