"""What `cinescope dap` costs at a stop, on a recording of about 1 M events.

    python benchmarks/dap.py [--adds 111000] [--rounds 3] [--requests 200]

Debugs benchmarks/workloads/dap_meter.py under `cinescope dap` (level debug,
everything in the workload planned: each add is a call, a return and a state
change), stopping after each round of adds. Prints, in milliseconds:

- stop -> scopes with history: from the `stopped` event to the stack, the
  scopes and the variables of every scope of the top frame (what an editor
  asks at a stop), at each stop and so at each size of the recording;
- one Step Back: the request, its `stopped` event, and the same stack, scopes
  and variables, from the recording;
- proxy cost: `threads`, `stackTrace` and `evaluate` sent many times to a
  stopped program through plain debugpy's adapter and through cinescope dap
  in the same run; the median of each and the difference.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import debugpy

from cinescope.dap_server.wire import Reader, Writer
from cinescope.store import Store

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "workloads", "dap_meter.py")
HISTORY_SCOPES = {"History: self", "Messages", "Recent calls", "Locals (recorded)"}
BP = next(i for i, line in enumerate(open(PROGRAM).read().splitlines(), 1) if "# @bp" in line)


class Client:
    def __init__(self, argv, cwd):
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.reader, self.writer = Reader(self.proc.stdout), Writer(self.proc.stdin)
        self.seq = 0
        self.backlog: list = []

    def send(self, command, **arguments):
        self.seq += 1
        self.writer.write({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments})
        return self.seq

    def wait(self, predicate):
        for i, m in enumerate(self.backlog):
            if predicate(m):
                return self.backlog.pop(i)
        while True:
            m = self.reader.read()
            if m is None:
                raise SystemExit("the adapter closed the stream")
            if predicate(m):
                return m
            self.backlog.append(m)

    def request(self, command, **arguments):
        seq = self.send(command, **arguments)
        response = self.wait(lambda m: m.get("type") == "response"
                             and m.get("request_seq") == seq)
        if not response["success"]:
            raise SystemExit(f"{command} failed: {response.get('message')}")
        return response.get("body") or {}

    def stopped(self):
        return self.wait(lambda m: m.get("event") == "stopped")["body"]

    def launch(self, args: dict):
        self.request("initialize", adapterID="python", linesStartAt1=True,
                     columnsStartAt1=True, pathFormat="path")
        seq = self.send("launch", console="internalConsole", **args)
        self.wait(lambda m: m.get("event") == "initialized")
        self.request("setBreakpoints", source={"path": PROGRAM}, breakpoints=[{"line": BP}])
        self.request("configurationDone")
        self.wait(lambda m: m.get("request_seq") == seq)

    def look(self, thread_id) -> dict:
        """What an editor asks at a stop: the stack, the top frame's scopes, and
        every scope's variables. Milliseconds for each part, and the scopes."""
        t0 = time.perf_counter()
        frames = self.request("stackTrace", threadId=thread_id)["stackFrames"]
        t1 = time.perf_counter()
        scopes = self.request("scopes", frameId=frames[0]["id"])["scopes"]
        t2 = time.perf_counter()
        ours = debugpys = 0.0
        for scope in scopes:
            t = time.perf_counter()
            self.request("variables", variablesReference=scope["variablesReference"])
            took = time.perf_counter() - t
            if scope["name"] in HISTORY_SCOPES:
                ours += took
            else:
                debugpys += took
        return {"stack": ms(t1 - t0), "scopes": ms(t2 - t1), "history": ms(ours),
                "variables": ms(debugpys), "total": ms(time.perf_counter() - t0),
                "names": [s["name"] for s in scopes]}

    def close(self):
        try:
            self.request("disconnect", terminateDebuggee=True)
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=30)


def ms(seconds: float) -> float:
    return seconds * 1000


