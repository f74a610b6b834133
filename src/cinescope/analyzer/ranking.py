"""How findings are ranked: each gets a score, the highest first.

The score says how much a recording of the target is likely to show that
reading the code does not: what happens between actors first, then state,
then exceptions and complexity.

| kind | score |
|---|---|
| shared_state | 6, +1 per actor beyond two (at most +3), +1 when more than one actor changes it |
| channel | 5, +1 when its puts and gets are in different actors, +0.5 when it crosses modules |
| actor | 4, +1 when started several times, +0.5 per channel it uses (at most +1) |
| stateful_class | 2, +0.5 per method that changes state (at most +2), +3 when its methods run in two actors or more, +0.5 per further actor (at most +1.5) |
| exceptions | 1, +1.5 when it catches without re-raising, +1 more when such a catch takes every exception, +0.25 per exception raised (at most +1) |
| complex | 0.5 + (cyclomatic complexity - 10) / 10, at most 3 |

Ties go by kind in the order above, then target.
"""
from __future__ import annotations

from .findings import Finding

ORDER = ("shared_state", "channel", "actor", "stateful_class", "exceptions", "complex")


def score(kind: str, d: dict) -> float:
    if kind == "shared_state":
        actors = len(d["actors"])
        return 6 + min(max(actors - 2, 0), 3) + (1 if len(d.get("writer_actors", [])) > 1 else 0)
    if kind == "channel":
        return 5 + (1 if d.get("cross_actor") else 0) + (0.5 if d.get("cross_module") else 0)
    if kind == "actor":
        return 4 + (1 if d.get("several") else 0) + min(0.5 * len(d.get("channels", [])), 1)
    if kind == "stateful_class":
        actors = len(d.get("actors", []))
        s = 2 + min(0.5 * len(d["methods"]), 2)
        if actors >= 2:
            s += 3 + min(0.5 * (actors - 2), 1.5)
        return s
    if kind == "exceptions":
        s = 1.0
        if d.get("swallows"):
            s += 1.5 + (1 if any(h["broad"] for h in d["swallows"]) else 0)
        return s + min(0.25 * len(d.get("raises", [])), 1)
    if kind == "complex":
        return min(0.5 + (d["complexity"] - 10) / 10, 3)
    raise ValueError(f"unknown finding kind {kind!r}")


def rank(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.score, ORDER.index(f.kind), f.target,
                                           f.path, f.line))
