"""The views' text (rich tables and trees) on a recording of
tests/programs/q_bank.py, checked against what the program logged as it ran:
what a user reads, not how it is styled."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from conftest import record_bank, squeezed, table_rows, view
from cinescope.store import History


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("views")
    store, log = record_bank(tmp)
    with History(str(store)) as h:
        [account] = h.objects("q_bank:Account")
    return tmp, store, log, account


def actor(thread_name):
    return "MainProcess" if thread_name == "MainThread" else thread_name


def balance_changes(tmp, store):
    return [json.loads(line) for line in view(store, "history", "q_bank:Account.balance",
                                              "--json", cwd=tmp).splitlines()]


def test_timeline_is_a_table_of_the_actors_events(bank):
    tmp, store, log, account = bank
    text = view(store, "timeline", "--actor", "teller", cwd=tmp)
    events = [json.loads(line) for line in
              view(store, "timeline", "--actor", "teller", "--json", cwd=tmp).splitlines()]
    assert text.splitlines()[0] == f"timeline of teller: {len(events)} events, " \
        f"t={events[0]['t']:.6f} to {events[-1]['t']:.6f}"
    rows = table_rows(text)
    assert [(int(r[0]), r[1]) for r in rows] == [(e["id"], f"{e['t']:.6f}") for e in events]
    kinds = [r[2] for r in rows]
    deposits = [e for e in log if e[0] == "set" and e[4] == "Account.deposit"]
    assert kinds == ["call"] + ["receive", "call", "call", "state", "return", "return"] * \
        len(deposits) + ["receive", "return", "exit"]
    # what was received, and each deposit's old -> new, as the program logged them
    assert [r[-1] for r in rows if r[2] == "receive"] == \
        [repr(e[2]) for e in log if e[0] == "receive"]
    assert [r[-1] for r in rows if r[2] == "state"] == \
        [f"balance: {old} -> {new}" for _, _, old, new, _, _ in deposits]
    # callees are indented under their callers
    lines = [line for line in text.splitlines() if re.match(r"\s*\d+\s", line)]
    column = {name: min(line.index(name) for line in lines if f" {name} " in line)
              for name in ("teller", "audit", "Account.deposit")}
    assert column["teller"] < column["audit"] < column["Account.deposit"]
    assert [r[3] for r in rows if r[2] == "call"] == ["teller"] + \
        ["audit", "Account.deposit"] * len(deposits)
    # a window that starts inside calls indents them as deep as they are
    first = next(e for e in events if e["kind"] == "call"
                 and e["location"]["function"] == "Account.deposit")
    window = view(store, "timeline", "--actor", "teller", "--from", repr(first["t"]), cwd=tmp)
    lines = [line for line in window.splitlines() if re.match(r"\s*\d+\s", line)]
    assert lines[0].split()[:4] == [str(first["id"]), f"{first['t']:.6f}", "call",
                                    "Account.deposit"]
    start = {kind: next(line.index(f" {name} ") for line in lines if f" {kind} " in line and
                        f" {name} " in line)
             for kind, name in (("receive", "teller"), ("return", "audit"),
                                ("state", "Account.deposit"))}
    assert start["return"] - start["receive"] == 2 and start["state"] - start["receive"] == 4


def test_history_is_a_table_of_each_change(bank):
    tmp, store, log, account = bank
    text = view(store, "history", "q_bank:Account.balance", cwd=tmp)
    rows = table_rows(text)
    sets = [e for e in log if e[0] == "set"]
    assert text.splitlines()[0] == f"history of q_bank:Account.balance: {len(sets) + 1} " \
        "changes of 1 object"
    first, rest = rows[0], rows[1:]
    assert first[2:] == ["MainProcess", f"Account #{account}", "Account.__init__", "balance",
                         "(unset)", "10"]
    assert [r[2:] for r in rest] == [
        [actor(thread), f"Account #{account}", method, "balance", str(old), str(new)]
        for _, _, old, new, method, thread in sets]
    assert [int(r[0]) for r in rows] == [c["event"] for c in balance_changes(tmp, store)]
    # one object by id, every attribute
    by_id = table_rows(view(store, "history", str(account), cwd=tmp))
    assert {r[5] for r in by_id} == {"owner", "balance"}
    assert ["'ann'"] == [r[7] for r in by_id if r[5] == "owner"]


def test_messages_table_flags_the_send_nobody_received(bank):
    tmp, store, log, _ = bank
    text = view(store, "messages", cwd=tmp)
    sent = [e[2] for e in log if e[0] == "send"]
    assert text.splitlines()[0] == f"messages: {len(sent)}, {len(sent) - 1} received, " \
        "1 not received"
    rows = table_rows(text)
    assert [r[-1] for r in rows] == [repr(v) for v in sent]
    *received, lost = rows
    assert all(r[2:4] == ["MainProcess", "teller"] and r[5].isdigit() for r in received)
    assert lost[2:6] == ["MainProcess", "(not received)", lost[4], "-"]
    assert lost[4].startswith("Queue #") and lost[-1] == "'left'"
    # between two actors: the receiver's messages and the sender's lost one
    rows = table_rows(view(store, "messages", "--from", "MainProcess", "--to", "teller",
                           cwd=tmp))
    assert [r[-1] for r in rows] == [repr(v) for v in sent]
    assert view(store, "messages", "--from", "teller", cwd=tmp).splitlines() == \
        ["messages from teller: 0, 0 received, 0 not received"]


def test_stack_is_a_tree_of_the_open_calls(bank):
    tmp, store, log, account = bank
    deposit = [c for c in balance_changes(tmp, store) if c["method"] == "Account.deposit"][1]
    text = view(store, "stack", "--at", str(deposit["event"]), cwd=tmp)
    frames = [json.loads(line) for line in
              view(store, "stack", "--at", str(deposit["event"]), "--json",
                   cwd=tmp).splitlines()]
    head, *lines = text.splitlines()
    assert head.startswith(f"call stack at event {deposit['event']}  (teller, t=")
    assert head.endswith(", state)")
    found = [re.match(r"^([\s│├└─`|-]*)(\S+)  (\S+)  call (\d+)(?:  on (.+))?$", line)
             for line in lines]
    assert all(found), lines
    assert [(m[2], int(m[4])) for m in found] == \
        [("teller", frames[0]["call"]), ("audit", frames[1]["call"]),
         ("Account.deposit", deposit["call"])]
    assert [m[3].split(":")[0] for m in found] == ["q_bank.py"] * 3
    assert [len(m[1]) for m in found] == sorted(len(m[1]) for m in found)   # deeper, further in
    assert len({len(m[1]) for m in found}) == 3
    assert found[-1][5] == f"Account #{account}" and found[0][5] is None


def test_why_names_the_last_write_its_method_and_its_stack(bank):
    tmp, store, log, account = bank
    changes = balance_changes(tmp, store)
    deposits = [c for c in changes if c["method"] == "Account.deposit"]
    text = view(store, "why", "q_bank:Account.balance", "--at", str(deposits[1]["event"]),
                cwd=tmp)
    _, _, old, new, _, thread = [e for e in log if e[0] == "set"][0]     # the first deposit
    lines = text.splitlines()
    assert lines[0] == f"Account #{account}.balance = {new}  (was {old})"
    assert re.search(rf"set at event {deposits[0]['event']}, t=[\d.]+, in {thread}$", lines[1])
    assert lines[2].endswith(f"by Account.deposit (call {deposits[0]['call']})")
    assert lines[3].endswith("called from")
    assert [re.search(r"(\S+)  q_bank\.py:\d+  call \d+", line)[1] for line in lines[4:]] == \
        ["teller", "audit", "Account.deposit"]
    assert lines[-1].endswith(f"call {deposits[0]['call']}  on Account #{account}")
    # the first value ever set: no earlier one
    first = view(store, "why", f"{account}.balance", "--at", str(deposits[0]["event"]),
                 cwd=tmp).splitlines()
    assert first[0] == f"Account #{account}.balance = 10  (set for the first time)"
    assert first[2].endswith(f"by Account.__init__ (call {changes[0]['call']})")
    assert view(store, "why", f"{account}.balance", "--at", str(changes[0]["event"]),
                cwd=tmp) == f"nothing set {account}.balance before event {changes[0]['event']}\n"


def test_replay_shows_where_it_is_after_each_command(bank):
    tmp, store, log, account = bank
    change = [c for c in balance_changes(tmp, store) if c["method"] == "Account.deposit"][1]
    text = view(store, "replay", "--actor", "teller", "--at", str(change["event"]), cwd=tmp,
                input=f"back\nback\nwhere\nprint {account}\nlocals\nfrobnicate\nseek 999999\n"
                      "back in\nquit\n")
    lines = text.splitlines()
    heads = [line.split() for line in lines if line.startswith("event ")]
    # event ID  t=T  ACTOR  KIND  FUNCTION  FILE:LINE
    assert [(h[1], h[3], h[4], h[5], h[6]) for h in heads] == [
        (str(change["event"]), "teller", "state", "Account.deposit", "q_bank.py:17"),
        (str(change["call"]), "teller", "call", "Account.deposit", "q_bank.py:17"),
        (heads[2][1], "teller", "call", "audit", "q_bank.py:32"),
        (heads[3][1], "teller", "receive", "teller", "q_bank.py:37")]
    # at the state event: what changed, and the calls open
    _, _, old, new, _, _ = [e for e in log if e[0] == "set"][1]
    assert lines[0].split()[:2] == ["event", str(change["event"])]
    assert lines[1].strip() == f"balance: {old} -> {new}"
    assert lines[2].strip() == "in teller > audit > Account.deposit"
    # where: the stack at the call of audit, as a tree
    where = lines.index(next(line for line in lines if line.startswith("call stack at event")))
    assert lines[where].startswith(f"call stack at event {heads[2][1]}  (teller, t=")
    assert [line.split()[1] for line in lines[where + 1:where + 3]] == ["teller", "audit"]
    # print: the account as it was before the deposit; locals: the call's arguments
    shown = lines.index(f"Account #{account} at event {heads[2][1]}")
    assert [line.split() for line in lines[shown + 1:shown + 3]] == \
        [["owner", "=", "'ann'"], ["balance", "=", str(old)]]
    assert lines[shown + 3] == f"locals at event {heads[2][1]}"
    assert lines[shown + 4].split() == ["account", "=", "<__main__.Account>"]
    assert lines[shown + 5].split() == ["amount", "=", "7"]
    assert lines[shown + 6] == "error: unknown command 'frobnicate'; `help` lists them"
    assert lines[shown + 7].startswith("error: session") and "no event 999999" in lines[shown + 7]
    # back in: to what the teller received before
    assert lines[-2:] == ["  7", "  in teller"]


def test_text_is_plain_in_a_pipe_and_coloured_in_a_terminal(bank):
    tmp, store, _, _ = bank
    change = [c for c in balance_changes(tmp, store) if c["method"] == "Account.deposit"][1]
    args = ("stack", "--at", str(change["event"]))
    piped = view(store, *args, cwd=tmp, env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
    assert "\x1b" not in piped
    shown = run_in_terminal(["stack", "--store", str(store), *args[1:]], cwd=tmp, columns=100)
    assert "\x1b[" in shown
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown).replace("\r\n", "\n")
    assert [line.rstrip() for line in plain.splitlines()] == piped.splitlines()


def test_a_narrow_table_wraps_and_loses_nothing(bank):
    tmp, store, _, _ = bank
    wide = view(store, "timeline", "--actor", "teller", cwd=tmp)
    narrow = view(store, "timeline", "--actor", "teller", cwd=tmp, columns="70")
    assert max(len(line) for line in wide.splitlines()) > 70
    assert max(len(line) for line in narrow.splitlines()) <= 70
    assert len(narrow.splitlines()) > len(wide.splitlines())

    def characters(text):                # every character but spaces and the header's rule
        return sorted(squeezed("".join(line for line in text.splitlines()
                                       if set(line.strip()) - set("─"))))
    assert characters(narrow) == characters(wide)
    assert "..." not in narrow and "…" not in narrow
    # event ids and times are never split
    first = [line.split()[:2] for line in narrow.splitlines()
             if re.match(r" *\d+  \d+\.\d{6} ", line)]
    assert first == [r[:2] for r in table_rows(wide)]


def run_in_terminal(args, cwd, columns: int) -> str:
    """`python -m cinescope ARGS` with its stdout a terminal `columns` wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([sys.executable, "-m", "cinescope", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:                 # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    proc.stderr.close()
    return b"".join(chunks).decode()


def test_values_read_as_python_shows_them(record):
    """tests/programs/v_shown.py passes values of many shapes to show() and
    prints each one's repr: the timeline shows the same, or says what the
    recording's bounds cut (max_string 200, max_items 20) and what was secret."""
    rec = record("v_shown.py", trace=["v_shown"])
    assert rec.returncode == 0, rec.stderr
    expected = rec.stdout.splitlines()
    assert expected[14] == repr("x" * 300) and expected[16] == "{'password': 'hunter2'}"
    expected[14] = repr("x" * 200) + "... (300 chars)"
    expected[15] = "[" + ", ".join(map(str, range(20))) + ", ... 25 items]"
    expected[16] = "{'password': <redacted>}"
    rows = table_rows(view(rec.store, "timeline", cwd=rec.store.parent, columns="1000"))
    assert [r[-1] for r in rows if r[2:4] == ["call", "show"]] == \
        [f"value={e}" for e in expected]
    assert [r[-1] for r in rows if r[2:4] == ["return", "show"]] == [f"-> {e}" for e in expected]
