"""The questions, asked of the shipped example (examples/bank, recorded as
`make demo` does), answered against what the example itself printed and what
its code does, worked out here without the query code:

- its output says which transfers went through, what the asyncio part did,
  each final balance and the audited total;
- each balance therefore started at its final value less the changes the
  output lists; tellers apply transfers in any order (two threads), one at a
  time (the bank's lock); the asyncio part runs after them, in order; then
  the auditor child gets the final balances and answers their total.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from conftest import record_example, squeezed, table_rows, view
from cinescope.store import History
from cinescope.store.queries import MISSING

OWNERS = ("alice", "bob", "carol", "dave")


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    cwd, proc = record_example(tmp_path_factory.mktemp("example"))
    store = cwd / ".cinescope" / "recordings.db"
    history = History(str(store))
    yield cwd, store, history, Printed(proc.stdout)
    history.__exit__(None, None, None)


class Printed:
    """What examples/bank printed, and what follows from it."""

    def __init__(self, stdout: str):
        self.transfers = [(int(n), src, dst, int(amount), None if status == "ok" else
                           status.removeprefix("FAILED: "))
                          for n, src, dst, amount, status in re.findall(
                              r"^transfer (\d+): (\w+) -> (\w+) (\d+) (ok|FAILED: .*)$",
                              stdout, re.M)]
        self.requests = []              # the asyncio requests, as the consumer got them
        for line in re.findall(r"^async (.*)$", stdout, re.M):
            if m := re.fullmatch(r"deposit: (\w+) \+(\d+)", line):
                self.requests.append(("deposit", m[1], int(m[2])))
            else:
                m = re.fullmatch(r"transfer: (\w+) -> (\w+) (\d+)", line)
                self.requests.append(("transfer", m[1], m[2], int(m[3])))
        self.final = {o: int(b) for o, b in re.findall(r"^balance (\w+): (\d+)$", stdout, re.M)}
        self.total = int(re.search(r"^audited total: (\d+)$", stdout, re.M)[1])
        assert len(self.transfers) == 5 and len(self.requests) == 3
        assert set(self.final) == set(OWNERS)

    def teller_changes(self, owner) -> Counter:
        """(method, delta) of each teller change of the owner's balance."""
        out = Counter()
        for _, src, dst, amount, error in self.transfers:
            if error is None:
                out[("Account.withdraw", -amount)] += src == owner
                out[("Account.deposit", amount)] += dst == owner
        return +out

    def async_changes(self, owner) -> list:
        """(method, delta, the calls open) of each asyncio change, in order."""
        out = []
        for kind, *args in self.requests:
            if kind == "deposit" and args[0] == owner:
                out.append(("Account.deposit", args[1], ["consumer", "Account.deposit"]))
            elif kind == "transfer":
                src, dst, amount = args
                if src == owner:
                    out.append(("Account.withdraw", -amount,
                                ["consumer", "move", "Account.withdraw"]))
                if dst == owner:
                    out.append(("Account.deposit", amount,
                                ["consumer", "move", "Account.deposit"]))
        return out

    def initial(self, owner) -> int:
        deltas = sum(d * n for (_, d), n in self.teller_changes(owner).items())
        return self.final[owner] - deltas - sum(d for _, d, _ in self.async_changes(owner))


def accounts(h) -> dict[str, int]:
    """owner -> the Account's object id."""
    return {h.value_history(obj, "owner")[0].new: obj for obj in h.objects("bank.accounts:Account")}


def plain(value):
    """A recorded value (docs/json.md) as the Python value it stands for."""
    if isinstance(value, dict) and value.get("type") == "tuple":
        return tuple(plain(v) for v in value["items"])
    if isinstance(value, dict) and value.get("type") == "dict":
        return {plain(k): plain(v) for k, v in value["items"]}
    return value


