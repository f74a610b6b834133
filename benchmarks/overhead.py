"""Recording overhead, side by side, in one run.

    python benchmarks/overhead.py [--repeat N] [--quick] [--only NAME...]

Runs each workload (benchmarks/workloads/) untraced, under Cinescope at its
levels and plans, under cProfile, VizTracer and py-tt-debug, each in its own
process with this interpreter, and prints for each run: seconds (the
workload's own, measured inside it; the best of --repeat runs), the ratio to
untraced, ns per event, bytes per event in the store, events dropped, and the
peak memory of the process.

An event is one call or one return; ns/event is the time added over untraced
divided by the workload's 2 x calls, the same count for every tool. Tools that
are not installed are shown as such (see benchmarks/requirements.txt; `make
bench` installs them).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads"
# (workload, size, size for the whole-program line recorders)
SIZES = {"recursion": (24, 15), "methods": (150_000, 3_000), "threads": (50_000, 1_000),
         "pipeline": (30_000, 1_000)}
QUICK = {"recursion": (20, 12), "methods": (20_000, 500), "threads": (5_000, 200),
         "pipeline": (5_000, 200)}


def cinescope(*extra):
    return lambda w, store: [sys.executable, "-m", "cinescope", "record", "-q", "--store",
                             str(store), *[a.format(w=w) for a in extra]]


# name -> (command builder or None for untraced, uses the small size, python module needed)
MODES = {
    "untraced": (lambda w, out: [sys.executable], False, None),
    "cinescope minimal": (cinescope("--trace", "{w}", "--level", "minimal"), False, None),
    "cinescope debug": (cinescope("--trace", "{w}", "--level", "debug"), False, None),
    "cinescope one function": (cinescope("--trace", "{w}:setup"), False, None),
    "cProfile": (lambda w, out: [sys.executable, "-m", "cProfile", "-o", str(out)],
                 False, None),
    "VizTracer calls": (lambda w, out: [sys.executable, "-m", "viztracer", "--quiet",
                                        "--ignore_c_function", "-o", str(out) + ".json"],
                        False, "viztracer"),
    "VizTracer args+retval": (lambda w, out: [sys.executable, "-m", "viztracer", "--quiet",
                                              "--ignore_c_function", "--log_func_args",
                                              "--log_func_retval", "-o", str(out) + ".json"],
                              False, "viztracer"),
    "untraced (small)": (lambda w, out: [sys.executable], True, None),
    "cinescope full (small)": (cinescope("--trace", "{w}", "--level", "full"), True, None),
    "py-tt-debug (small)": (lambda w, out: [sys.executable, "-m", "pyttd", "record",
                                            "--db-path", str(out) + ".pyttd"], True, "pyttd"),
}


def available(module: str | None) -> bool:
    if module is None:
        return True
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return probe.returncode == 0


def run_once(mode: str, workload: str, size: int, tmp: Path) -> dict:
    build, _, _ = MODES[mode]
    out = tmp / f"{workload}-{re.sub(r'[^a-z]+', '-', mode.lower())}"
    for old in tmp.glob(out.name + "*"):
        old.unlink() if old.is_file() else shutil.rmtree(old)
    command = build(workload, out)
    script = str(WORKLOADS / f"{workload}.py")
    if mode.startswith("py-tt-debug"):
        command += [script, "--args", str(size)]
    else:
        command += [script, str(size)]
    env = dict(os.environ, PYTHONPATH=str(WORKLOADS) + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    proc = subprocess.Popen(command, cwd=str(WORKLOADS), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read()
    proc.stderr.close()
    match = re.search(r"BENCH seconds=([\d.]+) calls=(\d+)", err)
    failed = os.waitstatus_to_exitcode(status) != 0
    if not match or (failed and not mode.startswith("py-tt-debug")):
        raise RuntimeError(f"{mode} on {workload} failed:\n{err[-2000:]}")
    result = {"seconds": float(match.group(1)), "calls": int(match.group(2)),
              "peak_mb": usage.ru_maxrss / 1024, "written": None, "dropped": None,
              "bytes": None,
              # py-tt-debug 0.8 records, then fails at exit here ("file is not a
              # database"): its recording time is measured inside the workload
              "note": err.strip().splitlines()[-1][:100] if failed else None}
    if mode.startswith("cinescope"):
        with sqlite3.connect(str(out)) as db:
            result["written"], result["dropped"] = db.execute(
                "SELECT events_written, events_dropped FROM sessions").fetchone()
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        result["bytes"] = sum(p.stat().st_size for p in tmp.glob(out.name + "*"))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (best is kept)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", nargs="*", help="workloads to run")
    parser.add_argument("--modes", nargs="*", help="modes to run (untraced always runs)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the sizes")
    opts = parser.parse_args()
    sizes = QUICK if opts.quick else SIZES
    print(f"Python {sys.version.split()[0]}, best of {opts.repeat} runs, sizes x{opts.scale}; "
          "ns/event over untraced; an event is a call or a return\n")
    header = (f"{'workload':<10} {'mode':<24} {'seconds':>9} {'ratio':>8} {'ns/event':>9} "
              f"{'B/event':>8} {'events':>9} {'dropped':>8} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    for workload in opts.only or list(sizes):
        size, small = (max(1, int(s * opts.scale)) for s in sizes[workload])
        if workload == "recursion":   # fib's argument: each +1 is about x1.6
            size, small = sizes[workload]
        base = {}
        with tempfile.TemporaryDirectory() as tmpdir:
            for mode, (_, uses_small, module) in MODES.items():
                if opts.modes and mode not in opts.modes and not mode.startswith("untraced"):
                    continue
                if not available(module):
                    print(f"{workload:<10} {mode:<24} {'not installed (' + module + ')':>36}")
                    continue
                n = small if uses_small else size
                runs = [run_once(mode, workload, n, Path(tmpdir)) for _ in range(opts.repeat)]
                best = min(runs, key=lambda r: r["seconds"])
                if mode.startswith("untraced"):
                    base[uses_small] = best
                untraced = base[uses_small]
                events = 2 * best["calls"]
                added = (best["seconds"] - untraced["seconds"]) * 1e9 / events
                ratio = best["seconds"] / untraced["seconds"]
                per_event = (f"{best['bytes'] / best['written']:.1f}"
                             if best["written"] else "")
                print(f"{workload:<10} {mode:<24} {best['seconds']:>9.4f} {ratio:>8.2f} "
                      f"{added:>9.0f} {per_event:>8} {best['written'] or '':>9} "
                      f"{'' if best['dropped'] is None else best['dropped']:>8} "
                      f"{best['peak_mb']:>8.1f}")
                if best["note"]:
                    print(f"{'':<10} {'':<24} (then failed at exit: {best['note']})")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
