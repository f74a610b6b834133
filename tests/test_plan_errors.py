"""A plan that cannot be used is refused before anything runs: one line on
stderr that names the problem, exit status 2, the program not started, and
the store given with --store left exactly as it was."""
from __future__ import annotations

import hashlib

import pytest
from conftest import PROGRAMS

from cinescope.capture.plan import LEVELS, OVERFLOW_POLICIES


@pytest.fixture
def existing_store(record, tmp_path):
    """A store that already holds one recording; returns a function giving the
    hashes of the store file and any journal files beside it."""
    rec = record("calls.py", trace=["calls:fib"], cwd=PROGRAMS)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.startswith("3\n")

    def state():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in tmp_path.iterdir() if p.name.startswith(rec.store.name)}

    state.path = rec.store
    return state


def assert_refused(rec, *needles, plan=None):
    """Exit 2, one `cinescope: error:` line holding every needle, no program output.
    With `plan`, the line must name that file; the needles are looked for
    outside its path (which may hold any word)."""
    assert rec.returncode == 2, (rec.returncode, rec.stderr)
    lines = rec.stderr.splitlines()
    assert len(lines) == 1, rec.stderr
    line = lines[0]
    assert line.startswith("cinescope: error: "), line
    if plan is not None:
        assert str(plan) in line, f"{str(plan)!r} not in {line!r}"
        line = line.replace(str(plan), "<plan>")
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert rec.stdout == ""          # the program did not run
    return line


# (id, plan file text or None, --trace targets, needles; "{plan}": the line names the plan file)
CASES = [
    ("malformed-toml", 'level = "debug\ntrace = [\n', ["calls:fib"],
     ["{plan}", "not valid TOML"]),
    ("unknown-level-in-file", 'level = "verbose"\ntrace = ["calls:fib"]\n', [],
     ["{plan}", "'verbose'", "minimal, debug, full"]),
    ("unknown-level-in-levels-table", 'trace = ["calls"]\n[levels]\n"calls:fib" = "loud"\n', [],
     ["{plan}", "calls:fib", "'loud'"]),
    ("unknown-level-on-a-target", None, ["calls:fib=loud"],
     ["calls:fib=loud", "'loud'", "minimal, debug, full"]),
    ("unknown-key", 'trace = ["calls:fib"]\ntrce = ["calls"]\n', [],
     ["{plan}", "trce", "trace"]),
    ("missing-module", None, ["nosuch_module_xyz"],
     ["--trace", "'nosuch_module_xyz'"]),
    ("missing-module-in-plan", 'trace = ["calls:fib", "nosuch_module_xyz.sub"]\n', [],
     ["{plan}", "nosuch_module_xyz"]),
    ("missing-glob-prefix", None, ["zzz_nothing_here.*"], ["zzz_nothing_here"]),
    ("missing-function", None, ["calls:nosuchfn"], ["calls:nosuchfn", "'nosuchfn'"]),
    ("missing-class-method", None, ["calls:fib", "calls:Nope.method"],
     ["calls:Nope.method", "'Nope.method'"]),
    ("missing-nested-function", 'trace = ["calls:catcher.inner"]\n', [],
     ["{plan}", "calls:catcher.inner"]),
    ("bad-overflow-policy", 'trace = ["calls:fib"]\n[buffer]\noverflow = "explode"\n', [],
     ["{plan}", "overflow", "'explode'", ", ".join(OVERFLOW_POLICIES)]),
    ("bad-buffer-size", 'trace = ["calls:fib"]\n[buffer]\nsize = 3\n', [],
     ["{plan}", "size", "not 3"]),
    ("bad-value-limit", 'trace = ["calls:fib"]\n[values]\nmax_depth = -1\n', [],
     ["{plan}", "max_depth", "not -1"]),
    ("bad-redact-names", 'trace = ["calls:fib"]\n[redact]\nnames = "pin"\n', [],
     ["{plan}", "names"]),
    ("not-a-target", None, ["calls:"], ["'calls:'", "not a target"]),
    ("invalid-target-name", None, ["calls:fib-2"], ["'calls:fib-2'"]),
    ("plan-with-no-target", 'level = "debug"\ntrace = []\n', [], ["{plan}", "no target"]),
]


@pytest.mark.parametrize("plan_text, traces, needles",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_plan_is_refused_before_anything_runs(record, tmp_path, existing_store,
                                                  plan_text, traces, needles):
    before = existing_store()
    plan = None
    if plan_text is not None:
        plan = tmp_path / "plan.toml"
        plan.write_text(plan_text)
    rec = record("calls.py", trace=traces, plan=plan, cwd=PROGRAMS)
    assert_refused(rec, *(n for n in needles if n != "{plan}"),
                   plan=plan if "{plan}" in needles else None)
    assert existing_store() == before


def test_missing_plan_file(record, tmp_path, existing_store):
    before = existing_store()
    missing = tmp_path / "nowhere" / "plan.toml"
    rec = record("calls.py", plan=missing, cwd=PROGRAMS)
    assert_refused(rec, "does not exist", plan=missing)
    assert existing_store() == before


def test_no_plan_and_no_trace(record, tmp_path, existing_store):
    before = existing_store()
    rec = record("calls.py", cwd=tmp_path)    # no .cinescope/plan.toml here either
    assert_refused(rec, "nothing to record", "--trace")
    assert existing_store() == before


def test_unknown_level_option(record, existing_store):
    # --level is checked by the option parser itself
    before = existing_store()
    rec = record("calls.py", trace=["calls:fib"], level="verbose", cwd=PROGRAMS)
    assert rec.returncode == 2, rec.stderr
    assert rec.stdout == ""
    assert "Traceback" not in rec.stderr
    last = rec.stderr.strip().splitlines()[-1]
    assert "--level" in last and "'verbose'" in last
    assert all(level in last for level in LEVELS)
    assert existing_store() == before


def test_targets_are_checked_without_importing_the_module(record, tmp_path, existing_store):
    before = existing_store()
    marker = tmp_path / "imported.txt"
    rec = record("calls.py", trace=["err_import_marker:absent"], cwd=PROGRAMS,
                 env={"ERR_IMPORT_MARKER": str(marker)})
    assert_refused(rec, "err_import_marker:absent", "'absent'")
    assert not marker.exists()
    assert existing_store() == before
    # the same target module with a function that exists is accepted
    ok = record("calls.py", trace=["err_import_marker:present", "calls:fib"], cwd=PROGRAMS,
                env={"ERR_IMPORT_MARKER": str(marker)})
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("3\n")
    assert not marker.exists()      # calls.py never imports it, and neither did the check


def test_every_missing_target_is_named_at_once(record, existing_store):
    before = existing_store()
    rec = record("calls.py", trace=["calls:fib", "calls:nope_one", "nosuch_mod_two"],
                 cwd=PROGRAMS)
    line = assert_refused(rec, "calls:nope_one", "nosuch_mod_two")
    assert "calls:fib" not in line          # it exists: not named
    assert existing_store() == before
