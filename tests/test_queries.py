"""Questions to a recording, answered against what the program logged itself
(tests/programs/q_bank.py writes down every change and message as it runs)."""
from __future__ import annotations

import json

import pytest

from cinescope.store import History, StoreError
from cinescope.store.queries import MISSING


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """One recording of q_bank, and the program's own log of it."""
    from conftest import record_bank
    store, log = record_bank(tmp_path_factory.mktemp("bank"))
    history = History(str(store))
    yield history, log
    history.__exit__(None, None, None)


def actor(thread_name):
    """The main thread is the process's actor."""
    return "MainProcess" if thread_name == "MainThread" else thread_name


def account(h):
    [obj] = h.objects("q_bank:Account")
    return obj


def test_value_history_is_what_the_program_did(bank):
    h, log = bank
    changes = h.value_history(account(h), "balance")
    first, rest = changes[0], changes[1:]
    assert (first.old, first.new, first.method) == (MISSING, 10, "Account.__init__")
    assert [(c.old, c.new, c.method, c.actor_name) for c in rest] == \
        [(old, new, method, actor(thread)) for kind, _, old, new, method, thread in
         (entry for entry in log if entry[0] == "set")]
    # the same, asked by class and attribute
    by_name = h.state_history("q_bank:Account.balance")
    assert [(c.event, c.new) for c in by_name] == [(c.event, c.new) for c in changes]
    assert {c.attr for c in h.state_history(account(h))} == {"owner", "balance"}
    # the object belongs to the program's process, not to the writer's
    [obj] = [o for o in h.store.objects() if o["id"] == account(h)]
    [process] = [a for a in h.store.actors() if a["kind"] == "process"]
    assert obj["pid"] == process["pid"]


def test_last_write_says_who_set_the_value_and_from_where(bank):
    h, log = bank
    changes = h.value_history(account(h), "balance")
    final_withdraw = changes[-1]
    assert final_withdraw.method == "Account.withdraw"
    write = h.last_write(account(h), "balance", before=final_withdraw.event)
    deposits = [e for e in log if e[0] == "set" and e[4] == "Account.deposit"]
    assert (write.change.old, write.change.new) == (deposits[-1][2], deposits[-1][3])
    assert write.change.actor_name == "teller"
    assert [f.function for f in write.stack] == ["teller", "audit", "Account.deposit"]
    assert write.stack[-1].call == write.change.call
    # nothing was written before the first change
    assert h.last_write(account(h), "balance", before=changes[0].event) is None


def test_call_stack_at_an_event_and_at_a_time(bank):
    h, _ = bank
    deposit = [c for c in h.value_history(account(h), "balance")
               if c.method == "Account.deposit"][1]
    by_event = h.call_stack_at(deposit.event)
    assert [f.function for f in by_event] == ["teller", "audit", "Account.deposit"]
    assert by_event[-1].object == account(h)
    # at a time: after everything that happened at that time (the change is
    # recorded as the method returns, at the same moment)
    by_time = h.call_stack_at(actor="teller", t=h.event(deposit.call)["t"])
    assert by_time == by_event
    assert [f.function for f in h.call_stack_at(actor="teller", t=deposit.t)] == \
        ["teller", "audit"]
    # at a call, the stack holds it; after its return, it is gone
    teller_events = h.timeline("teller")
    audit_return = [e for e in teller_events if e["kind"] == "return"
                    and e["location"]["function"] == "audit"][0]
    after = h.call_stack_at(actor="teller", t=audit_return["t"])
    assert [f.function for f in after] == ["teller"]


def test_message_flow_pairs_each_send_with_its_receive(bank):
    h, log = bank
    flow = h.message_flow()
    sent = [entry[2] for entry in log if entry[0] == "send"]
    received = [entry[2] for entry in log if entry[0] == "receive"]
    assert [m.value for m in flow] == sent
    assert [m.value for m in flow if m.received] == received
    [lost] = [m for m in flow if not m.received]
    assert lost.value == "left" and lost.send["actor_name"] == "MainProcess"
    assert all(m.receive["actor_name"] == "teller" for m in flow if m.received)
    assert all(m.latency_ns >= 0 for m in flow if m.received)
    # to one receiver: what it received, and the sender's sends nobody received
    assert [(m.value, m.received) for m in h.message_flow(sender="MainProcess",
                                                          receiver="teller")] == \
        [(v, True) for v in received] + [("left", False)]
    assert h.message_flow(sender="teller") == []
    assert [m.value for m in h.message_flow(receiver="teller")] == received + ["left"]


