"""Recording a program changes nothing the program's user sees.

Each program is run twice, with plain Python and under `cinescope record`
tracing its own module: stdout, stderr (Cinescope's one closing summary line
aside) and the exit status must be identical, tracebacks included, since both
runs print the same absolute paths.
"""
import os
import subprocess
import sys

import pytest

from conftest import EXAMPLES, PROGRAMS, Recorded, plain_run, run_cinescope


def assert_same_as_plain(plain, rec):
    """What the user sees: byte for byte the same."""
    assert rec.stdout == plain.stdout
    assert rec.program_stderr() == plain.stderr
    assert rec.returncode == plain.returncode


def assert_summary_line(rec):
    """Cinescope adds exactly one line of its own, the last one on stderr."""
    lines = rec.stderr.splitlines()
    assert lines and lines[-1].startswith("cinescope: ") and "events written" in lines[-1]
    assert len(lines) == len(rec.program_stderr().splitlines()) + 1


# program, its arguments, plain Python's exit status, the session's status
PROGRAMS_TO_COMPARE = [
    ("calls.py", (), 0, "finished"),
    ("stateful.py", (), 0, "finished"),
    ("threads_queue.py", (), 0, "finished"),
    ("asyncio_queue.py", (), 0, "finished"),
    ("mp_channels.py", ("fork",), 0, "finished"),
    ("mp_channels.py", ("spawn",), 0, "finished"),
    ("eq_exit.py", (), 3, "failed"),
    ("eq_exit_message.py", (), 1, "failed"),
    ("eq_exit_none.py", (), 0, "finished"),
    ("eq_unhandled.py", (), 1, "failed"),
    ("eq_atexit.py", (), 0, "finished"),
    ("eq_thread_after_main.py", (), 0, "finished"),
    ("eq_identity.py", ("--trace", "other", "-m", "x", "-q", "--store", "nowhere.db", "--"),
     0, "finished"),
]


@pytest.mark.parametrize("program,args,status,state", PROGRAMS_TO_COMPARE,
                         ids=[f"{p[0]}{'-' + p[1][0] if p[1] else ''}"
                              for p in PROGRAMS_TO_COMPARE])
def test_script_runs_as_with_plain_python(record, tmp_path, program, args, status, state):
    module = os.path.splitext(program)[0]
    plain = plain_run(program, *args, cwd=tmp_path)
    assert plain.returncode == status, plain.stderr     # the program does what we think
    rec = record(program, *args, trace=[module])
    assert_same_as_plain(plain, rec)
    assert_summary_line(rec)
    session = rec.session()
    assert session["status"] == state
    assert session["exit_status"] == status
    assert session["error"] is None
    assert rec.calls_of(_first_planned(program)), "the program's module was not recorded"


def _first_planned(program):
    """A function of the program that every run calls."""
    return {"calls.py": "fib", "stateful.py": "Counter.bump", "threads_queue.py": "producer",
            "asyncio_queue.py": "produce", "mp_channels.py": "main", "eq_exit.py": "compute",
            "eq_exit_message.py": "check", "eq_exit_none.py": "done",
            "eq_unhandled.py": "load", "eq_atexit.py": "work",
            "eq_thread_after_main.py": "step", "eq_identity.py": "describe"}[program]


def test_exit_message_goes_to_stderr(record, tmp_path):
    rec = record("eq_exit_message.py", trace=["eq_exit_message"])
    assert rec.returncode == 1
    assert rec.stdout == "checking\n"
    assert rec.program_stderr() == "a message: value 5 is too big\n"


def test_unhandled_chained_exception_traceback_is_pythons(record, tmp_path):
    plain = plain_run("eq_unhandled.py", cwd=tmp_path)
    rec = record("eq_unhandled.py", trace=["eq_unhandled"])
    assert rec.returncode == plain.returncode == 1
    assert rec.stdout == plain.stdout == "loading\n[1, 2]\n"
    assert [e["location"]["function"] for e in rec.events("raise")] == ["parse", "load", "run"]
    # the chain is shown, and nothing of Cinescope's in it
    err = rec.program_stderr()
    assert "The above exception was the direct cause of the following exception:" in err
    assert err.endswith("ConfigError: cannot load 'four'\n")
    assert "src/cinescope" not in err
    assert err == plain.stderr


