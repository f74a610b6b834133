"""`cinescope dap` faults and bad input: every request gets an answer or the
session a `terminated` event, never a hang, and the recording is kept.
(The editor's view of a whole session is in tests/dap/e2e.test.js.)"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import PROGRAMS
from cinescope.store import Store

BANK = PROGRAMS / "dap_bank.py"


def bank_line(text: str) -> int:
    return next(i for i, line in enumerate(BANK.read_text().splitlines(), 1) if text in line)


DEPOSIT = bank_line("# @bp deposit")


class Session:
    """A DAP client on `cinescope dap`'s stdio; every wait has a deadline."""

    def __init__(self, cwd=None, sock=None):
        """`cinescope dap` started on stdio in `cwd`, or a connection `sock`."""
        if sock is None:
            env = dict(os.environ)
            env.pop("CINESCOPE_BACKEND", None)
            self.proc = subprocess.Popen([sys.executable, "-m", "cinescope", "dap"], cwd=cwd,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self._in, self._out = self.proc.stdout, self.proc.stdin
        else:
            self.proc, self.sock = None, sock
            self._in, self._out = sock.makefile("rb"), sock.makefile("wb")
        self.seq = 0
        self.messages: list = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self._in
        while True:
            header = out.readline()
            if not header:
                break
            length = int(header.split(b":")[1])
            out.readline()
            message = json.loads(out.read(length))
            with self.cond:
                self.messages.append(message)
                self.cond.notify_all()
        with self.cond:
            self.messages.append(None)
            self.cond.notify_all()

    def raw(self, body: bytes):
        self._out.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._out.flush()

    def send(self, command, **arguments):
        self.seq += 1
        self.raw(json.dumps({"seq": self.seq, "type": "request", "command": command,
                             "arguments": arguments}).encode())
        return self.seq

    def wait(self, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.messages):
                    if m is not None and predicate(m):
                        return self.messages.pop(i)
                if None in self.messages:
                    raise AssertionError("the server closed the stream")
                left = deadline - time.monotonic()
                assert left > 0, f"no answer in {timeout} s: {self.messages[-5:]}"
                self.cond.wait(left)

    def request(self, command, **arguments):
        seq = self.send(command, **arguments)
        return self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq)

    def event(self, name, timeout=30):
        return self.wait(lambda m: m.get("event") == name, timeout)

    def launch(self, breakpoints=(), **arguments):
        self.request("initialize", adapterID="python", linesStartAt1=True,
                     columnsStartAt1=True, pathFormat="path")
        seq = self.send("launch", console="internalConsole", **arguments)
        self.event("initialized")
        if breakpoints:
            self.request("setBreakpoints", source={"path": arguments["program"]},
                         breakpoints=[{"line": line} for line in breakpoints])
        self.request("configurationDone")
        return self.wait(lambda m: m.get("request_seq") == seq)

    def close(self):
        try:
            self._out.close()
        except OSError:
            pass
        if self.proc is None:
            self.sock.close()
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def dap(tmp_path):
    session = Session(tmp_path)
    yield session
    session.close()


def test_malformed_messages_get_an_error_and_the_session_goes_on(dap):
    dap.raw(b"{not json")
    bad = dap.wait(lambda m: m.get("type") == "response")
    assert not bad["success"] and "malformed message" in bad["message"]
    dap.raw(json.dumps({"seq": 7, "type": "nonsense"}).encode())
    bad = dap.wait(lambda m: m.get("type") == "response")
    assert not bad["success"] and bad["request_seq"] == 7
    ok = dap.request("initialize", adapterID="python")
    assert ok["success"] and ok["body"]["supportsStepBack"] is True


def test_an_unknown_request_is_answered_by_debugpy(dap):
    dap.request("initialize", adapterID="python")
    answer = dap.request("noSuchRequest")
    assert answer["success"] is False


def test_a_bad_launch_configuration_says_what_to_fix(dap, tmp_path):
    dap.request("initialize", adapterID="python")
    answer = dap.request("launch", program=str(BANK), cinescope="yes")
    assert not answer["success"] and '"cinescope"' in answer["message"]
    answer = dap.request("launch", code="print(1)")
    assert not answer["success"] and '"record": false' in answer["message"]
    answer = dap.request("attach", listen={"port": 1}, cinescope=["rec.db"])
    assert not answer["success"] and '{"store": ' in answer["message"]
    # debugpy's adapter in the program is reached directly, not through this server
    answer = dap.request("attach", connect={"host": "127.0.0.1", "port": 5678})
    assert not answer["success"] and '"listen"' in answer["message"]