def test_timeline_of_one_actor(bank):
    h, log = bank
    events = h.timeline("teller")
    assert {e["actor_name"] for e in events} == {"teller"}
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    calls = [e["location"]["function"] for e in events if e["kind"] == "call"]
    deposits = sum(1 for e in log if e[0] == "set" and e[4] == "Account.deposit")
    assert calls == ["teller"] + ["audit", "Account.deposit"] * deposits
    receives = [e["data"]["value"] for e in events if e["kind"] == "receive"]
    assert receives == [e[2] for e in log if e[0] == "receive"]
    # a window in time holds only what happened in it
    middle = events[len(events) // 2]["t"]
    assert all(e["t"] >= middle for e in h.timeline("teller", t0=middle))
    assert all(e["t"] <= middle for e in h.timeline("teller", t1=middle))


def test_correlated_events_of_a_call_and_of_a_message(bank):
    h, _ = bank
    deposit = h.value_history(account(h), "balance")[1]
    related = h.correlated(deposit.call)
    kinds = [(e["kind"], e["location"]["function"]) for e in related]
    assert kinds == [("call", "Account.deposit"), ("state", "Account.deposit"),
                     ("return", "Account.deposit")]
    assert related[-1]["call"] == deposit.call
    send = h.message_flow()[0].send
    assert [e["kind"] for e in h.correlated(send["id"])] == ["send", "receive"]


def test_events_by_id_from_rows_and_from_chunks(bank):
    h, _ = bank
    for e in h.timeline("teller"):
        assert h.event(e["id"]) == e
    with pytest.raises(StoreError, match="no event 999999"):
        h.event(999999)
    with pytest.raises(StoreError, match="no object"):
        h.objects("q_bank:Nothing")


def test_exceptions_with_their_path_and_the_slowest_calls(bank):
    h, _ = bank
    [(raised, path)] = h.exceptions()
    assert raised["data"]["exception"]["type"] == "ValueError"
    assert [f.function for f in path] == ["main", "Account.withdraw"]
    slowest = h.slowest_calls(3)
    assert slowest[0]["location"]["function"] == "main"      # it encloses everything
    assert [c["duration_ns"] for c in slowest] == sorted((c["duration_ns"] for c in slowest),
                                                         reverse=True)
    deposits = h.slowest_calls(10, function="Account.deposit")
    assert len(deposits) == 3 and all(c["duration_ns"] > 0 for c in deposits)


def test_message_flow_between_asyncio_tasks(record):
    """What the consumer task printed it got is what the recording pairs."""
    rec = record("asyncio_queue.py", trace=["asyncio_queue"])
    assert rec.returncode == 0
    got = eval(rec.stdout)                                   # the program's own account
    with History(str(rec.store)) as h:
        flow = h.message_flow(sender="producer", receiver="consumer")
        assert [m.value for m in flow] == got + [None]
        assert all(m.received for m in flow)
        receive = flow[0].receive
        assert [f.function for f in h.call_stack_at(receive["id"])] == ["consume"]
        consumer = [e for e in h.timeline("consumer") if e["kind"] == "receive"]
        assert [e["data"]["value"] for e in consumer] == got + [None]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_message_flow_between_processes(record, method):
    """The child echoes what the parent put; the parent prints the echo."""
    rec = record("mp_channels.py", method, trace=["mp_channels"])
    assert rec.returncode == 0, rec.stderr
    reply = eval(rec.stdout.rsplit(" ", 1)[0])
    with History(str(rec.store)) as h:
        to_child = h.message_flow(sender="MainProcess", receiver="echo-child")
        assert [m.value for m in to_child] == [{"type": "list", "items": reply["echo"]}]
        assert to_child[0].received and to_child[0].latency_ns > 0
        back = h.message_flow(sender="echo-child", receiver="MainProcess")
        assert len(back) == 1 and back[0].received
        assert back[0].send["actor_name"] == "echo-child"
        assert back[0].latency_ns > 0


def test_state_at_any_moment_from_checkpoints(record, tmp_path):
    """state_at is a checkpoint and the changes after it: the same answers
    as the program's own log, at any moment, with or without checkpoints."""
    log = tmp_path / "log.json"
    rec = record("q_counter.py", str(log), trace=["q_counter"])
    assert rec.returncode == 0, rec.stderr
    seen = json.loads(log.read_text())
    with History(str(rec.store)) as h:
        [counter] = h.objects("q_counter:Counter")
        bumps = [c for c in h.value_history(counter, "value") if c.method == "Counter.bump"]
        assert len(bumps) == 1000
        checkpoints = h.conn.execute("SELECT count(*) FROM checkpoints WHERE object = ?",
                                     (counter,)).fetchone()[0]
        assert checkpoints >= 1000 // 64
        for k in (0, 63, 64, 65, 500, 998):
            nxt = bumps[k + 1].event                  # just before the next change
            assert h.state_at(counter, before=nxt) == \
                {"value": seen[k][0], "label": seen[k][1]}, k
        assert h.state_at(counter) == {"value": seen[-1][0], "label": seen[-1][1]}
        # the same without checkpoints: rebuilt from every change
        h.conn.execute("DELETE FROM checkpoints")
        assert h.state_at(counter, before=bumps[501].event) == \
            {"value": seen[500][0], "label": seen[500][1]}


def test_return_of_a_call_is_the_one_its_events_show(bank):
    h, _ = bank
    calls = returns = 0
    for a in h.store.actors(h.session):
        events = h.timeline(a["id"])
        ended = {e["call"]: e for e in events
                 if e["kind"] in ("return", "raise") and not e["data"].get("yielded")}
        for e in events:
            if e["kind"] == "call":
                calls += 1
                found = h.return_of(e)
                expected = ended.get(e["id"])
                assert (found or {}).get("id") == (expected or {}).get("id"), e
                returns += found is not None
    assert calls >= 10 and returns >= calls - 3    # what was running at the end stays open


def test_return_of_a_call_spanning_many_chunks(record, tmp_path):
    program = tmp_path / "span.py"
    program.write_text("def leaf(i):\n    return i\n\n\ndef outer(n):\n"
                       "    for i in range(n):\n        leaf(i)\n    return n\n\n\nouter(6000)\n")
    recorded = record(program, trace=["span=minimal"])
    assert recorded.proc.returncode == 0, recorded.proc.stderr
    with History(str(recorded.store)) as h:
        [main] = [a["id"] for a in h.store.actors(h.session)]
        events = h.timeline(main)
        [outer] = [e for e in events if e["kind"] == "call"
                   and e["location"]["function"] == "outer"]
        [expected] = [e for e in events if e["kind"] == "return" and e["call"] == outer["id"]]
        assert len(events) > 2 * 4096      # chunks hold up to 4 096 events
        assert h.return_of(outer)["id"] == expected["id"]


def test_an_actors_last_messages_are_its_part_of_the_flow(bank):
    h, log = bank
    flow = h.message_flow()
    for a in h.store.actors(h.session):
        mine = [(m.message, m.send and m.send["id"], m.receive and m.receive["id"])
                for m in flow if (m.send or {}).get("actor") == a["id"]
                or (m.receive or {}).get("actor") == a["id"]]
        got = [(m.message, m.send and m.send["id"], m.receive and m.receive["id"])
               for m in h.actor_messages(a["id"], 1000)]
        assert sorted(got) == sorted(mine)
        if len(got) > 2:
            assert [m.message for m in h.actor_messages(a["id"], 2)] == \
                [m for m, _, _ in got[-2:]]
    assert any(e[0] == "send" for e in log)
