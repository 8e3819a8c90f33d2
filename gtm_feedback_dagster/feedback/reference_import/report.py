"""The summary of a reference import: counts per kind and the problems found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("users", "areas", "accounts", "opportunities", "requests", "followers", "feedback")
PROBLEM_LIMIT = 10_000  # keep the report bounded on a badly broken export


@dataclass
class KindCounts:
    created: int = 0
    existing: int = 0
    updated: int = 0
    invalid: int = 0


@dataclass
class ImportProblem:
    kind: str
    index: int  # position in the export's list
    ref: str | None
    reason: str
    stored: bool = False  # True when kept as an `invalid` entry; False = not imported / warning


@dataclass
class ImportSummary:
    counts: dict[str, KindCounts] = field(default_factory=lambda: {k: KindCounts() for k in KINDS})
    problems: list[ImportProblem] = field(default_factory=list)
    problems_dropped: int = 0
    seconds: float = 0.0

    @property
    def invalid(self) -> int:
        return sum(c.invalid for c in self.counts.values())

    def problem(self, kind: str, index: int, ref: Any, reason: str, stored: bool = False) -> None:
        if len(self.problems) >= PROBLEM_LIMIT:
            self.problems_dropped += 1
            return
        self.problems.append(
            ImportProblem(kind, index, None if ref is None else str(ref), reason, stored)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": {k: vars(v) for k, v in self.counts.items()},
            "problems": [vars(p) for p in self.problems],
            "problems_dropped": self.problems_dropped,
            "seconds": round(self.seconds, 3),
        }
