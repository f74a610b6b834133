"""Time travel and the views' JSON, on a recording of tests/programs/q_bank.py
checked against what the program logged as it ran."""
from __future__ import annotations

import json

import pytest

from conftest import PROGRAMS, record_bank, run_cinescope
from cinescope.replay import Cursor
from cinescope.store import History


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    store, log = record_bank(tmp)
    return tmp, store, log


def what(event):
    return (event["kind"], event["location"]["function"] if event["location"] else None)


def second_deposit(store):
    with History(str(store)) as h:
        [account] = h.objects("q_bank:Account")
        return account, [c for c in h.value_history(account, "balance")
                         if c.method == "Account.deposit"][1]


def test_step_back_steps_over_calls_and_into_them_on_request(bank):
    _, store, _ = bank
    account, change = second_deposit(store)
    with Cursor.open(str(store), "teller") as cur:
        cur.seek(event=change.event)
        assert what(cur.event) == ("state", "Account.deposit")
        assert what(cur.step_back()) == ("call", "Account.deposit")
        assert what(cur.step_back()) == ("call", "audit")
        assert what(cur.step_back()) == ("receive", "teller")
        # over the previous audit: its return, not the deposit inside it
        assert what(cur.step_back()) == ("return", "audit")
        assert what(cur.step_back(into=True)) == ("return", "Account.deposit")
        # forward over: from the call of audit straight to its return
        cur.seek(event=change.call)
        assert what(cur.step_back()) == ("call", "audit")
        assert what(cur.step_forward()) == ("return", "audit")
        assert what(cur.step_back()) == ("call", "audit")
        assert what(cur.step_forward(into=True)) == ("call", "Account.deposit")
        assert what(cur.step_forward(into=True)) == ("state", "Account.deposit")
        assert what(cur.step_forward()) == ("return", "Account.deposit")
        assert what(cur.step_forward()) == ("return", "audit")


def test_reverse_continue_and_continue_stop_at_a_function(bank):
    _, store, log = bank
    deposits = sum(1 for e in log if e[0] == "set" and e[4] == "Account.deposit")
    with Cursor.open(str(store), "teller") as cur:
        cur.seek(t=10 ** 6)                          # the end
        hits = []
        while cur.reverse_continue(function="Account.deposit") is not None:
            hits.append(cur.event["id"])
        assert len(hits) == deposits and hits == sorted(hits, reverse=True)
        assert cur.event["id"] == hits[-1]           # the cursor stays at the last hit
        assert cur.continue_(function="Account.deposit")["id"] == hits[-2]
        line = cur.event["location"]["line"]
        cur.seek(t=10 ** 6)
        assert cur.reverse_continue(file="q_bank.py", line=line)["id"] == hits[0]


def test_state_at_the_cursor_is_what_the_program_had(bank):
    _, store, log = bank
    account, change = second_deposit(store)
    with Cursor.open(str(store), "teller") as cur:
        cur.seek(event=change.event)
        assert cur.state_at(account) == {"owner": "ann", "balance": change.new}
        cur.step_back()                              # before the deposit's change
        assert cur.state_at(account)["balance"] == change.old
        assert cur.locals() == {"amount": 7}      # self is the event's object
        assert [f.function for f in cur.stack()] == ["teller", "audit", "Account.deposit"]


