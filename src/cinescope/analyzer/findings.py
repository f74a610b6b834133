"""A finding: one thing in a project's code that deserves recording, and why.

Findings are what `cinescope analyze` prints and what the language server
shows; `target` is a plan target (`cinescope record --trace TARGET`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

KINDS = ("stateful_class", "actor", "channel", "shared_state", "exceptions", "complex")


@dataclass(frozen=True)
class Finding:
    """`kind`: one of KINDS. `target`: a plan target such as
    "bank.accounts:Account" or "bank.transfer:move". `path`, `line`,
    `end_line`: where it is defined (path as given to the analyzer; lines
    from 1). `reason`: one sentence a user can judge. `score`: higher first
    (analyzer/ranking.py). `details`: JSON-able facts behind the reason."""
    kind: str
    target: str
    path: str
    line: int
    end_line: int
    reason: str
    score: float
    details: dict = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        return cls(kind=data["kind"], target=data["target"], path=data["path"],
                   line=int(data["line"]), end_line=int(data["end_line"]),
                   reason=data["reason"], score=float(data["score"]),
                   details=dict(data.get("details") or {}))