def test_step_back_without_a_recording_is_an_error_not_a_hang(dap, tmp_path):
    response = dap.launch([DEPOSIT], program=str(BANK), cwd=str(tmp_path),
                          cinescope={"record": False})
    assert response["success"]
    stopped = dap.event("stopped")
    for command in ("stepBack", "reverseContinue"):
        answer = dap.request(command, threadId=stopped["body"]["threadId"])
        assert not answer["success"] and "not recording" in answer["message"]
    dap.request("disconnect", terminateDebuggee=True)


def test_a_crashing_program_ends_the_session_and_keeps_its_recording(dap, tmp_path):
    program = tmp_path / "crash.py"
    program.write_text("def boom(n):\n    return 1 / n\n\nboom(2)\nboom(0)\n")
    dap.launch(program=str(program), cwd=str(tmp_path),
               cinescope={"store": "rec.db", "trace": ["crash"]})
    exited = dap.event("exited")
    dap.event("terminated")
    assert exited["body"]["exitCode"] == 1
    with Store(str(tmp_path / "rec.db")) as store:
        events = [(e["kind"], (e["location"] or {}).get("function"))
                  for e in store.events(store.session(None)["id"])]
    assert ("call", "boom") in events and ("raise", "boom") in events


def test_debugpy_dying_terminates_the_session_with_the_reason(dap, tmp_path):
    dap.launch([DEPOSIT], program=str(BANK), cwd=str(tmp_path),
               cinescope={"store": "rec.db", "trace": ["dap_bank"]})
    stopped = dap.event("stopped")
    # the history scopes of the stop: the store has caught up with the program
    frames = dap.request("stackTrace", threadId=stopped["body"]["threadId"])
    scopes = dap.request("scopes", frameId=frames["body"]["stackFrames"][0]["id"])
    assert "History: self" in [s["name"] for s in scopes["body"]["scopes"]]
    children = open(f"/proc/{dap.proc.pid}/task/{dap.proc.pid}/children").read().split()
    assert children, "the server runs debugpy's adapter as its child"
    for pid in children:
        os.kill(int(pid), signal.SIGKILL)
    answer = dap.request("threads")       # answered, not left waiting
    assert not answer["success"]
    reason = dap.wait(lambda m: m.get("event") == "output"
                      and "cinescope:" in m["body"].get("output", ""))
    assert "adapter" in reason["body"]["output"] and "recording is kept" in reason["body"]["output"]
    dap.event("terminated")
    assert stopped["body"]["threadId"]
    with Store(str(tmp_path / "rec.db")) as store:     # what ran before is there
        events = list(store.events(store.session(None)["id"]))
    calls = [(e["location"] or {}).get("function") for e in events if e["kind"] == "call"]
    assert "main" in calls and "Account.deposit" in calls, events[:5]


def test_a_missing_store_leaves_the_stop_usable_and_says_why(dap, tmp_path):
    dap.launch([DEPOSIT], program=str(BANK), cwd=str(tmp_path),
               cinescope={"store": "rec.db", "trace": ["dap_bank"]})
    stopped = dap.event("stopped")
    for path in tmp_path.glob("rec.db*"):
        path.unlink()           # the store went away under the session
    frames = dap.request("stackTrace", threadId=stopped["body"]["threadId"])
    scopes = dap.request("scopes", frameId=frames["body"]["stackFrames"][0]["id"])["body"]
    names = [s["name"] for s in scopes["scopes"]]
    assert "Locals" in names and "History" in names
    history = next(s for s in scopes["scopes"] if s["name"] == "History")
    why = dap.request("variables", variablesReference=history["variablesReference"])
    assert "rec.db" in why["body"]["variables"][0]["value"]
    dap.request("disconnect", terminateDebuggee=True)


