"""The static analyzer: what it finds in real code, its cache, and its plans."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from cinescope.analyzer.findings import Finding
from cinescope.analyzer.planning import (add_targets, plan_for, planned_targets,
                                         remove_targets, targets_for)
from cinescope.analyzer.project import analyze_project
from cinescope.analyzer.source import analyze_source
from cinescope.capture.plan import build_plan, check_targets

BANK = Path(__file__).parent.parent / "examples" / "bank"


def by(findings, kind, target):
    found = [f for f in findings if f.kind == kind and f.target == target]
    assert found, f"no {kind} finding for {target}: {[(f.kind, f.target) for f in findings]}"
    return found[0]


def channel(findings, name):
    found = [f for f in findings if f.kind == "channel" and name in f.details["names"]]
    assert len(found) == 1, [f.reason for f in findings if f.kind == "channel"]
    return found[0]


@pytest.fixture
def bank(tmp_path):
    """A copy of examples/bank without its .cinescope directory."""
    shutil.copytree(BANK / "bank", tmp_path / "bank")
    return tmp_path


# -- examples/bank ------------------------------------------------------------------
def test_bank_stateful_classes_and_shared_state():
    report = analyze_project(str(BANK), cache=False)
    assert report.files == report.parsed == 8 and report.skipped == []
    account = by(report.findings, "stateful_class", "bank.accounts:Account")
    assert account.details["methods"] == {"deposit": ["balance"], "withdraw": ["balance"]}
    assert "deposit changes balance; withdraw changes balance" in account.reason
    assert account.path.endswith(os.path.join("bank", "accounts.py")) and account.line == 11
    # Bank only changes state in __init__
    assert not [f for f in report.findings if f.target == "bank.accounts:Bank"]
    shared = by(report.findings, "shared_state", "bank.accounts:Account")
    assert set(shared.details["attributes"]) == {"balance"}
    assert {"teller (thread, several)", "consumer (task)"} <= set(shared.details["actors"])
    assert "Account.balance is changed by deposit, withdraw" in shared.reason
    assert report.findings[0] is shared          # ranked first


def test_bank_actors():
    findings = analyze_project(str(BANK), cache=False).findings
    teller = by(findings, "actor", "bank.workers:teller")
    assert teller.details["actor_kind"] == "thread" and teller.details["several"]
    assert teller.details["started_in"] == [["bank.workers:run_tellers", 32]]
    assert teller.details["channels"] == ["requests", "results"]
    assert teller.reason.startswith("teller runs as several threads, started in run_tellers")
    assert by(findings, "actor", "bank.async_part:consumer").details["actor_kind"] == "task"
    assert by(findings, "actor", "bank.async_part:producer").details["several"] is False
    auditor = by(findings, "actor", "bank.audit:auditor")
    assert auditor.details["actor_kind"] == "process"
    assert auditor.details["channels"] == ["inbox", "receiver"]


def test_bank_channels_say_who_puts_and_who_gets():
    findings = analyze_project(str(BANK), cache=False).findings
    requests = channel(findings, "requests")
    assert requests.details["channel_type"] == "queue.Queue"
    assert requests.details["puts"] == ["bank.workers:run_tellers"]
    assert requests.details["gets"] == ["bank.workers:teller"]
    assert requests.reason == ("queue.Queue `requests` (made in run_tellers): put by "
                               "run_tellers; got by teller (thread)")
    results = channel(findings, "results")
    assert (results.details["puts"], results.details["gets"]) == (
        ["bank.workers:teller"], ["bank.workers:run_tellers"])
    queue = channel(findings, "queue")
    assert queue.details["channel_type"] == "asyncio.Queue"
    assert (queue.details["puts"], queue.details["gets"]) == (
        ["bank.async_part:producer"], ["bank.async_part:consumer"])
    inbox = channel(findings, "inbox")
    assert (inbox.details["puts"], inbox.details["gets"]) == (
        ["bank.audit:audit"], ["bank.audit:auditor"])
    pipe = channel(findings, "sender")
    assert pipe.details["channel_type"] == "multiprocessing.Pipe"
    assert (pipe.details["puts"], pipe.details["gets"]) == (
        ["bank.audit:auditor"], ["bank.audit:audit"])
    assert all(c.details["cross_actor"] for c in (requests, results, inbox, pipe))


def test_bank_exceptions_and_ranking():
    findings = analyze_project(str(BANK), cache=False).findings
    assert by(findings, "exceptions", "bank.accounts:Account.withdraw").details["raises"] == [
        "InsufficientFunds"]
    teller = by(findings, "exceptions", "bank.workers:teller")
    assert teller.reason == "teller catches InsufficientFunds without re-raising (line 22)"
    scores = [f.score for f in findings]
    assert scores == sorted(scores, reverse=True)
    kinds = [f.kind for f in findings]
    assert max(i for i, k in enumerate(kinds) if k == "channel") < kinds.index("exceptions")


def test_findings_round_trip_through_json():
    for finding in analyze_project(str(BANK), cache=False).findings:
        assert Finding.from_json(finding.to_json()) == finding


# -- one buffer -----------------------------------------------------------------------
def test_analyze_source_on_a_buffer_and_on_broken_text():
    text = (BANK / "bank" / "accounts.py").read_text()
    findings = analyze_source(text, "bank.accounts", "accounts.py")
    account = by(findings, "stateful_class", "bank.accounts:Account")
    assert account.path == "accounts.py"
    edited = text.replace("        self.balance -= amount", "        self.balance -= amount\n"
                          "        self.history.append(amount)")
    withdraw = by(analyze_source(edited, "bank.accounts", "accounts.py"), "stateful_class",
                  "bank.accounts:Account").details["methods"]["withdraw"]
    assert withdraw == ["balance", "history"]
    assert analyze_source(text + "\n    def broken(:\n", "bank.accounts", "accounts.py") == []
    assert analyze_source("x = 1\0", "m", "m.py") == []


def test_complex_function_found():
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(12))
    findings = analyze_source(f"def pick(x):\n{branches}\n    return -1\n", "m", "m.py")
    complex_ = by(findings, "complex", "m:pick")
    assert complex_.details["complexity"] == 13
    assert complex_.reason == "pick has cyclomatic complexity 13 over 26 lines"


# -- a package from PyPI -------------------------------------------------------------
def test_apscheduler_from_pypi_without_importing_it():
    spec = importlib.util.find_spec("apscheduler")
    assert "apscheduler" not in sys.modules          # find_spec did not run the package
    root = os.path.dirname(spec.origin)
    report = analyze_project(root, cache=False)
    assert "apscheduler" not in sys.modules
    assert report.skipped == [] and report.parsed == report.files > 30
    findings = report.findings
    loop = by(findings, "actor", "apscheduler.schedulers.blocking:BlockingScheduler._main_loop")
    assert loop.details["actor_kind"] == "thread"
    assert loop.details["started_in"][0][0] == (
        "apscheduler.schedulers.background:BackgroundScheduler.start")
    run_job = by(findings, "actor", "apscheduler.executors.base:run_job")
    assert run_job.details["actor_kind"] == "executor" and run_job.details["several"]
    scheduler = by(findings, "stateful_class", "apscheduler.schedulers.base:BaseScheduler")
    for method in ("start", "shutdown", "pause", "resume"):
        assert "state" in scheduler.details["methods"][method]
    shared = by(findings, "shared_state", "apscheduler.schedulers.base:BaseScheduler")
    assert "BlockingScheduler._main_loop (thread)" in shared.details["attributes"]["state"]
    process = by(findings, "exceptions", "apscheduler.schedulers.base:BaseScheduler._process_jobs")
    assert process.details["swallows"] and "without re-raising" in process.reason


# -- projects -------------------------------------------------------------------------
def test_cross_module_channel_and_src_layout(tmp_path):
    pkg = tmp_path / "src" / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "start.py").write_text(
        "import queue, threading\nfrom .work import worker\n\n"
        "def main():\n    jobs = queue.Queue()\n"
        "    t = threading.Thread(target=worker, args=(jobs,))\n    t.start()\n"
        "    jobs.put(1)\n")
    (pkg / "work.py").write_text("def worker(inbox):\n    return inbox.get()\n")
    findings = analyze_project(str(tmp_path), cache=False).findings
    jobs = channel(findings, "jobs")
    assert jobs.target == "shop.start:main"
    assert (jobs.details["puts"], jobs.details["gets"]) == (["shop.start:main"],
                                                           ["shop.work:worker"])
    assert jobs.details["cross_module"] and jobs.details["cross_actor"]
    assert by(findings, "actor", "shop.work:worker").details["channels"] == ["jobs"]
    # the package itself as the root: the same module names
    assert channel(analyze_project(str(pkg), cache=False).findings, "jobs").target == \
        "shop.start:main"


def test_never_imports_or_runs_the_code(tmp_path):
    marker = tmp_path / "ran"
    boom = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('imported!')\n"
    (tmp_path / "boompkg").mkdir()
    (tmp_path / "boompkg" / "__init__.py").write_text(boom)
    (tmp_path / "boompkg" / "counter.py").write_text(
        boom + "class Counter:\n    def bump(self):\n        self.n = 1\n")
    (tmp_path / "script.py").write_text(boom)
    findings = analyze_project(str(tmp_path), cache=False).findings
    assert by(findings, "stateful_class", "boompkg.counter:Counter")
    assert not marker.exists()
    assert "boompkg" not in sys.modules and "boompkg.counter" not in sys.modules


def test_unparseable_files_are_skipped_and_counted(bank):
    (bank / "bank" / "bad_syntax.py").write_text("def f(:\n    pass\n")
    (bank / "bank" / "bad_encoding.py").write_bytes(b"# -*- coding: utf-8 -*-\nx = '\xff\xfe'\n")
    (bank / "bank" / "nul.py").write_bytes(b"x = 1\0\n")
    report = analyze_project(str(bank), cache=False)
    skipped = {os.path.basename(p): reason for p, reason in report.skipped}
    assert set(skipped) == {"bad_syntax.py", "bad_encoding.py", "nul.py"}
    assert skipped["bad_syntax.py"].startswith("SyntaxError")
    assert report.files == 11 and report.parsed == 11
    assert by(report.findings, "actor", "bank.workers:teller")


# -- the cache ------------------------------------------------------------------------
def test_cache_reads_only_what_changed(bank):
    first = analyze_project(str(bank))
    assert (first.files, first.parsed, first.cached) == (8, 8, 0)
    assert os.path.isfile(bank / ".cinescope" / "analyze-cache" / "index.msgpack")
    second = analyze_project(str(bank))
    assert (second.parsed, second.cached) == (0, 8)
    assert second.findings == first.findings
    assert [f.details for f in second.findings] == [f.details for f in first.findings]

    accounts = bank / "bank" / "accounts.py"
    accounts.write_text(accounts.read_text().replace(
        "    def __repr__", "    def close(self):\n        self.closed = True\n\n    def __repr__"))
    third = analyze_project(str(bank))
    assert (third.parsed, third.cached) == (1, 7)
    assert "close" in by(third.findings, "stateful_class",
                         "bank.accounts:Account").details["methods"]

    (bank / "bank" / "workers.py").unlink()
    fourth = analyze_project(str(bank))
    assert (fourth.files, fourth.parsed, fourth.cached) == (7, 0, 7)
    assert not [f for f in fourth.findings if f.target.startswith("bank.workers")]
    assert by(fourth.findings, "actor", "bank.audit:auditor")


def test_a_corrupt_cache_is_rebuilt(bank):
    analyze_project(str(bank))
    cache = bank / ".cinescope" / "analyze-cache"
    for name in ("index.msgpack", "facts.msgpack"):
        (cache / name).write_bytes(b"\x93not msgpack at all")
    rebuilt = analyze_project(str(bank))
    assert (rebuilt.parsed, rebuilt.cached) == (8, 0)
    assert by(rebuilt.findings, "channel", "bank.workers:run_tellers")
    again = analyze_project(str(bank))
    assert (again.parsed, again.cached) == (0, 8)
    # a damaged facts file with a good index: the changed file is read, the rest too
    (cache / "facts.msgpack").write_bytes(b"")
    (bank / "bank" / "errors.py").write_text("class InsufficientFunds(Exception):\n    pass\n")
    after = analyze_project(str(bank))
    assert after.parsed == 8 and by(after.findings, "actor", "bank.workers:teller")


def test_cache_in_another_directory_and_none(bank, tmp_path):
    elsewhere = tmp_path / "cache-here"
    analyze_project(str(bank), cache=str(elsewhere))
    assert (elsewhere / "index.msgpack").is_file()
    assert not (bank / ".cinescope").exists()
    assert analyze_project(str(bank), cache=str(elsewhere)).cached == 8
    assert analyze_project(str(bank), cache=False).cached == 0
    assert not (bank / ".cinescope").exists()


# -- plans ----------------------------------------------------------------------------
def test_plan_for_loads_with_the_plan_loader_and_its_targets_exist(tmp_path):
    findings = analyze_project(str(BANK), cache=False).findings
    text = plan_for(findings[:8], level="minimal")
    path = tmp_path / "plan.toml"
    path.write_text(text)
    plan = build_plan(str(path))
    assert plan.level == "minimal"
    assert [t.spec for t in plan.targets] == targets_for(findings[:8])
    assert [t.spec for t in plan.targets][0] == "bank.accounts:Account"
    check_targets(plan, [str(BANK)])        # every target names real code
    assert "# shared_state: Account.balance is changed by" in text
    with pytest.raises(ValueError):
        plan_for(findings, level="loud")


def test_targets_for_drops_what_another_target_covers():
    def f(target, *extra):
        return Finding("exceptions", target, "x.py", 1, 1, "r", 1.0,
                       {"plan_targets": list(extra)})
    assert targets_for([f("a.b:C.m"), f("a.b:C"), f("a.c:g"), f("a.d:h", "a.d"),
                        f("a.b:C")]) == ["a.b:C", "a.c:g", "a.d"]
    assert targets_for([f("a.b:C"), f("z:y", "a.*")]) == ["z:y", "a.*"]


def test_add_and_remove_targets_keep_comments_and_sections(tmp_path):
    path = tmp_path / ".cinescope" / "plan.toml"
    path.parent.mkdir()
    path.write_text((BANK / ".cinescope" / "plan.toml").read_text())
    assert add_targets(str(path), ["bank.accounts:Account", "bank.*"]) == [
        "bank.accounts:Account"]
    text = path.read_text()
    assert text.startswith("# What `make demo` records")
    assert 'names = ["pin"]     # account PINs are secrets too' in text
    assert planned_targets(str(path)) == {"bank.*", "bank.accounts:Account"}
    assert build_plan(str(path)).redact[-1] == "pin"
    assert remove_targets(str(path), ["bank.*", "not.planned"]) == ["bank.*"]
    assert planned_targets(str(path)) == {"bank.accounts:Account"}
    assert "# account PINs are secrets too" in path.read_text()
    assert [t.spec for t in build_plan(str(path)).targets] == ["bank.accounts:Account"]


def test_add_targets_creates_the_plan_and_levels_are_removed_too(tmp_path):
    path = tmp_path / "new" / "plan.toml"
    assert planned_targets(str(path)) == set()
    assert remove_targets(str(path), ["a.b"]) == []
    assert add_targets(str(path), ["bank.transfer:move"]) == ["bank.transfer:move"]
    assert [t.spec for t in build_plan(str(path)).targets] == ["bank.transfer:move"]
    with path.open("a") as fh:
        fh.write('\n[levels]\n"bank.audit:audit" = "full"  # keep me\n')
    assert planned_targets(str(path)) == {"bank.transfer:move", "bank.audit:audit"}
    assert add_targets(str(path), ["bank.audit:audit"]) == []
    assert remove_targets(str(path), ["bank.audit:audit"]) == ["bank.audit:audit=full"]
    assert planned_targets(str(path)) == {"bank.transfer:move"}