def history_figures(args, tmp):
    cinescope = os.path.join(os.path.dirname(sys.executable), "cinescope")
    c = Client([cinescope, "dap"], tmp)
    c.launch({"program": PROGRAM, "args": [str(args.adds), str(args.rounds)], "cwd": tmp,
              "cinescope": {"store": "rec.db", "trace": ["dap_meter"]}})
    rows = []
    for r in range(args.rounds):
        stop = c.stopped()
        look = c.look(stop["threadId"])
        with Store(os.path.join(tmp, "rec.db")) as store:
            look["events"] = store.session(None)["events_written"]
        rows.append(look)
        assert "History: self" in look["names"], look["names"]
        if r < args.rounds - 1:
            c.request("continue", threadId=stop["threadId"])
    backs = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        c.send("stepBack", threadId=stop["threadId"])
        back = c.stopped()
        look = c.look(back["threadId"])
        look["total"] = ms(time.perf_counter() - t0)
        backs.append(look)
    c.close()
    return rows, backs


def proxy_figures(args, tmp):
    adapter = os.path.join(os.path.dirname(debugpy.__file__), "adapter")
    cinescope = os.path.join(os.path.dirname(sys.executable), "cinescope")
    out = {}
    for name, argv, extra in (
            ("debugpy", [sys.executable, adapter], {}),
            ("cinescope dap", [cinescope, "dap"], {"cinescope": {"store": "proxy.db",
                                                                 "trace": ["dap_meter"]}})):
        c = Client(argv, tmp)
        c.launch(dict({"program": PROGRAM, "args": ["10", "1"], "cwd": tmp}, **extra))
        stop = c.stopped()
        out[name + " stop"] = c.look(stop["threadId"])["total"]
        frame = c.request("stackTrace", threadId=stop["threadId"])["stackFrames"][0]["id"]
        times = {"threads": [], "stackTrace": [], "scopes": [], "evaluate": []}
        for _ in range(args.requests):
            for command, arguments in (("threads", {}),
                                       ("stackTrace", {"threadId": stop["threadId"]}),
                                       ("scopes", {"frameId": frame}),
                                       ("evaluate", {"expression": "self.total + 1",
                                                     "frameId": frame, "context": "repl"})):
                t0 = time.perf_counter()
                c.request(command, **arguments)
                times[command].append(ms(time.perf_counter() - t0))
        c.close()
        out[name] = {k: statistics.median(v) for k, v in times.items()}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--adds", type=int, default=111_000, help="adds per round (3 events each)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5, help="Step Backs timed at the last stop")
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args()
    print(f"Python {sys.version.split()[0]}, debugpy {debugpy.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        rows, backs = history_figures(args, tmp)
        print("\nat a stop (ms): stackTrace; scopes (history: the store catches up "
              "first);\nvariables of debugpy's scopes; of the history scopes (built here)")
        print(f"  {'events':>10} {'stack':>7} {'scopes':>7} {'debugpy vars':>13} "
              f"{'history vars':>13} {'all':>7}")
        for row in rows:
            print(f"  {row['events']:>10,} {row['stack']:7.1f} {row['scopes']:7.1f} "
                  f"{row['variables']:13.1f} {row['history']:13.1f} {row['total']:7.1f}")
        totals = sorted(b["total"] for b in backs)
        print(f"\none Step Back, with the stack, scopes and variables it shows (all from the "
              f"recording): median {statistics.median(totals):.1f} ms, max {totals[-1]:.1f} ms "
              f"over {len(totals)}")
        proxy = proxy_figures(args, tmp)
        print(f"\nper request, median of {args.requests}: plain debugpy and through "
              "cinescope dap")
        print(f"  {'request':<12} {'debugpy':>9} {'cinescope':>10} {'added':>8}")
        for command in ("threads", "stackTrace", "scopes", "evaluate"):
            a, b = proxy["debugpy"][command], proxy["cinescope dap"][command]
            print(f"  {command:<12} {a:8.2f}ms {b:9.2f}ms {b - a:7.2f}ms")
        a, b = proxy["debugpy stop"], proxy["cinescope dap stop"]
        print(f"  {'a whole stop':<12} {a:8.2f}ms {b:9.2f}ms {b - a:7.2f}ms  "
              "(stack, scopes, variables; history scopes included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