def test_views_emit_json(bank):
    """--json: one JSON object per line, the shapes of docs/json.md (the text
    of each view is tested in test_views.py)."""
    tmp, store, log = bank
    account, change = second_deposit(store)

    def run(*args, input=None):
        proc = run_cinescope([args[0], "--store", str(store), *args[1:]], cwd=tmp, input=input)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line) for line in proc.stdout.splitlines()]

    assert {e["actor_name"] for e in run("timeline", "--actor", "teller", "--json")} == \
        {"teller"}
    history = run("history", "q_bank:Account.balance", "--json")
    assert [h["new"] for h in history][1:] == [e[3] for e in log if e[0] == "set"]
    assert history[0]["old"] == {"missing": True}
    assert set(history[0]) == {"event", "ts", "t", "actor", "actor_name", "object", "attr", "old",
                               "new", "deleted", "method", "call"}
    messages = run("messages", "--json")
    assert [m["value"] for m in messages] == [e[2] for e in log if e[0] == "send"]
    assert messages[-1]["receive"] is None and messages[0]["receive"]["kind"] == "receive"
    stack = run("stack", "--at", str(change.event), "--json")
    assert [f["function"] for f in stack] == ["teller", "audit", "Account.deposit"]
    [why] = run("why", "q_bank:Account.balance", "--at", str(change.event), "--json")
    assert why["change"]["new"] == change.old and why["change"]["method"] == "Account.deposit"
    assert [f["function"] for f in why["stack"]] == ["teller", "audit", "Account.deposit"]
    # the replay stepper: events, frames and values as JSON; errors as plain lines
    proc = run_cinescope(["replay", "--store", str(store), "--actor", "teller", "--at",
                          str(change.event), "--json"], cwd=tmp,
                         input="back\nwhere\nprint %d\nfrobnicate\nquit\n" % account)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    events = [json.loads(line) for line in lines[:2]]
    assert [(e["id"], e["kind"]) for e in events] == [(change.event, "state"),
                                                      (change.call, "call")]
    assert [json.loads(line)["function"] for line in lines[2:5]] == \
        ["teller", "audit", "Account.deposit"]
    assert json.loads(lines[5]) == {"owner": "ann", "balance": change.old}
    assert lines[6] == "error: unknown command 'frobnicate'; `help` lists them"


def test_views_refuse_bad_input_in_one_line(bank):
    tmp, store, _ = bank
    _, change = second_deposit(store)
    for args in (["stack", "--at", "999999"], ["why", "q_bank:Account"],
                 ["history", "q_bank:Nothing"], ["timeline", "--actor", "nobody"],
                 ["replay", "--actor", "MainProcess", "--at", str(change.event)]):
        proc = run_cinescope([args[0], "--store", str(store), *args[1:]], cwd=tmp)
        assert proc.returncode == 2 and proc.stdout == "", args
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, args


def test_repl_helpers_open_the_same_answers(bank, monkeypatch):
    """cinescope.history() and cinescope.cursor() default to the store in
    .cinescope/ of the working directory and the latest session."""
    import cinescope
    tmp, store, _ = bank
    (tmp / ".cinescope").mkdir(exist_ok=True)
    default = tmp / ".cinescope" / "recordings.db"
    if not default.exists():
        import sqlite3
        with sqlite3.connect(store) as source, sqlite3.connect(default) as copy:
            source.backup(copy)
    monkeypatch.chdir(tmp)
    account, change = second_deposit(store)
    with cinescope.history() as h:
        assert [c.new for c in h.value_history(account, "balance")][-1] == 30
    cur = cinescope.cursor("teller", at=change.event)
    assert what(cur.step_back()) == ("call", "Account.deposit")
    cur.history.__exit__(None, None, None)


def test_locals_at_a_line_of_a_full_level_function(tmp_path):
    """Level full records each line's changed locals: the cursor folds them
    with the call's arguments into the locals as they were at that line."""
    log = tmp_path / "log.json"
    proc = run_cinescope(["record", "--store", str(tmp_path / "full.db"), "--trace",
                          "q_bank:Account.deposit", "--level", "full",
                          str(PROGRAMS / "q_bank.py"), str(log)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    sets = [e for e in json.loads(log.read_text()) if e[0] == "set"]
    with Cursor.open(str(tmp_path / "full.db"), "teller") as cur:
        calls = []
        while cur.continue_(function="Account.deposit") is not None:
            calls.append(cur.event["id"])
        cur.seek(event=calls[1])
        assert cur.locals() == {"amount": 7}
        while cur.event["kind"] != "line" or cur.event["data"]["line"] != 19:
            cur.step_forward(into=True)
        assert cur.locals()["amount"] == 7 and cur.locals()["old"] == sets[1][2]


def test_a_cursor_on_every_actor_walks_the_session_in_time_order(bank):
    _, store, _ = bank
    from cinescope.store import Store
    with Store(str(store)) as s:
        order = [e["id"] for e in s.events()]
    with Cursor.open(str(store), None) as cur:
        forward = []
        while cur.step_forward() is not None:
            forward.append(cur.event["id"])
        assert forward == order
        backward = [cur.event["id"]]
        while cur.step_back() is not None:
            backward.append(cur.event["id"])
        assert backward == order[::-1]
        cur.seek(t=10 ** 6)
        assert cur.event["id"] == order[-1]
        assert cur.reverse_continue(function="Account.deposit")["actor_name"] == "teller"