def test_stdin_is_passed_through(tmp_path):
    text = "first line\nsecond line\n\nlast, without newline"
    script = str(PROGRAMS / "eq_stdin.py")
    plain = subprocess.run([sys.executable, script], cwd=tmp_path, input=text,
                           capture_output=True, text=True, timeout=60)
    assert plain.stdout.splitlines()[-1] == "4: last, without newline"
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "eq_stdin", script],
                         cwd=tmp_path, input=text)
    rec = Recorded(proc, store)
    assert_same_as_plain(plain, rec)
    # the program's reads are what the recording saw
    assert [c["data"]["args"]["line"] for c in rec.calls_of("echo")] == \
        ["first line\n", "second line\n", "\n", "last, without newline"]


def test_empty_stdin_is_passed_through(tmp_path):
    script = str(PROGRAMS / "eq_stdin.py")
    plain = subprocess.run([sys.executable, script], cwd=tmp_path, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "eq_stdin", script],
                         cwd=tmp_path, input="")
    assert proc.stdout == plain.stdout == ""
    assert Recorded(proc, store).program_stderr() == plain.stderr == "0 lines\n"
    assert proc.returncode == plain.returncode == 0


def test_script_sees_argv_name_file_and_path(record, tmp_path):
    args = ("--trace", "eq_identity", "--level", "full", "-q", "-m", "os", "plain")
    plain = plain_run("eq_identity.py", *args, cwd=tmp_path)
    rec = record("eq_identity.py", *args, trace=["eq_identity"])
    assert_same_as_plain(plain, rec)
    script = str(PROGRAMS / "eq_identity.py")
    assert rec.stdout.splitlines() == [
        f"argv {[script, *args]!r}",
        "name __main__",
        f"file {script} True",
        f"path0 {PROGRAMS}",
        "main is me True",
    ]
    # the options after the script were the program's, not Cinescope's
    session = rec.session()
    assert session["level"] == "debug"
    assert rec.stderr.splitlines()[-1].startswith("cinescope: ")


@pytest.mark.parametrize("form", ["./", "../"])
def test_script_given_by_relative_path(tmp_path, form):
    """argv[0] is the path as given; __file__ is absolute, made from the path
    as given (Python does not normalize it); sys.path[0] is the directory."""
    if form == "./":
        cwd, rel = PROGRAMS, "./eq_identity.py"
    else:
        cwd, rel = tmp_path, os.path.relpath(PROGRAMS / "eq_identity.py", tmp_path)
    plain = subprocess.run([sys.executable, rel, "a b"], cwd=cwd, capture_output=True,
                           text=True, timeout=60)
    assert f"file {os.path.join(cwd, rel)} True" in plain.stdout
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "eq_identity", rel, "a b"],
                         cwd=cwd)
    assert f"argv [{rel!r}, 'a b']" in proc.stdout
    assert f"path0 {PROGRAMS}" in proc.stdout
    assert_same_as_plain(plain, Recorded(proc, store))


def test_module_sees_argv_name_file_and_path(tmp_path):
    plain = plain_run("eq_identity", "--trace", "x", cwd=PROGRAMS, module=True)
    assert plain.returncode == 0, plain.stderr
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "eq_identity",
                          "-m", "eq_identity", "--trace", "x"], cwd=PROGRAMS)
    rec = Recorded(proc, store)
    assert_same_as_plain(plain, rec)
    assert f"path0 {PROGRAMS}" in rec.stdout
    assert rec.calls_of("describe")


def test_module_unhandled_exception_traceback_is_pythons(tmp_path):
    """With -m the traceback starts at the `<frozen runpy>` frames Python shows."""
    plain = plain_run("eq_module_fail", "x", cwd=PROGRAMS, module=True)
    assert plain.returncode == 1 and "<frozen runpy>" in plain.stderr
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "eq_module_fail",
                          "-m", "eq_module_fail", "x"], cwd=PROGRAMS)
    rec = Recorded(proc, store)
    assert rec.program_stderr() == plain.stderr
    assert_same_as_plain(plain, rec)
    assert rec.session()["status"] == "failed"


def test_bank_example_as_module(record):
    cwd = EXAMPLES / "bank"
    plain = plain_run("bank", cwd=cwd, module=True)
    assert plain.returncode == 0, plain.stderr
    assert "audited total: 275" in plain.stdout
    rec = record("bank", trace=["bank.*"], module=True, cwd=cwd)
    assert_same_as_plain(plain, rec)
    assert_summary_line(rec)
    session = rec.session()
    assert session["status"] == "finished" and session["exit_status"] == 0
    functions = {e["location"]["module"] for e in rec.events("call")}
    assert {"bank.accounts", "bank.workers"} <= functions


