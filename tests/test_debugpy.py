"""Recording keeps working while debugpy is attached and stops the program."""
import json
import os
import socket
import subprocess
import sys

from conftest import PROGRAMS
from cinescope.store import Store

PROGRAM = PROGRAMS / "under_debugpy.py"
BREAKPOINT_LINE = next(i for i, line in enumerate(PROGRAM.read_text().splitlines(), 1)
                       if "# @bp" in line)


class DapClient:
    """Just enough of a Debug Adapter Protocol client to attach and step."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""
        self.seq = 0
        self.unread = []     # messages that arrived while another was awaited

    def send(self, command, **arguments):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def read(self):
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = int(header.split(b":")[1])
        while len(self.buffer) < length:
            self.buffer += self._recv()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return json.loads(body)

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the debug adapter closed the connection")
        return data

    def wait_for(self, predicate):
        for i, message in enumerate(self.unread):
            if predicate(message):
                return self.unread.pop(i)
        while True:
            message = self.read()
            if predicate(message):
                return message
            self.unread.append(message)


def test_recording_under_an_attached_debugger(tmp_path):
    store = tmp_path / "store.db"
    env = dict(os.environ)
    env.pop("CINESCOPE_BACKEND", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinescope", "record", "--store", str(store),
         "--trace", "under_debugpy", str(PROGRAM)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline().split()[1])
        dap = DapClient(port)
        dap.send("initialize", adapterID="debugpy", clientID="cinescope-test",
                 linesStartAt1=True, columnsStartAt1=True, pathFormat="path")
        dap.wait_for(lambda m: m.get("command") == "initialize")
        dap.send("attach", justMyCode=True)
        dap.wait_for(lambda m: m.get("event") == "initialized")
        dap.send("setBreakpoints", source={"path": str(PROGRAM)},
                 breakpoints=[{"line": BREAKPOINT_LINE}])
        response = dap.wait_for(lambda m: m.get("command") == "setBreakpoints")
        assert response["body"]["breakpoints"][0]["verified"]
        dap.send("configurationDone")
        dap.send("threads")
        threads = dap.wait_for(lambda m: m.get("command") == "threads")["body"]["threads"]
        # Cinescope's own flusher thread is hidden from the debugger
        assert [t["name"] for t in threads] == ["MainThread"]
        main_thread = threads[0]["id"]
        stops = 0
        while stops < 5:    # deposit runs five times; debugpy stops at each
            stopped = dap.wait_for(lambda m: m.get("event") == "stopped")
            assert stopped["body"]["reason"] == "breakpoint"
            stops += 1
            assert stopped["body"]["threadId"] == main_thread
            dap.send("continue", threadId=stopped["body"]["threadId"])
        dap.wait_for(lambda m: m.get("event") == "terminated")
        dap.send("disconnect")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "result 10" in out
    with Store(str(store)) as s:
        events = s.events()
    deposits = [e for e in events if e["kind"] == "call"
                and e["location"]["function"] == "Account.deposit"]
    assert [d["data"]["args"]["amount"] for d in deposits] == [0, 1, 2, 3, 4]
    balances = [e["data"]["changes"]["balance"]["new"] for e in events if e["kind"] == "state"]
    assert balances == [0, 1, 3, 6, 10]     # deposit(0) changes nothing
