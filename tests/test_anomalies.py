"""What `find_anomalies` points at, on real recordings of small programs
(tests/programs/an_*.py), and the plan's [invariants]."""
from __future__ import annotations

import json

import pytest
from conftest import PROGRAMS, run_cinescope

from cinescope.analyzer.anomalies import Anomaly, find_anomalies
from cinescope.analyzer.anomalies_command import cmd_anomalies
from cinescope.capture.invariants import UNKNOWN, compile_invariant
from cinescope.capture.plan import PlanError, build_plan
from cinescope.store import History


def record(tmp, program, *args, plan=None):
    """Record tests/programs/PROGRAM with its module traced: the store's path."""
    store = tmp / f"{program}.db"
    cmd = ["record", "-q", "--store", str(store), "--trace", program.removesuffix(".py")]
    if plan is not None:
        cmd += ["--plan", str(plan)]
    proc = run_cinescope([*cmd, str(PROGRAMS / program), *args], cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return store


def anomalies(store, plan=None, kind=None):
    with History(str(store)) as h:
        found = find_anomalies(h, plan=plan)
    for a in found:
        assert isinstance(a, Anomaly)
        json.dumps(a.to_json())                 # JSON-able, always
    return [a for a in found if kind is None or a.kind == kind]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("anomalies")


def line_of(program, text):
    lines = (PROGRAMS / program).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_an_exception_is_reported_where_it_starts(tmp):
    store = record(tmp, "an_errors.py")
    found = anomalies(store, kind="exception")
    [converted] = [a for a in found if a.details["type"] == "ValueError"]
    # it starts in parse_port (the innermost frame), not in load that re-raised it
    assert converted.file == str(PROGRAMS / "an_errors.py")
    assert converted.line == line_of("an_errors.py", "return int(text)")
    assert converted.details["raised_as"] == "ConfigError"
    assert converted.details["path"] == ["parse_port", "load"]
    assert converted.details["uncaught"] is False
    assert "caught in main" in converted.message and "ConfigError" in converted.message
    assert converted.severity == "warning" and len(converted.events) == 2
    with History(str(store)) as h:
        kinds = [h.event(e)["kind"] for e in converted.events]
    assert kinds == ["raise", "raise"]


def test_one_call_far_slower_than_its_siblings(tmp):
    store = record(tmp, "an_slow.py")
    [slow] = anomalies(store, kind="slow_call")
    assert slow.details["function"] == "step" and slow.details["calls"] == 31
    assert slow.line == line_of("an_slow.py", "def step")
    with History(str(store)) as h:
        call = h.event(slow.events[0])
    assert call["kind"] == "call" and call["data"]["args"] == {"i": 20, "slow": True}
    assert "i=20" in slow.message


def test_a_send_nobody_receives_and_a_queue_that_grows(tmp):
    store = record(tmp, "an_queues.py")
    [lost] = anomalies(store, kind="unreceived")
    assert lost.details["unreceived"] == 1 and lost.details["first_value"] == "orphan"
    assert lost.line == line_of("an_queues.py", 'q.put("orphan")')
    assert "never received" in lost.message and "queue.Queue" in lost.message
    [growing] = anomalies(store, kind="growing_queue")
    assert (growing.details["sent"], growing.details["received"],
            growing.details["depth"]) == (40, 8, 32)
    q = growing.details["depth_by_quarter"]
    assert q == sorted(q) and q[-1] == 32 and q[0] < 32
    assert growing.line == line_of("an_queues.py", "q.put(i)")
    # the growing queue's leftovers are not reported again as unreceived sends
    assert lost.details["channel"] != growing.details["channel"]


def test_two_threads_writing_with_no_ordering_are_a_race(tmp):
    store = record(tmp, "an_race.py", "race")
    [race] = anomalies(store, kind="race")
    assert race.details["attr"] == "count"
    assert set(race.details["actors"]) == {"first", "second"}
    assert race.details["methods"] == ["Counter.bump", "Counter.bump"]
    assert race.line == line_of("an_race.py", "def bump")
    assert "race candidate" in race.message and ".count" in race.message
    with History(str(store)) as h:
        writes = [h.event(e) for e in race.events]
    assert {w["actor_name"] for w in writes} == {"first", "second"}
    assert all(w["kind"] == "state" for w in writes)


def test_the_same_writes_ordered_by_a_message_are_no_race(tmp):
    store = record(tmp, "an_race.py", "ordered")
    assert anomalies(store, kind="race") == []
    with History(str(store)) as h:          # the message that orders them was recorded
        [m] = h.message_flow()
    assert m.received and m.send["actor_name"] == "first"


BANK_PLAN = """trace = ["an_bank"]
[invariants]
"an_bank:Account" = ["balance >= 0", "len(ledger) < 1", "owner != 'bob' or balance > 0"]
"""


def test_a_broken_invariant_is_reported_once_at_the_event_that_broke_it(tmp):
    plan_file = tmp / "bank.toml"
    plan_file.write_text(BANK_PLAN)
    store = record(tmp, "an_bank.py", plan=plan_file)
    plan = build_plan(str(plan_file))
    [broken] = anomalies(store, plan=plan, kind="invariant")   # one, not one per withdraw
    assert broken.details["invariant"] == "balance >= 0"
    assert broken.details["method"] == "Account.withdraw"
    assert broken.details["changes"] == {"balance": {"old": 3, "new": -4}}
    assert "3 -> -4" in broken.message and "Account.withdraw" in broken.message
    assert broken.severity == "error"
    assert broken.line == line_of("an_bank.py", "def withdraw")
    with History(str(store)) as h:
        [change] = [c for c in h.value_history(broken.details["object"], "balance")
                    if c.event == broken.events[0]]
    assert (change.old, change.new) == (3, -4)
    # ledger is recorded as a reference ({"type", "id"}): len() of it is unknown,
    # not a violation; without a plan no invariant is checked
    assert anomalies(store, kind="invariant") == []


def test_the_command_uses_the_sessions_invariants_and_prints_json(tmp, capsys):
    store = tmp / "an_bank.py.db"               # recorded by the test above, with its plan
    assert cmd_anomalies(["--store", str(store), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["kind"] for line in lines] == ["invariant"]
    assert set(lines[0]) >= {"kind", "severity", "message", "file", "line", "events",
                             "details", "t"}
    assert cmd_anomalies(["--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert "invariant" in text and "an_bank.py:" in text and "balance >= 0" in text


def test_invariants_evaluate_over_recorded_values_three_ways():
    assert compile_invariant("balance >= 0").evaluate({"balance": -1}) is False
    assert compile_invariant("balance >= 0").evaluate({"balance": 5}) is True
    obj = {"type": "bank.Ledger", "id": 7}
    assert compile_invariant("len(ledger) < 3").evaluate({"ledger": obj}) is UNKNOWN
    assert compile_invariant("balance >= 0").evaluate({}) is UNKNOWN
    assert compile_invariant("pin > 0").evaluate({"pin": {"redacted": True}}) is UNKNOWN
    cut = {"type": "list", "items": [1, 2], "len": 500}
    assert compile_invariant("len(items) <= 100").evaluate({"items": cut}) is False
    assert compile_invariant("x > 0 and y > 0").evaluate({"x": -1}) is False
    assert compile_invariant("x > 0 or y > 0").evaluate({"x": 1}) is True
    assert compile_invariant("name < 3").evaluate({"name": "a"}) is UNKNOWN


@pytest.mark.parametrize("expr, why", [
    ("balance >=", "not a Python expression"),
    ("account.balance >= 0", "attribute access"),
    ("__import__('os')", "only len, abs, min and max"),
    ("history[0] > 1", "subscripts"),
    ("balance ** 2 > 1", "Pow"),
])
def test_a_broken_invariant_expression_is_a_plan_error(tmp, expr, why):
    plan_file = tmp / "broken.toml"
    plan_file.write_text(f'trace = ["an_bank"]\n[invariants]\n"an_bank:Account" = '
                         f'[{json.dumps(expr)}]\n')
    with pytest.raises(PlanError) as err:
        build_plan(str(plan_file))
    message = str(err.value)
    for needle in (str(plan_file), "[invariants]", "an_bank:Account", repr(expr), why):
        assert needle in message, (needle, message)


def test_an_invariant_target_must_be_a_class(tmp):
    plan_file = tmp / "notclass.toml"
    plan_file.write_text('trace = ["an_bank"]\n[invariants]\n"an_bank" = ["x > 0"]\n')
    with pytest.raises(PlanError, match="name a class as module:Class"):
        build_plan(str(plan_file))
