"""When things go wrong: the program is killed, terminated, crashes, leaves
without running atexit, or the recorder itself fails. The store must stay
readable and hold what was recorded; the program must behave as without
Cinescope."""
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import (PROGRAMS, jsonl, plain_run, run_cinescope, wait_for_writers,
                      writer_processes)
from cinescope.store import Store

TIMEOUT = 60   # generous: the machine is shared; only ever waited on a condition


def program_stderr(text):
    """stderr without Cinescope's closing summary line (as conftest's Recorded)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("cinescope: ") or "events written" not in line)


def wait_until(condition, timeout=TIMEOUT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Running:
    """A program running in the background; its output is read as it comes."""

    def __init__(self, cmd, cwd, env=None):
        full_env = dict(os.environ)
        full_env.pop("CINESCOPE_BACKEND", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue = queue.Queue()
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self._out,
                                                                   self._lines), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self._err,
                                                                   None), daemon=True)]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, into, lines):
        for line in stream:
            into.append(line)
            if lines is not None:
                lines.put(line)
        if lines is not None:
            lines.put(None)

    def wait_for_line(self, prefix, timeout=TIMEOUT):
        """Block until the program prints a line starting with `prefix`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the program did not print {prefix!r} within {timeout} s")
            if line is None:
                self.proc.wait(timeout=TIMEOUT)
                pytest.fail(f"the program ended (status {self.proc.returncode}) before "
                            f"printing {prefix!r}; stderr: {''.join(self._err)}")
            if line.startswith(prefix):
                return line

    def signal(self, signum):
        self.proc.send_signal(signum)

    def finish(self, timeout=TIMEOUT):
        """(returncode, stdout, stderr) once the program has ended."""
        returncode = self.proc.wait(timeout=timeout)
        for t in self._readers:
            t.join(timeout=timeout)
        return returncode, "".join(self._out), "".join(self._err)


@pytest.fixture
def start(tmp_path):
    """start(program, *args, trace=None, store=None, env=None): with `trace`, under
    `cinescope record`; without, with plain Python. Leftovers are killed."""
    started = []

    def _start(program, *args, trace=None, store=None, env=None, level=None):
        script = str(PROGRAMS / program)
        if trace is None:
            cmd = [sys.executable, script, *args]
        else:
            cmd = [sys.executable, "-m", "cinescope", "record",
                   "--store", str(store or tmp_path / "store.db")]
            for target in trace:
                cmd += ["--trace", target]
            if level:
                cmd += ["--level", level]
            cmd += [script, *args]
        run = Running(cmd, cwd=tmp_path, env=env)
        started.append(run)
        return run

    yield _start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(timeout=TIMEOUT)


def stored(store, *kinds):
    with Store(str(store)) as s:
        return s.events(kinds=kinds)


def stored_session(store, session_id=None):
    with Store(str(store)) as s:
        return s.session(session_id)


def integrity(store):
    conn = sqlite3.connect(str(store))
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def calls_of(events, function):
    return [e for e in events if e["kind"] == "call" and e["location"]["function"] == function]


def assert_links_consistent(events):
    """Every return and raise names a call event of the same function, at most
    once; every call's parent is a call event."""
    calls = {e["id"]: e for e in events if e["kind"] == "call"}
    ended = [e for e in events if e["kind"] in ("return", "raise")]
    for e in ended:
        assert e["call"] in calls, f"{e['kind']} {e['id']} names no recorded call: {e['call']}"
        assert calls[e["call"]]["location"]["function"] == e["location"]["function"]
        assert calls[e["call"]]["ts"] <= e["ts"]
    assert len({e["call"] for e in ended}) == len(ended), "a call ended twice"
    for c in calls.values():
        assert c["parent"] is None or c["parent"] in calls


# --- a. SIGKILL ---------------------------------------------------------------------

# the C rings: sys.monitoring's on 3.12+, the C profile hook's on 3.11
@pytest.mark.parametrize("assembler", ["c", "python"])
def test_sigkill_loses_nothing_the_c_rings_held(start, tmp_path, assembler):
    """Level minimal: calls go into rings in memory shared with the writer
    process. The program holds the GIL in C from "ready" on, so its
    flusher never runs again; killed, it still loses none of its calls."""
    store = tmp_path / "store.db"
    n = 5000
    run = start("f_killed_minimal.py", str(n), trace=["f_killed_minimal"], store=store,
                level="minimal", env={"CINESCOPE_ASSEMBLER": assembler})
    run.wait_for_line("ready")
    run.signal(signal.SIGKILL)
    returncode, out, _ = run.finish()
    assert returncode == -signal.SIGKILL and out == "ready\n"
    wait_for_writers(store)
    assert integrity(store) == [("ok",)]
    events = stored(store)
    assert len(calls_of(events, "work")) == n
    assert len([e for e in events if e["kind"] == "return"]) == n
    assert_links_consistent(events)
    session = stored_session(store)
    assert session["events_dropped"] == 0 and session["events_written"] == len(events)


