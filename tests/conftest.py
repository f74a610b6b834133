"""Shared helpers: record real programs in a real subprocess, read the real store."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cinescope.store import Store

PROGRAMS = Path(__file__).parent / "programs"
EXAMPLES = Path(__file__).parent.parent / "examples"


def run_cinescope(args, cwd, env=None, timeout=60, input=None):
    """`python -m cinescope ARGS` with this interpreter; returns CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop("CINESCOPE_BACKEND", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cinescope", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


class Recorded:
    """The result of recording one program."""

    def __init__(self, proc, store: Path):
        self.proc = proc
        self.store = store

    @property
    def stdout(self):
        return self.proc.stdout

    @property
    def stderr(self):
        return self.proc.stderr

    @property
    def returncode(self):
        return self.proc.returncode

    def program_stderr(self) -> str:
        """stderr without Cinescope's closing summary line."""
        return "".join(line for line in self.proc.stderr.splitlines(keepends=True)
                       if not line.startswith("cinescope: ") or "events written" not in line)

    def events(self, *kinds, **filters):
        with Store(str(self.store)) as store:
            return store.events(kinds=kinds, **filters)

    def session(self):
        with Store(str(self.store)) as store:
            return store.session()

    def actors(self):
        with Store(str(self.store)) as store:
            return store.actors()

    def calls_of(self, qualname):
        return [e for e in self.events("call") if e["location"]["function"] == qualname]


@pytest.fixture
def record(tmp_path):
    """record(program, *args, trace=[...], level=None, plan=None, env=None, options=())"""
    def _record(program, *args, trace=(), level=None, plan=None, env=None, options=(),
                cwd=None, module=False, store=None, timeout=60):
        store = Path(store) if store else tmp_path / "store.db"
        cmd = ["record", "--store", str(store)]
        for target in trace:
            cmd += ["--trace", target]
        if level:
            cmd += ["--level", level]
        if plan:
            cmd += ["--plan", str(plan)]
        cmd += list(options)
        cmd += ["-m", program] if module else [str(PROGRAMS / program) if not os.path.isabs(
            str(program)) else str(program)]
        cmd += list(args)
        proc = run_cinescope(cmd, cwd=cwd or tmp_path, env=env, timeout=timeout)
        return Recorded(proc, store)
    return _record


def plain_run(program, *args, cwd, env=None, timeout=60, module=False):
    """Run a program with plain Python, for comparisons."""
    target = ["-m", program] if module else [str(PROGRAMS / program)]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, *target, *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def by_id(events):
    return {e["id"]: e for e in events}


def jsonl(text: str):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def writer_processes(store) -> list[int]:
    """pids of writer processes writing into `store` (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if b"cinescope.store.writer_process" in argv and str(store).encode() in argv:
            pids.append(int(entry))
    return pids


def wait_for_writers(store, timeout=30.0):
    """After the program is gone, its writer stores what it was sent, then exits."""
    import time
    deadline = time.monotonic() + timeout
    while writer_processes(store):
        if time.monotonic() > deadline:
            raise AssertionError(f"a writer process into {store} is still running")
        time.sleep(0.02)


def record_bank(tmp: Path):
    """Record tests/programs/q_bank.py, which logs what it does as it runs:
    (store path, the program's log)."""
    log = tmp / "log.json"
    proc = run_cinescope(["record", "--store", str(tmp / "store.db"), "--trace", "q_bank",
                          str(PROGRAMS / "q_bank.py"), str(log)], cwd=tmp)
    assert proc.returncode == 0 and proc.stdout == "30\n", proc.stderr
    return tmp / "store.db", json.loads(log.read_text())


def record_example(work: Path):
    """Record a copy of examples/bank as `make demo` does (its own plan file,
    `cinescope record --name demo -m bank`): (its directory, the process)."""
    shutil.copytree(EXAMPLES / "bank", work / "bank", ignore=shutil.ignore_patterns(
        "recordings.db*", "__pycache__"))
    cwd = work / "bank"
    proc = run_cinescope(["record", "--name", "demo", "-m", "bank"], cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc


def view(store, *args, cwd, columns: str | None = "200", env=None, input=None) -> str:
    """A view's text as a pipe gets it: `columns` is $COLUMNS (None: unset,
    the default width); it must succeed."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("COLUMNS", "CINESCOPE_BACKEND")}
    if columns is not None:
        full_env["COLUMNS"] = columns
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "cinescope", args[0], "--store", str(store),
                           *args[1:]], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=60, input=input)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def table_rows(text: str) -> list[list[str]]:
    """The rows of a view's table (under its header's rule), each split into
    its cells (cells are two or more spaces apart; an empty cell is not one)."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line and set(line) <= set("─- "))
    return [re.split(r" {2,}", line.strip()) for line in lines[rule + 1:] if line.strip()]


def squeezed(text: str) -> str:
    """Text without any whitespace: a value folded over lines reads whole again."""
    return "".join(text.split())
