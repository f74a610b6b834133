"""`cinescope analyze`: the table, --json, --write-plan, errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cinescope.analyzer.analyze_command import cmd_analyze
from cinescope.capture.plan import build_plan

BANK = Path(__file__).parent.parent / "examples" / "bank"


@pytest.fixture
def bank(tmp_path):
    shutil.copytree(BANK / "bank", tmp_path / "bank")
    return tmp_path


def test_table(bank, capsys):
    assert cmd_analyze([str(bank)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["#", "score", "kind", "target", "where", "reason"]
    assert lines[2].split()[:5] == ["1", "8", "shared_state", "bank.accounts:Account",
                                    "bank/accounts.py:11"]
    assert "\x1b[" not in out                       # plain when piped
    assert "15 findings in 8 files (8 read, 0 from the cache, 0 skipped)" in out
    assert cmd_analyze([str(bank), "--kind", "actor", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 findings in 8 files (0 read, 8 from the cache, 0 skipped)" in out
    assert "... 2 more (--limit 0 shows all)" in out
    rows = [line.split() for line in out.splitlines()
            if line.split()[0].isdigit() and "findings in" not in line]
    assert [row[2] for row in rows] == ["actor", "actor"]


def test_json(bank, capsys):
    assert cmd_analyze([str(bank), "--json", "--no-cache"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["files"], doc["parsed"], doc["cached"], doc["skipped"]) == (8, 8, 0, [])
    first = doc["findings"][0]
    assert (first["kind"], first["target"], first["line"]) == (
        "shared_state", "bank.accounts:Account", 11)
    assert set(first) == {"kind", "target", "path", "line", "end_line", "reason", "score",
                          "details"}
    assert not (bank / ".cinescope").exists()       # --no-cache keeps none


def test_write_plan(bank, capsys):
    assert cmd_analyze([str(bank), "--write-plan", "--top", "3"]) == 0
    out = capsys.readouterr().out
    plan_path = bank / ".cinescope" / "plan.toml"
    plan = build_plan(str(plan_path))
    specs = [t.spec for t in plan.targets]
    assert specs == ["bank.accounts:Account", "bank.async_part:serve",
                     "bank.async_part:consumer", "bank.async_part:producer"]
    assert f"wrote 4 targets from the top 3 findings to {plan_path}: " \
           "bank.accounts:Account, bank.async_part:serve" in out
    assert cmd_analyze([str(bank), "--write-plan", "--top", "3"]) == 0
    assert "(all were planned already)" in capsys.readouterr().out
    assert cmd_analyze([str(bank), "--write-plan", "--top", "6", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["plan"]["added"] == ["bank.audit:audit", "bank.audit:auditor",
                                    "bank.workers:run_tellers", "bank.workers:teller"]
    assert plan_path.read_text().startswith("# What to record, chosen by `cinescope analyze`")


def test_errors(tmp_path, capsys):
    assert cmd_analyze([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cmd_analyze([str(tmp_path), "--kind", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cinescope: error: cinescope analyze: argument --kind")
    assert cmd_analyze(["--top", "0", str(tmp_path)]) == 2
    assert cmd_analyze(["--help"]) == 0
    assert "--write-plan" in capsys.readouterr().out