def test_the_balance_history_of_each_account(bank):
    _, _, h, printed = bank
    for owner, obj in accounts(h).items():
        changes = h.value_history(obj, "balance")
        first, rest = changes[0], changes[1:]
        assert (first.old, first.new, first.method, first.actor_name) == \
            (MISSING, printed.initial(owner), "Account.__init__", "MainProcess"), owner
        assert [c.old for c in rest] == [c.new for c in changes[:-1]], owner   # a chain
        assert changes[-1].new == printed.final[owner]
        tellers = [c for c in rest if c.actor_name.startswith("teller-")]
        later = [c for c in rest if c not in tellers]
        assert Counter((c.method, c.new - c.old) for c in tellers) == \
            printed.teller_changes(owner), owner
        assert [(c.method, c.new - c.old) for c in later] == \
            [(method, delta) for method, delta, _ in printed.async_changes(owner)], owner
        assert {c.actor_name for c in later} <= {"consumer"}
        assert changes == sorted(changes, key=lambda c: c.ts)
        assert all(t.ts < c.ts for t in tellers for c in later)    # asyncio after the tellers
    # the tellers moved money one transfer at a time: a withdrawal, then its deposit
    moves = [c for c in h.state_history("bank.accounts:Account.balance")
             if c.actor_name.startswith("teller-")]
    owner_of = {obj: owner for owner, obj in accounts(h).items()}
    pairs = [(owner_of[w.object], owner_of[d.object], d.new - d.old, w.old - w.new)
             for w, d in zip(moves[::2], moves[1::2])]
    assert Counter(p[:3] for p in pairs) == Counter(
        (src, dst, amount) for _, src, dst, amount, error in printed.transfers if error is None)
    assert all(p[2] == p[3] for p in pairs)


def test_the_history_view_of_a_balance(bank):
    cwd, store, h, printed = bank
    ids = accounts(h)
    for owner in ("dave", "alice"):
        rows = table_rows(view(store, "history", f"{ids[owner]}", "--attr", "balance", cwd=cwd))
        assert rows[0][4:] == ["Account.__init__", "balance", "(unset)",
                               str(printed.initial(owner))]
        assert rows[-1][-1] == str(printed.final[owner])
        assert len(rows) == 1 + sum(printed.teller_changes(owner).values()) + \
            len(printed.async_changes(owner))
    # dave's only transfer failed: his balance changed only in the asyncio part
    dave = table_rows(view(store, "history", f"{ids['dave']}", "--attr", "balance", cwd=cwd))
    assert [(r[2], r[4], int(r[7]) - int(r[6])) for r in dave[1:]] == \
        [("consumer", m, d) for m, d, _ in printed.async_changes("dave")]


def test_timelines_of_the_main_thread_and_the_tellers(bank):
    cwd, store, h, printed = bank
    main = h.timeline("MainProcess")
    calls = [e["location"]["function"] for e in main if e["kind"] == "call"]
    # main() builds four accounts and the bank, runs the tellers, the asyncio
    # part and the audit, which asks the bank for its total
    assert calls == ["main"] + ["Account.__init__"] * 4 + \
        ["Bank.__init__", "run_tellers", "run_async", "audit", "Bank.total"]
    spawns = [(e["data"]["kind"], e["data"]["name"]) for e in main if e["kind"] == "spawn"]
    assert spawns == [("thread", "teller-1"), ("thread", "teller-2"), ("task", "Task-1"),
                      ("process", "auditor")]
    sent = [plain(e["data"]["value"]) for e in main if e["kind"] == "send"]
    assert sent == [t[:4] for t in printed.transfers] + [None, None] + [printed.final]
    received = [plain(e["data"]["value"]) for e in main if e["kind"] == "receive"]
    assert Counter(received[:-1]) == Counter(printed.transfers) and \
        received[-1] == printed.total
    # the tellers between them got every request and one None each
    got = {name: [plain(e["data"]["value"]) for e in h.timeline(name) if e["kind"] == "receive"]
           for name in ("teller-1", "teller-2")}
    assert all(values[-1] is None and None not in values[:-1] for values in got.values())
    assert Counter(got["teller-1"][:-1] + got["teller-2"][:-1]) == \
        Counter(t[:4] for t in printed.transfers)
    # the failed transfer: raised in Account.withdraw, through move, answered with the error
    [failed] = [t for t in printed.transfers if t[4] is not None]
    [who] = [name for name, values in got.items() if failed[:4] in values]
    events = h.timeline(who)
    raises = [e for e in events if e["kind"] == "raise"]
    assert [e["location"]["function"] for e in raises] == ["Account.withdraw", "move"]
    assert {e["data"]["exception"]["message"] for e in raises} == {failed[4]}
    after = [e for e in events if e["kind"] == "send" and e["ts"] > raises[-1]["ts"]][0]
    assert plain(after["data"]["value"]) == failed
    # the text view of that teller lists the same events
    text = view(store, "timeline", "--actor", who, cwd=cwd)
    rows = [r for r in table_rows(text) if r[0].isdigit()]
    assert [int(r[0]) for r in rows] == [e["id"] for e in events]
    assert [r[-1] for r in rows if r[2] == "raise"] == \
        [f"bank.errors.InsufficientFunds: {failed[4]}"] * 2


