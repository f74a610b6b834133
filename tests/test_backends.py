"""The backends record the same programs the same way.

sys.monitoring (3.12+) is compared with sys.settrace, and sys.settrace with
sys.setprofile (which cannot see which exception leaves a frame).
"""
import sys

import pytest

PROGRAMS = [("calls.py", ["calls"]), ("stateful.py", ["stateful"]),
            ("lines.py", ["lines:compute=full", "lines"]), ("threads_queue.py", ["threads_queue"]),
            ("asyncio_queue.py", ["asyncio_queue"])]
BACKENDS = (["monitoring"] if hasattr(sys, "monitoring") else []) + ["trace", "profile"]


def story(rec, exact=True):
    """What happened, per actor, without ids, times and addresses; not `exact`:
    without what setprofile cannot see (exception values, lines)."""
    actors = {a["id"]: a["name"] for a in rec.actors()}
    out = {}
    for e in rec.events():
        if e["kind"] == "line" and not exact:
            continue
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
        exact = backend != "profile"
        assert story(runs[backend], exact) == story(runs[reference], exact), backend


def test_profile_backend_still_marks_exceptions(record):
    rec = record("calls.py", trace=["calls:fail"], env={"CINESCOPE_BACKEND": "profile"})
    [raise_event] = rec.events("raise")
    assert raise_event["location"]["function"] == "fail"
    assert raise_event["data"]["exception"] is None   # setprofile cannot see the exception