def test_keyboard_interrupt_dies_by_sigint(record, tmp_path):
    plain = plain_run("eq_keyboard.py", cwd=tmp_path)
    assert plain.returncode in (-2, 130)
    rec = record("eq_keyboard.py", trace=["eq_keyboard"])
    assert rec.returncode == plain.returncode
    assert rec.stdout == plain.stdout == "about to be interrupted\n"
    session = rec.session()
    assert session["status"] == "interrupted"
    raised = rec.events("raise")
    assert [e["location"]["function"] for e in raised] == ["inner", "outer"]
    assert all(e["data"]["exception"]["type"] == "KeyboardInterrupt" for e in raised)
    # Python's traceback, nothing of Cinescope's in it
    assert rec.program_stderr().endswith("KeyboardInterrupt\n")
    assert "src/cinescope" not in rec.program_stderr()
    assert rec.program_stderr() == plain.stderr


def test_thread_outliving_main_module_is_waited_for(record, tmp_path):
    rec = record("eq_thread_after_main.py", trace=["eq_thread_after_main"])
    assert rec.stdout == "main module ends\nworker done, total 30\n"
    # the worker's calls ran after the main module ended and are all recorded
    assert [c["data"]["args"]["i"] for c in rec.calls_of("step")] == [0, 1, 2, 3, 4]
    worker = rec.calls_of("worker")
    assert len(worker) == 1
    assert any(e["call"] == worker[0]["id"] for e in rec.events("return"))
    assert rec.session()["status"] == "finished"


def test_atexit_handlers_run_before_recording_ends(record, tmp_path):
    rec = record("eq_atexit.py", trace=["eq_atexit"])
    assert rec.stdout.splitlines()[-2:] == ["goodbye from second", "goodbye from first"]
    # the program's atexit handlers are planned functions: recorded too
    assert [c["data"]["args"]["who"] for c in rec.calls_of("goodbye")] == ["second", "first"]
    # Cinescope's summary comes after everything the program wrote
    assert rec.stderr.splitlines()[-3:-1] == ["stderr goodbye from second",
                                               "stderr goodbye from first"]


def test_quiet_leaves_stderr_exactly_the_programs(record, tmp_path):
    plain = plain_run("eq_atexit.py", cwd=tmp_path)
    rec = record("eq_atexit.py", trace=["eq_atexit"], options=["-q"])
    assert rec.stderr == plain.stderr        # no summary line to strip
    assert rec.stdout == plain.stdout
    assert rec.returncode == plain.returncode == 0
    assert rec.session()["status"] == "finished"


def test_exception_raised_by_a_signal_handler_reaches_the_program(record, tmp_path):
    """A SIGALRM handler raising to stop a busy loop of planned calls: the
    handler may run while the recorder is handling an event; its exception is
    still the program's and must reach the loop (else the round gives up)."""
    plain = plain_run("eq_alarm.py", cwd=tmp_path)
    assert plain.returncode == 0, plain.stdout
    assert plain.stdout.splitlines()[-1] == "all rounds stopped by the alarm"
    rec = record("eq_alarm.py", trace=["eq_alarm"])
    assert rec.stdout == plain.stdout
    assert rec.program_stderr() == plain.stderr
    assert rec.returncode == plain.returncode
    session = rec.session()
    if session["backend"] in ("monitoring", "monitoring-py", "profile"):
        assert session["error"] is None     # (the profile hook is in C: not removed)
    else:   # Python removes a profile or trace hook that raises: recording says so
        assert "Timeout was raised inside Cinescope's profile hook" in session["error"]


def test_script_run_through_a_symlink(tmp_path):
    """Python puts the real file's directory first on sys.path, so a script
    symlinked elsewhere still imports the modules next to it."""
    link = tmp_path / "bin" / "linked_tool.py"
    link.parent.mkdir()
    link.symlink_to(PROGRAMS / "eq_uses_sibling.py")
    plain = subprocess.run([sys.executable, str(link)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == f"path0 {PROGRAMS}\nhello, world\n"
    store = tmp_path / "store.db"
    proc = run_cinescope(["record", "--store", str(store), "--trace", "linked_tool", str(link)],
                         cwd=tmp_path)
    assert_same_as_plain(plain, Recorded(proc, store))
