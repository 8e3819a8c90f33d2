"""Three-tier routing decision: attach automatically, ask the submitter, or create a new request.

The tiers apply to a probability-like confidence — the LLM judge's when one is configured and its
answer validates, else the calibrated scorer's — never to raw cosine similarity.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gtm_feedback_dagster.ai.llm import Candidate, ChatLLM, judge_match
from gtm_feedback_dagster.routing.candidates import ROUTING_TOP_K, ScoredCandidate
from gtm_feedback_dagster.routing.confidence import CalibratedScorer, RankedMatch

log = logging.getLogger(__name__)

Tier = Literal["attach", "ask", "new"]
Method = Literal["llm", "calibrated", "none"]


@dataclass(frozen=True)
class Thresholds:
    auto_attach: float = 0.90
    ask: float = 0.80

    def __post_init__(self) -> None:
        if not 0.0 <= self.ask <= self.auto_attach <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= ask <= auto_attach <= 1, got ask={self.ask}, "
                f"auto_attach={self.auto_attach}"
            )


def tier_for(confidence: float, thresholds: Thresholds) -> Tier:
    """>= auto_attach: attach; >= ask: ask the submitter; below: a new request."""
    if confidence >= thresholds.auto_attach:
        return "attach"
    if confidence >= thresholds.ask:
        return "ask"
    return "new"


@dataclass(frozen=True)
class Decision:
    tier: Tier
    request_id: int | None  # the matched request (attach/ask), or the closest one (new)
    confidence: float
    reason: str
    method: Method
    similarity: float | None = None  # cosine of the chosen candidate
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tier in ("attach", "ask") and self.request_id is None:
            raise ValueError(f"a {self.tier} decision needs a request")


def decide_calibrated(
    ranked: Sequence[RankedMatch], thresholds: Thresholds, note: str | None = None
) -> Decision:
    if not ranked:
        return Decision("new", None, 0.0, "no existing request to compare with", "none")
    best = ranked[0]
    details: dict[str, object] = {"features": {k: round(v, 4) for k, v in best.features.items()}}
    if note:
        details["note"] = note
    return Decision(
        tier=tier_for(best.confidence, thresholds),
        request_id=best.request_id,
        confidence=round(best.confidence, 4),
        reason=best.reason,
        method="calibrated",
        similarity=round(best.candidate.similarity, 4),
        details=details,
    )


def decide(
    text: str,
    candidates: Sequence[ScoredCandidate],
    scorer: CalibratedScorer,
    thresholds: Thresholds,
    llm: ChatLLM | None = None,
) -> Decision:
    """The tier for one entry given its nearest candidates (best similarity first)."""
    if not candidates:
        return Decision("new", None, 0.0, "no existing request to compare with", "none")
    ranked = scorer.rank(text, candidates)
    if llm is None:
        return decide_calibrated(ranked, thresholds)
    top = list(candidates[:ROUTING_TOP_K])
    verdict = judge_match(
        llm,
        text,
        [
            Candidate(
                id=c.request.id,
                title=c.request.title,
                description=c.request.description,
                areas=c.request.area_slugs,
                score=c.similarity,
            )
            for c in top
        ],
    )
    if verdict is None:
        # Failed call or an answer that does not validate: the calibrated path decides.
        return decide_calibrated(ranked, thresholds, note="llm answer unusable; calibrated")
    by_id = {c.request.id: c for c in top}
    if verdict.request_id is None:
        closest = top[0]
        return Decision(
            tier="new",
            request_id=None,
            confidence=0.0,
            reason=verdict.reason or "no candidate describes the same need",
            method="llm",
            similarity=round(closest.similarity, 4),
            details={"closest_request_id": closest.request.id},
        )
    if verdict.request_id not in by_id:  # judge_match validates this too; never trust it blindly
        return decide_calibrated(ranked, thresholds, note="llm chose an unknown request")
    chosen = by_id[verdict.request_id]
    return Decision(
        tier=tier_for(verdict.confidence, thresholds),
        request_id=verdict.request_id,
        confidence=round(verdict.confidence, 4),
        reason=verdict.reason or "judged the same need by the LLM",
        method="llm",
        similarity=round(chosen.similarity, 4),
    )
