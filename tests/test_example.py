"""The bank example, recorded as `make demo` does, read back through the CLI's JSON."""
import pytest

from conftest import jsonl, record_example, run_cinescope

EVENT_FIELDS = {"id", "session", "kind", "ts", "t", "actor", "actor_name", "location", "call",
                "parent", "message", "object", "other_actor", "data"}


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """A copy of examples/bank recorded with its own plan file."""
    cwd, proc = record_example(tmp_path_factory.mktemp("bank"))
    events = jsonl(run_cinescope(["events", "--json"], cwd=cwd).stdout)
    return cwd, proc, events


def test_output_is_the_programs(bank):
    cwd, proc, _ = bank
    assert "transfer 4: dave -> alice 500 FAILED: dave has 40, cannot withdraw 500" in proc.stdout
    assert proc.stdout.rstrip().endswith("audited total: 275")
    assert (cwd / ".cinescope" / "recordings.db").exists()


def test_event_json_shape(bank):
    _, _, events = bank
    assert events and all(set(e) == EVENT_FIELDS for e in events)
    assert all(isinstance(e["id"], int) and isinstance(e["ts"], int) for e in events)
    assert len({e["id"] for e in events}) == len(events)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)


def test_transfer_messages_are_paired(bank):
    _, _, events = bank
    sends = {e["message"]: e for e in events if e["kind"] == "send"}
    receives = {e["message"]: e for e in events if e["kind"] == "receive"}
    assert set(sends) == set(receives) and len(sends) >= 16
    requests = [s for s in sends.values() if s["data"]["value"] is not None and
                s["location"]["function"] == "run_tellers"]
    assert len(requests) == 5
    for send in requests:
        receive = receives[send["message"]]
        assert receive["actor_name"] in ("teller-1", "teller-2")
        assert receive["data"]["value"] == send["data"]["value"]
    # the message to the child process and its reply cross processes
    audit = [s for s in sends.values() if s["location"]["function"] in ("audit", "auditor")]
    assert {s["actor_name"] for s in audit} == {"MainProcess", "auditor"}
    for send in audit:
        assert receives[send["message"]]["actor_name"] != send["actor_name"]


def test_account_state_changes(bank):
    _, _, events = bank
    states = [e for e in events if e["kind"] == "state"]
    dave = next(e["object"] for e in states if e["data"]["method"] == "Account.__init__"
                and e["data"]["changes"]["owner"]["new"] == "dave")
    history = [(e["data"]["method"], e["data"]["changes"]["balance"])
               for e in states if e["object"] == dave and "balance" in e["data"]["changes"]]
    assert history == [
        ("Account.__init__", {"new": 40}),
        ("Account.deposit", {"old": 40, "new": 100}),    # async deposit +60
        ("Account.deposit", {"old": 100, "new": 115}),   # async transfer from bob
    ]
    # secrets are redacted in state and in arguments
    init = next(e for e in states if e["object"] == dave)
    assert init["data"]["changes"]["pin"]["new"] == {"redacted": True}


def test_failed_transfer_is_recorded(bank):
    _, _, events = bank
    raises = [e for e in events if e["kind"] == "raise"]
    assert [r["location"]["function"] for r in raises] == ["Account.withdraw", "move"]
    assert all(r["data"]["exception"]["type"] == "bank.errors.InsufficientFunds" for r in raises)
    assert raises[0]["actor_name"].startswith("teller-")


def test_sessions_json(bank):
    cwd, _, _ = bank
    [session] = jsonl(run_cinescope(["sessions", "--json"], cwd=cwd).stdout)
    assert session["status"] == "finished" and session["exit_status"] == 0
    assert session["argv"] == ["-m", "bank"] and session["events_dropped"] == 0
    assert session["events_written"] == len(jsonl(run_cinescope(["events", "--json"],
                                                                cwd=cwd).stdout))


def test_summary_tells_the_story(bank):
    cwd, _, events = bank
    proc = run_cinescope(["summary"], cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    sends = sum(e["kind"] == "send" for e in events)
    assert f"messages: {sends} sent, {sends} received (0 never received)" in text
    assert "process  auditor  (spawned by MainProcess)" in text
    assert "thread   teller-1  (spawned by MainProcess)" in text
    assert "balance (new) -> 100; pin (new) -> <redacted>" in text
    assert "Account #" in text and "[Account.withdraw] balance 100 -> 70" in text
    assert "bank.errors.InsufficientFunds: dave has 40, cannot withdraw 500" in text