def test_sigkill_leaves_a_consistent_readable_store(start, record, tmp_path):
    store = tmp_path / "store.db"
    run = start("f_forever.py", trace=["f_forever:tick"], store=store)
    run.wait_for_line("ready")
    # the 300 calls before "ready" reach the store without the program ending
    wait_until(lambda: len(stored(store, "call")) >= 300, what="300 calls in the store")
    assert stored_session(store)["status"] == "recording"
    run.signal(signal.SIGKILL)
    returncode, out, err = run.finish()
    assert returncode == -signal.SIGKILL
    assert out == "ready\n"
    wait_for_writers(store)    # it stores what the program sent before it died

    assert integrity(store) == [("ok",)]
    session = stored_session(store)
    assert session["status"] == "unfinished"
    assert session["exit_status"] is None and session["ended_at"] is None
    events = stored(store)
    calls = calls_of(events, "tick")
    assert len(calls) >= 300
    # nothing lost or invented before the kill: the calls are tick(0), tick(1), ...
    assert session["events_dropped"] == 0
    assert [c["data"]["args"]["i"] for c in calls] == list(range(len(calls)))
    assert_links_consistent(events)
    for r in stored(store, "return"):
        call = next(c for c in calls if c["id"] == r["call"])
        assert r["data"]["value"] == call["data"]["args"]["i"] + 1
    # the counters were written with the events they count
    assert session["events_written"] == len(events)

    # the CLI reads it
    sessions = run_cinescope(["sessions", "--store", str(store), "--json"], cwd=tmp_path)
    assert sessions.returncode == 0, sessions.stderr
    assert [(s["id"], s["status"]) for s in jsonl(sessions.stdout)] == [(session["id"],
                                                                          "unfinished")]
    table = run_cinescope(["sessions", "--store", str(store)], cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "unfinished" in table.stdout
    listed = run_cinescope(["events", "--store", str(store), "--json"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [e["id"] for e in jsonl(listed.stdout)] == [e["id"] for e in events]
    text = run_cinescope(["events", "--store", str(store), "--kind", "call", "--limit", "3"],
                         cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == 3 and "tick" in text.stdout
    summary = run_cinescope(["summary", "--store", str(store)], cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr

    # and a new recording into the same store works
    rec = record("calls.py", trace=["calls:fib"], store=store)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.splitlines()[0] == "3"
    assert integrity(store) == [("ok",)]
    with Store(str(store)) as s:
        all_sessions = s.sessions()
        old_events = s.events(session["id"])
    assert [(x["id"], x["status"]) for x in all_sessions] == [
        (session["id"], "unfinished"), (session["id"] + 1, "finished")]
    assert [e["id"] for e in old_events] == [e["id"] for e in events]
    new_events = rec.events()
    assert len(rec.calls_of("fib")) == 9
    assert_links_consistent(new_events)
    assert min(e["id"] for e in new_events) > max(e["id"] for e in events)


# --- b. SIGTERM, no handler of the program's --------------------------------------

def test_sigterm_writes_everything_then_dies_of_sigterm(start, tmp_path):
    plain = start("f_sigterm.py")
    plain.wait_for_line("ready")
    plain.signal(signal.SIGTERM)
    plain_result = plain.finish()
    assert plain_result[0] == -signal.SIGTERM

    store = tmp_path / "store.db"
    run = start("f_sigterm.py", trace=["f_sigterm"], store=store)
    run.wait_for_line("ready")
    run.signal(signal.SIGTERM)          # at once: no time for a periodic flush
    returncode, out, err = run.finish()
    assert returncode == -signal.SIGTERM
    assert out == plain_result[1] == "ready 39800\n"
    assert program_stderr(err) == plain_result[2]

    assert integrity(store) == [("ok",)]
    session = stored_session(store)
    assert session["status"] == "terminated"
    assert session["exit_status"] == -signal.SIGTERM
    assert session["ended_at"] is not None
    events = stored(store)
    assert len(calls_of(events, "work")) == 200
    last = calls_of(events, "last_before_ready")
    assert [c["data"]["args"] for c in last] == [{"marker": "the-last-call"}]
    returned = [e for e in events if e["kind"] == "return" and e["call"] == last[0]["id"]]
    assert [r["data"]["value"] for r in returned] == ["THE-LAST-CALL"]
    # made in the signal handler, after any periodic flush: the process's exit
    exits = [e for e in events if e["kind"] == "exit"]
    assert [e["data"]["exit_status"] for e in exits] == [-signal.SIGTERM]
    assert exits[0]["ts"] >= returned[0]["ts"]
    # main was interrupted in its sleep: called, never returned
    main = calls_of(events, "main")
    assert len(main) == 1
    assert not [e for e in events if e["kind"] in ("return", "raise")
                and e["call"] == main[0]["id"]]
    assert_links_consistent(events)


# --- c. SIGTERM, the program's own handler ------------------------------------------

def wait_until_sleeping(pid):
    """Until the process's main thread is blocked in time.sleep (Linux)."""
    def sleeping():
        task = f"/proc/{pid}/task/{pid}"
        with open(f"{task}/wchan") as f:
            wchan = f.read()
        with open(f"{task}/syscall") as f:
            syscall = f.read().split()[0]
        return "nanosleep" in wchan or syscall in ("35", "230")   # x86-64 (clock_)nanosleep
    wait_until(sleeping, what=f"process {pid} to sleep")


def test_sigterm_with_programs_own_handler(start, tmp_path):
    plain = start("f_sigterm_handler.py")
    plain.wait_for_line("ready")
    wait_until_sleeping(plain.proc.pid)
    plain.signal(signal.SIGTERM)
    plain_rc, plain_out, plain_err = plain.finish()
    assert plain_rc == 0
    assert plain_out == "ready\ngot signal 15, cleaning up\n"

    store = tmp_path / "store.db"
    run = start("f_sigterm_handler.py", trace=["f_sigterm_handler"], store=store)
    run.wait_for_line("ready")
    wait_until_sleeping(run.proc.pid)
    run.signal(signal.SIGTERM)
    returncode, out, err = run.finish()
    assert returncode == plain_rc
    assert out == plain_out
    assert program_stderr(err) == plain_err == "cleanup done\n"
    assert err.splitlines()[-1].startswith("cinescope: ")   # atexit ran

    session = stored_session(store)
    assert session["status"] == "finished" and session["exit_status"] == 0
    events = stored(store)
    handler = calls_of(events, "on_term")
    assert len(handler) == 1 and handler[0]["data"]["args"]["signum"] == signal.SIGTERM
    ended = [e for e in events if e["kind"] in ("return", "raise")
             and e["call"] == handler[0]["id"]]
    assert [e["kind"] for e in ended] == ["raise"]       # it left by sys.exit
    assert len(calls_of(events, "work")) == 50
    assert_links_consistent(events)


def test_sigterm_handlers_system_exit_is_recorded(start, tmp_path):
    """The handler runs while main sleeps; the SystemExit it raises leaves the
    handler and main, and both raise events say so."""
    store = tmp_path / "store.db"
    run = start("f_sigterm_handler.py", trace=["f_sigterm_handler"], store=store)
    run.wait_for_line("ready")
    wait_until_sleeping(run.proc.pid)
    run.signal(signal.SIGTERM)
    assert run.finish()[0] == 0
    raised = stored(store, "raise")
    assert [e["location"]["function"] for e in raised] == ["on_term", "main"]
    assert [(e["data"]["exception"] or {}).get("type") for e in raised] == [
        "SystemExit", "SystemExit"]
    assert [e["data"]["exception"]["message"] for e in raised] == ["0", "0"]


def test_keyboard_interrupt_from_a_signal_handler_does_not_stop_recording(record, tmp_path):
    """KeyboardInterrupt raised by a signal handler (as Ctrl-C does), caught by
    the program, which goes on: what it does next is still recorded, even when
    the signal arrived while the recorder was handling an event."""
    rec = record("f_alarm_interrupt.py", trace=["f_alarm_interrupt"])
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == "10 rounds interrupted\n"
    session = rec.session()
    assert session["status"] == "finished"
    after = [c["data"]["args"]["k"] for c in rec.calls_of("after_round")]
    if session["backend"] in ("monitoring", "monitoring-py", "profile"):
        assert after == list(range(10)), f"recording stopped; session error: {session['error']!r}"
        assert session["error"] is None
    else:
        # 3.11's hooks are Python functions: a signal handler can run at the hook's
        # first instruction, where nothing can catch it, and Python then removes the
        # hook. Recording of that thread ends there, and the session says so.
        assert after == list(range(len(after)))
        if len(after) < 10:
            assert "hook of thread MainThread was removed" in session["error"]


# --- d. the recorder fails ----------------------------------------------------------

@pytest.mark.parametrize("fault,exit_status", [("target", "0"), ("target", "4"),
                                                ("Worker.run", "0")])
def test_internal_error_stops_recording_not_the_program(record, tmp_path, fault, exit_status):
    env = {"CINESCOPE_INJECT_FAULT": fault}
    plain = plain_run("f_fault.py", exit_status, cwd=tmp_path, env=env)
    assert plain.returncode == int(exit_status)
    rec = record("f_fault.py", exit_status, trace=["f_fault"], env=env)
    assert rec.stdout == plain.stdout
    assert rec.program_stderr() == plain.stderr == "stderr line\n"
    assert rec.returncode == plain.returncode
    assert "Traceback" not in rec.stderr and "fault injected" not in rec.stderr

    session = rec.session()
    assert session["status"] == ("finished" if exit_status == "0" else "failed")
    assert session["exit_status"] == int(exit_status)
    assert session["error"] is not None
    assert "recording stopped: internal error" in session["error"]
    assert f"fault injected at {fault}" in session["error"]
    # what ran before the fault is recorded; from the fault on, nothing
    functions = [e["location"]["function"] for e in rec.events("call")]
    assert functions.count("before") == 3
    assert fault not in functions
    if fault == "target":
        assert "after" not in functions and "Worker.run" not in functions
    else:
        assert functions.count("target") == 2 and functions.count("after") == 3
    assert_links_consistent(rec.events())


def test_internal_error_on_the_first_planned_function(record, tmp_path):
    env = {"CINESCOPE_INJECT_FAULT": "main"}
    plain = plain_run("f_fault.py", cwd=tmp_path, env=env)
    rec = record("f_fault.py", trace=["f_fault"], env=env)
    assert (rec.stdout, rec.program_stderr(), rec.returncode) == \
        (plain.stdout, plain.stderr, plain.returncode)
    assert rec.events("call") == []
    assert "recording stopped: internal error" in rec.session()["error"]


def test_a_writer_that_cannot_start_is_one_line_and_the_session_says_why(tmp_path):
    """The program does not run unrecorded when its writer process cannot
    start: one line, exit 2, and the session is marked failed with the reason."""
    store = tmp_path / "rec.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "f_fault",
                          str(PROGRAMS / "f_fault.py")], cwd=tmp_path,
                         env={"CINESCOPE_INJECT_FAULT": "writer-start"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "writer process" in proc.stderr
    assert "Traceback" not in proc.stderr
    with Store(str(store)) as opened:
        session = opened.session()
    assert session["status"] == "failed" and "did not start" in session["error"]


# --- e. an unhandled exception in the program ---------------------------------------

def test_unhandled_exception_is_recorded(record, tmp_path):
    rec = record("f_crash.py", trace=["f_crash"])
    assert rec.returncode == 1
    assert rec.stdout == "[1, 2]\n"
    assert rec.program_stderr().startswith("Traceback (most recent call last):\n")
    assert rec.program_stderr().endswith("ValueError: bad item 3\n")

    session = rec.session()
    assert session["status"] == "failed" and session["exit_status"] == 1
    events = rec.events()
    assert [c["data"]["args"]["item"] for c in rec.calls_of("validate")] == [1, 2, 1, 2, 3]
    assert len(rec.calls_of("process")) == 2
    raised = rec.events("raise")
    assert [r["location"]["function"] for r in raised] == ["validate", "process", "main"]
    for r in raised:
        assert r["data"]["exception"]["type"] == "ValueError"
        assert r["data"]["exception"]["message"] == "bad item 3"
    # each raise ends the call it leaves: the last validate, the second process, main
    assert raised[0]["call"] == rec.calls_of("validate")[-1]["id"]
    assert raised[1]["call"] == rec.calls_of("process")[-1]["id"]
    assert raised[2]["call"] == rec.calls_of("main")[0]["id"]
    assert raised[0]["location"]["line"] == 6        # the raise statement
    assert_links_consistent(events)
    exits = rec.events("exit")
    assert [e["data"]["exit_status"] for e in exits] == [1]


def test_unhandled_chained_exception_is_recorded(record, tmp_path):
    """parse's ValueError is caught in load, which raises ConfigError from it;
    ConfigError leaves load and run unhandled. Each raise event carries the
    exception that left its function."""
    rec = record("eq_unhandled.py", trace=["eq_unhandled"])
    assert rec.returncode == 1
    assert rec.program_stderr().endswith("ConfigError: cannot load 'four'\n")
    session = rec.session()
    assert session["status"] == "failed" and session["exit_status"] == 1
    assert [c["data"]["args"]["text"] for c in rec.calls_of("parse")] == ["1", "2", "3", "four"]
    raised = rec.events("raise")
    assert [r["location"]["function"] for r in raised] == ["parse", "load", "run"]
    assert [(r["data"]["exception"] or {}).get("type") for r in raised] == [
        "ValueError", "__main__.ConfigError", "__main__.ConfigError"]
    assert [r["data"]["exception"]["message"] for r in raised] == [
        "invalid literal for int() with base 10: 'four'", "cannot load 'four'",
        "cannot load 'four'"]
    assert [r["call"] for r in raised] == [rec.calls_of("parse")[-1]["id"],
                                           rec.calls_of("load")[-1]["id"],
                                           rec.calls_of("run")[-1]["id"]]
    assert_links_consistent(rec.events())


# --- f. os._exit --------------------------------------------------------------------

def test_os_exit_keeps_code_and_reads_as_unfinished(record, tmp_path):
    plain = plain_run("f_os_exit.py", cwd=tmp_path)
    assert plain.returncode == 5
    store = tmp_path / "store.db"
    rec = record("f_os_exit.py", str(store), trace=["f_os_exit:work"], store=store)
    assert rec.returncode == 5
    assert rec.stdout == plain.stdout == "[0, 3, 6, 9, 12]\n"
    assert rec.stderr == plain.stderr == ""        # no atexit: no summary line either
    wait_for_writers(store)

    assert integrity(store) == [("ok",)]
    session = rec.session()
    assert session["status"] == "unfinished"
    assert session["exit_status"] is None and session["ended_at"] is None
    calls = rec.calls_of("work")
    assert [c["data"]["args"]["i"] for c in calls] == [0, 1, 2, 3, 4]
    assert [r["data"]["value"] for r in rec.events("return")] == [0, 3, 6, 9, 12]
    assert_links_consistent(rec.events())
    listed = run_cinescope(["sessions", "--store", str(store), "--json"], cwd=tmp_path)
    assert [s["status"] for s in jsonl(listed.stdout)] == ["unfinished"]


@pytest.mark.parametrize("backend", ["default", "trace"])
def test_ctrl_c_reaches_the_program(record, backend):
    """The default SIGINT handler raises KeyboardInterrupt wherever Python code
    runs, the recorder's hooks included: it must still reach the program."""
    env = {} if backend == "default" else {"CINESCOPE_BACKEND": backend}
    rec = record("f_ctrl_c.py", trace=["f_ctrl_c"], env=env)
    assert (rec.returncode, rec.stdout, rec.program_stderr()) == (0, "interrupted\n", "")
    assert rec.session()["status"] == "finished"
    assert rec.calls_of("step")


def test_what_the_recorder_treats_as_the_programs_exception():
    """An exception raised while a recorder hook runs is the program's unless
    it is an ordinary Exception raised in Cinescope's own code: a KeyboardInterrupt
    raised by the default SIGINT handler (C code) shows only the hook's frame."""
    import os

    import cinescope
    from cinescope.capture.recorder import _raised_by_program

    def raised_in(filename, exc_type):
        try:
            exec(compile(f"raise {exc_type}", filename, "exec"))
        except BaseException as exc:
            return exc

    ours = os.path.join(os.path.dirname(cinescope.__file__), "capture", "hook.py")
    theirs = os.path.join(str(PROGRAMS), "handler.py")
    assert _raised_by_program(raised_in(ours, "KeyboardInterrupt"))
    assert _raised_by_program(raised_in(ours, "SystemExit"))
    assert not _raised_by_program(raised_in(ours, "ValueError"))       # a bug of ours
    assert _raised_by_program(raised_in(theirs, "ValueError"))         # a handler's


def test_the_writer_process_ends_with_the_recording(record, tmp_path):
    """Recording writes in a process of its own, which neither outlives a
    finished recording nor dies with the program's process group."""
    store = tmp_path / "store.db"
    rec = record("calls.py", trace=["calls"], store=store)
    assert rec.returncode == 0
    assert writer_processes(store) == []        # gone when `record` returns

    # Ctrl-C in a terminal: SIGINT to the program's whole process group
    group = tmp_path / "group.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinescope", "record", "--store", str(group),
         "--trace", "f_forever:tick", str(PROGRAMS / "f_forever.py")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        wait_until(lambda: writer_processes(group), what="a writer process")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGINT and "KeyboardInterrupt" in err
    wait_for_writers(group)
    session = stored_session(group)
    assert session["status"] == "interrupted"
    assert len(calls_of(stored(group), "tick")) >= 300