def test_why_each_balance_is_what_it_is(bank):
    cwd, store, h, printed = bank
    for owner, obj in accounts(h).items():
        write = h.last_write(obj, "balance")
        assert write.change.new == printed.final[owner]
        stacks = printed.async_changes(owner)
        if stacks:          # changed last by the asyncio consumer
            method, delta, stack = stacks[-1]
            assert write.change.actor_name == "consumer"
        else:               # by a teller, withdrawing or depositing in a transfer
            delta = write.change.new - write.change.old
            method = "Account.withdraw" if delta < 0 else "Account.deposit"
            stack = ["teller", "move", method]
            assert write.change.actor_name.startswith("teller-")
        assert (write.change.method, write.change.new - write.change.old) == (method, delta)
        assert [f.function for f in write.stack] == stack
    # before the asyncio part, dave's balance was the one he opened with (his transfer failed)
    ids = accounts(h)
    first_async = min(c.event for c in h.state_history("bank.accounts:Account.balance")
                      if c.actor_name == "consumer")
    write = h.last_write(ids["dave"], "balance", before=first_async)
    assert (write.change.new, write.change.method) == (printed.initial("dave"),
                                                       "Account.__init__")
    assert [f.function for f in write.stack] == ["main", "Account.__init__"]
    # the text view says the same
    text = view(store, "why", f"{ids['dave']}.balance", cwd=cwd)
    method, delta, stack = printed.async_changes("dave")[-1]
    lines = text.splitlines()
    assert lines[0] == f"Account #{ids['dave']}.balance = {printed.final['dave']}  " \
        f"(was {printed.final['dave'] - delta})"
    assert re.search(r"in consumer$", lines[1]) and f"by {method} (call" in lines[2]
    assert [line.split()[1] for line in lines[4:]] == stack


def test_messages_of_the_example(bank):
    cwd, store, h, printed = bank
    flow = h.message_flow()
    assert all(m.received for m in flow)
    by_pair = {}
    for m in flow:
        pair = (m.send["actor_name"], m.receive["actor_name"])
        by_pair.setdefault(pair[0].split("-")[0] + ">" + pair[1].split("-")[0], []).append(
            plain(m.value))
    assert Counter(by_pair["MainProcess>teller"]) == \
        Counter([t[:4] for t in printed.transfers] + [None, None])
    assert Counter(by_pair["teller>MainProcess"]) == Counter(printed.transfers)
    assert by_pair["producer>consumer"] == printed.requests + [None]
    assert by_pair["MainProcess>auditor"] == [printed.final]
    assert by_pair["auditor>MainProcess"] == [printed.total]
    assert len(flow) == sum(len(v) for v in by_pair.values())
    # the text: every message received; long values wrap but are whole
    text = view(store, "messages", cwd=cwd, columns=None)
    assert text.splitlines()[0] == f"messages: {len(flow)}, {len(flow)} received, 0 not received"
    assert "(not received)" not in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) == 120      # a pipe's width without $COLUMNS
    [failed] = [t for t in printed.transfers if t[4] is not None]
    assert squeezed(repr(failed)) in squeezed(text)
    assert squeezed(repr(printed.final)) in squeezed(text)
    wide = view(store, "messages", cwd=cwd, columns="200")
    assert any(line.endswith(f"  {failed!r}") for line in wide.splitlines())
    assert len(table_rows(wide)) == len(flow)