def test_a_stream_out_of_step_ends_the_session_with_a_reason(tmp_path):
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "cinescope", "dap"], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        _, err = proc.communicate(b"Content-Length: many\r\n\r\n{}", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"Content-Length is not a number" in err and b"ending the session" in err


def test_hover_and_custom_requests_answer_from_the_recording(dap, tmp_path):
    dap.launch([DEPOSIT], program=str(BANK), cwd=str(tmp_path),
               cinescope={"store": "rec.db", "trace": ["dap_bank"]})
    stopped = dap.event("stopped")          # deposit(1) on the main thread
    thread = stopped["body"]["threadId"]
    frame = dap.request("stackTrace", threadId=thread)["body"]["stackFrames"][0]["id"]
    hover = dap.request("evaluate", expression="self.balance", frameId=frame, context="hover")
    assert hover["body"]["result"] == "100    recorded: 100 (last in Account.__init__)"
    changes = dap.request("variables", variablesReference=hover["body"]["variablesReference"])
    assert [v["value"] for v in changes["body"]["variables"]] == ["<not set> → 100"]
    plain = dap.request("evaluate", expression="self.balance + amount", frameId=frame,
                        context="hover")
    assert plain["body"]["result"] == "101"       # anything else is debugpy's answer

    history = dap.request("cinescope/stateHistory", target="dap_bank:Account.balance")
    assert [(c["old"], c["new"], c["method"]) for c in history["body"]["changes"]] == \
        [({"missing": True}, 100, "Account.__init__")]
    timeline = dap.request("cinescope/timeline", threadId=thread)["body"]
    calls = [(e["location"] or {}).get("function") for e in timeline["events"]
             if e["kind"] == "call"]
    assert calls == ["main", "Account.__init__", "Account.deposit"]

    dap.request("continue", threadId=thread)
    teller = dap.event("stopped")["body"]["threadId"]     # deposit(5) on the teller
    assert teller != thread
    dap.request("stackTrace", threadId=teller)       # as an editor does at each stop
    answer = dap.request("cinescope/messages", receiver="teller")
    assert answer["success"], answer.get("message")
    flow = answer["body"]["messages"]
    assert flow[0]["value"] == 5 and flow[0]["receive"]["actor_name"] == "teller"
    assert flow[0]["send"]["actor_name"] == "MainProcess"
    bad = dap.request("cinescope/stateHistory", target="nowhere:Nothing")
    assert not bad["success"] and "recorded no object" in bad["message"]
    missing = dap.request("cinescope/timeline")
    assert not missing["success"] and '"threadId"' in missing["message"]
    dap.request("disconnect", terminateDebuggee=True)


CHILDREN = PROGRAMS / "dap_children.py"
CHILD_ADD = next(i for i, line in enumerate(CHILDREN.read_text().splitlines(), 1)
                 if "# @bp child-add" in line)


def test_a_child_process_session_passes_through_the_server_with_its_history(dap, tmp_path):
    dap.request("initialize", adapterID="python", linesStartAt1=True, columnsStartAt1=True,
                pathFormat="path", supportsStartDebuggingRequest=True)
    launched = dap.send("launch", console="internalConsole", program=str(CHILDREN),
                        cwd=str(tmp_path), subProcess=True,
                        cinescope={"store": "rec.db", "trace": ["__main__"]})
    dap.event("initialized")
    dap.request("configurationDone")
    assert dap.wait(lambda m: m.get("request_seq") == launched)["success"]
    parent_sockets = {s["port"] for e in [dap.event("debugpySockets")]
                      for s in e["body"]["sockets"]}

    # debugpy asks the editor to start the child's session: at this server's port
    start = dap.wait(lambda m: m.get("command") == "startDebugging", timeout=60)
    dap.raw(json.dumps({"seq": 1000, "type": "response", "request_seq": start["seq"],
                        "command": "startDebugging", "success": True}).encode())
    config = start["arguments"]["configuration"]
    assert config["connect"]["host"] == "127.0.0.1"
    assert config["connect"]["port"] not in parent_sockets       # not debugpy's own port
    child = Session(sock=socket.create_connection(("127.0.0.1", config["connect"]["port"])))
    try:
        init = child.request("initialize", adapterID="python", linesStartAt1=True,
                             columnsStartAt1=True, pathFormat="path")
        assert init["body"]["supportsStepBack"] is True
        attached = child.send("attach", **config)
        child.event("initialized")
        child.request("setBreakpoints", source={"path": str(CHILDREN)},
                      breakpoints=[{"line": CHILD_ADD}])
        child.request("configurationDone")
        assert child.wait(lambda m: m.get("request_seq") == attached)["success"]

        stopped = child.event("stopped", timeout=60)       # add(1) in the child
        thread = stopped["body"]["threadId"]
        child.request("continue", threadId=thread)
        child.event("stopped")                             # add(2): total was set to 1
        frame = child.request("stackTrace", threadId=thread)["body"]["stackFrames"][0]
        assert (frame["name"], frame["line"]) == ("add", CHILD_ADD)
        scopes = {s["name"]: s for s in
                  child.request("scopes", frameId=frame["id"])["body"]["scopes"]}
        timeline = child.request("variables", variablesReference=scopes["History: self"][
            "variablesReference"])["body"]["variables"]
        assert [v["value"].split("  ")[0] for v in timeline[1:]] == ["<not set> → 0", "0 → 1"]
        assert "Process-1" in timeline[-1]["value"]

        child.request("stepBack", threadId=thread)          # the child's own recording
        back = child.event("stopped")
        assert back["body"]["description"].startswith("step back: recorded moment")
        top = child.request("stackTrace", threadId=thread)["body"]["stackFrames"][0]
        assert top["name"].startswith("Counter.add [recorded")

        child.request("setBreakpoints", source={"path": str(CHILDREN)}, breakpoints=[])
        child.request("continue", threadId=thread)          # history: back to live
        child.event("stopped")
        child.request("continue", threadId=thread)
        dap.event("terminated", timeout=60)
        with dap.cond:
            printed = "".join(m["body"]["output"] for m in dap.messages
                              if m is not None and m.get("event") == "output"
                              and m["body"].get("category") == "stdout")
        assert printed == "child total 6\n"
    finally:
        child.close()


def test_attach_to_a_program_recording_under_debugpy(dap, tmp_path):
    # the editor's attach "listen": debugpy's adapter waits for the program to connect
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dap.request("initialize", adapterID="python", linesStartAt1=True,
                columnsStartAt1=True, pathFormat="path")
    attached = dap.send("attach", listen={"host": "127.0.0.1", "port": port},
                        cwd=str(tmp_path), justMyCode=True, cinescope={"store": "rec.db"})
    env = dict(os.environ)
    env.pop("CINESCOPE_BACKEND", None)
    program = subprocess.Popen(
        [sys.executable, "-m", "debugpy", "--connect", f"127.0.0.1:{port}", "-m", "cinescope",
         "record", "--store", "rec.db", "-q", "--trace", "dap_bank", str(BANK)],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True, env=env)
    try:
        dap.event("initialized", timeout=60)
        dap.request("setBreakpoints", source={"path": str(BANK)},
                    breakpoints=[{"line": DEPOSIT}])
        dap.request("configurationDone")
        assert dap.wait(lambda m: m.get("request_seq") == attached)["success"]
        thread = dap.event("stopped")["body"]["threadId"]      # deposit(1)
        frames = dap.request("stackTrace", threadId=thread)["body"]["stackFrames"]
        assert [f["line"] for f in frames[:2]] == [DEPOSIT, bank_line("account.deposit(1)")]
        assert len(frames) == 3          # deposit, main, <module>: cinescope's are hidden
        scopes = {s["name"]: s for s in
                  dap.request("scopes", frameId=frames[0]["id"])["body"]["scopes"]}
        state = dap.request("variables", variablesReference=scopes["History: self"][
            "variablesReference"])["body"]["variables"][0]
        assert (state["name"], state["value"]) == ("state", "{'balance': 100, 'log': []}")
        dap.request("stepBack", threadId=thread)
        assert dap.event("stopped")["body"]["description"].startswith("step back: recorded")
        dap.request("setBreakpoints", source={"path": str(BANK)}, breakpoints=[])
        dap.request("continue", threadId=thread)            # history: back to live
        dap.event("stopped")
        dap.request("continue", threadId=thread)
        out, _ = program.communicate(timeout=60)
        assert out == "balance 136 total 137\n" and program.returncode == 0
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
