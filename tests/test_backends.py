"""The backends record the same programs the same way.

sys.monitoring (3.12+) is compared with sys.settrace, and sys.settrace with
sys.setprofile (which cannot see which exception leaves a frame).
"""
import sys

import pytest

PROGRAMS = [("calls.py", ["calls"]), ("stateful.py", ["stateful"]),
            ("lines.py", ["lines:compute=full", "lines"]), ("threads_queue.py", ["threads_queue"]),
            ("asyncio_queue.py", ["asyncio_queue"])]
# the first is the reference: it must see every exception (setprofile cannot)
BACKENDS = (["monitoring", "monitoring-py"] if hasattr(sys, "monitoring") else []) + \
    ["trace", "profile", "profile-py"]


def story(rec, exact=True):
    """What happened, per actor, without ids, times and addresses; not `exact`:
    without the exception values setprofile could not find."""
    actors = {a["id"]: a["name"] for a in rec.actors()}
    out = {}
    for e in rec.events():
        data = dict(e["data"])
        if e["kind"] == "raise" and not exact:
            data = {}
        out.setdefault(actors[e["actor"]], []).append(
            (e["kind"], e["location"] and (e["location"]["function"], e["location"]["line"]),
             _without_ids(data)))
    return out


def _without_ids(value):
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "repr", "pid")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


@pytest.mark.parametrize("program,trace", PROGRAMS)
def test_backends_agree(record, program, trace, tmp_path):
    runs = {b: record(program, trace=trace, env={"CINESCOPE_BACKEND": b},
                      store=tmp_path / f"{b}.db") for b in BACKENDS}
    for backend, rec in runs.items():
        assert rec.returncode == 0, (backend, rec.stderr)
        assert rec.session()["backend"] == backend
    reference = BACKENDS[0]
    for backend in BACKENDS[1:]:
        assert story(runs[backend], exact=False) == story(runs[reference], exact=False), backend
        unresolved = [e for e in runs[backend].events("raise") if e["data"]["exception"] is None]
        if backend.startswith("profile") and program == "calls.py":
            # the one exception setprofile cannot find: quiet_catcher's `except`
            # returns at once, calling nothing
            calls = {c["id"]: c for c in runs[backend].events("call")}
            assert [(e["location"]["function"], calls[calls[e["call"]]["parent"]]["location"]
                     ["function"]) for e in unresolved] == [("fail", "quiet_catcher")]
        else:
            assert unresolved == []
            assert story(runs[backend]) == story(runs[reference]), backend


@pytest.mark.parametrize("program,trace", PROGRAMS)
def test_backends_agree_at_minimal(record, program, trace, tmp_path):
    """At level minimal the C hot path writes the calls and returns itself
    (3.12+): its records must be the pure-Python backends' records."""
    runs = {b: record(program, trace=trace, level="minimal", env={"CINESCOPE_BACKEND": b},
                      store=tmp_path / f"{b}.db") for b in BACKENDS}
    for backend, rec in runs.items():
        assert rec.returncode == 0, (backend, rec.stderr)
        assert rec.session()["backend"] == backend
        assert rec.session()["error"] is None
    reference = story(runs[BACKENDS[0]], exact=False)
    assert any(e[0] == "call" for events in reference.values() for e in events)
    for backend in BACKENDS[1:]:
        assert story(runs[backend], exact=False) == reference, backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_finds_the_exceptions_that_left(record, backend):
    """setprofile does not see the exception unwinding a frame: it is taken from
    the except block that catches it, the excepthook, or the task's outcome."""
    rec = record("unwinding.py", trace=["unwinding"], env={"CINESCOPE_BACKEND": backend})
    assert rec.returncode == 1 and "OSError: from fail" in rec.stderr
    raises = [(e["actor_name"], e["location"]["function"], e["data"]["exception"]["type"])
              for e in rec.events("raise")]
    assert raises == [
        ("MainProcess", "fail", "KeyError"), ("MainProcess", "middle", "KeyError"),
        ("crasher", "fail", "LookupError"), ("crasher", "middle", "LookupError"),
        ("Task-2", "fail", "ValueError"), ("Task-2", "failing_task", "ValueError"),
        ("MainProcess", "fail", "OSError"), ("MainProcess", "middle", "OSError"),
    ]
