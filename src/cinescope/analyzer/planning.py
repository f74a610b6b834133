"""From findings to a plan that `cinescope record` reads, and edits of an
existing plan file that keep its comments and other sections (tomlkit).
"""
from __future__ import annotations

import os

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..capture.plan import LEVELS, PlanError, parse_target
from .findings import Finding

HEADER = "What to record, chosen by `cinescope analyze` (docs/analyzer.md)."


def _spec(entry: str) -> str:
    """A trace entry without its `=level`."""
    return entry.rsplit("=", 1)[0].strip() if "=" in entry else entry.strip()


def _covers(wide: str, narrow: str) -> bool:
    if wide == narrow:
        return False
    try:
        target = parse_target(wide, "debug")
    except PlanError:
        return False
    module, _, qual = narrow.partition(":")
    if not target.matches_module(module):
        return False
    return target.qualname is None or (bool(qual) and target.matches(module, qual))


def targets_for(findings: list[Finding]) -> list[str]:
    """The plan targets of findings, in their order, without repeats and
    without targets another one already covers (a class covers its methods, a
    module its functions)."""
    ordered: list[str] = []
    for finding in findings:
        for target in [finding.target] + list(finding.details.get("plan_targets", [])):
            if target not in ordered:
                ordered.append(target)
    return [t for t in ordered if not any(_covers(o, t) for o in ordered)]


def plan_for(findings: list[Finding], level: str = "debug") -> str:
    """A plan file (TOML text) recording the findings' targets at `level`;
    each target's comment says which finding chose it."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    why: dict[str, str] = {}
    for finding in findings:
        for target in [finding.target] + list(finding.details.get("plan_targets", [])):
            why.setdefault(target, f"{finding.kind}: {finding.reason}")
    lines = [f"# {HEADER}", f"level = {tomlkit.string(level).as_string()}", "trace = ["]
    for target in targets_for(findings):
        comment = " ".join(why.get(target, "").split())
        if len(comment) > 160:
            comment = comment[:157] + "..."
        lines.append(f"    {tomlkit.string(target).as_string()},  # {comment}")
    lines.append("]")
    return "\n".join(lines) + "\n"


def _load(plan_path: str):
    try:
        with open(plan_path, encoding="utf-8") as fh:
            return tomlkit.parse(fh.read())
    except FileNotFoundError:
        doc = tomlkit.document()
        doc.add(tomlkit.comment(HEADER))
        doc.add("level", "debug")
        return doc
    except (TOMLKitError, UnicodeDecodeError) as exc:
        raise PlanError(f"plan file {plan_path} is not valid TOML: {exc}") from None


def _save(plan_path: str, doc) -> None:
    directory = os.path.dirname(plan_path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(plan_path, "w", encoding="utf-8") as fh:
        fh.write(tomlkit.dumps(doc))


def _trace(doc):
    trace = doc.get("trace")
    if trace is None or isinstance(trace, str):
        array = tomlkit.array()
        array.multiline(True)
        if isinstance(trace, str):
            array.append(trace)
        doc["trace"] = array
        trace = doc["trace"]
    return trace


def add_targets(plan_path: str, targets: list[str]) -> list[str]:
    """Add targets to a plan file's `trace` (the file is made if missing);
    returns those added (a target already planned, at any level, is not)."""
    for target in targets:
        parse_target(target, "debug", plan_path)          # a bad target is a PlanError
    doc = _load(plan_path)
    present = planned_in(doc)
    added = [t for t in dict.fromkeys(targets) if _spec(t) not in present]
    if added:
        trace = _trace(doc)
        for target in added:
            trace.append(target)
        if len(trace) > 1:
            trace.multiline(True)
        _save(plan_path, doc)
    return added


def remove_targets(plan_path: str, targets: list[str]) -> list[str]:
    """Remove targets from a plan file's `trace` and `[levels]`; returns the
    entries removed. A missing file has nothing to remove."""
    if not os.path.exists(plan_path):
        return []
    doc = _load(plan_path)
    gone = {_spec(t) for t in targets}
    removed = []
    trace = doc.get("trace")
    if isinstance(trace, str) and _spec(trace) in gone:
        removed.append(trace)
        del doc["trace"]
    elif trace is not None and not isinstance(trace, str):
        for i in reversed(range(len(trace))):
            if _spec(str(trace[i])) in gone:
                removed.append(str(trace[i]))
                del trace[i]
    levels = doc.get("levels")
    if levels is not None and hasattr(levels, "keys"):
        for key in list(levels.keys()):
            if _spec(key) in gone:
                removed.append(f"{key}={levels[key]}")
                del levels[key]
    if removed:
        _save(plan_path, doc)
    return list(reversed(removed))


def planned_in(doc) -> set[str]:
    trace = doc.get("trace", [])
    entries = [trace] if isinstance(trace, str) else [str(t) for t in trace]
    levels = doc.get("levels", {})
    keys = list(levels.keys()) if hasattr(levels, "keys") else []
    return {_spec(e) for e in entries + keys}


def planned_targets(plan_path: str) -> set[str]:
    """The targets a plan file names (`trace` and `[levels]`, without levels);
    an empty set when the file is missing or not valid TOML."""
    try:
        return planned_in(_load(plan_path)) if os.path.exists(plan_path) else set()
    except PlanError:
        return set()
