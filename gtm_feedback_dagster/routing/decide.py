"""Three-tier routing decision: attach automatically, ask the submitter, or create a new request.

The tiers apply to a probability-like confidence — the LLM judge's when one is configured and its
answer validates, else the calibrated scorer's — never to raw cosine similarity.

The calibrated path has two probabilities: p_top = P(the top candidate is the entry's request) and
p_match = P(the entry has a request among the existing ones at all). Attaching needs p_top (the
entry goes to that very request). Below that, the tier comes from the larger of the two: the ask
tier means "at least `ask` likely this belongs to an existing request; the best candidate and the
alternatives are shown", and below `ask` means "probably a new need". The published confidence is
always p_top, uncapped: the probability that the suggested request is the right one.
Routing on p_top alone sent every entry torn between two close candidates to a new request — a
duplicate of an existing one, fragmenting the demand picture.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from gtm_feedback_dagster.ai.llm import Candidate, ChatLLM, judge_match
from gtm_feedback_dagster.routing.candidates import ROUTING_TOP_K, ScoredCandidate
from gtm_feedback_dagster.routing.confidence import Assessment, CalibratedScorer

log = logging.getLogger(__name__)

Tier = Literal["attach", "ask", "new"]
Method = Literal["llm", "calibrated", "none"]
Source = Literal["top", "match"]  # which probability chose the tier (the larger one)

CONFIDENCE_STEP = 1e-4  # confidences are stored with 4 decimals (people see 2: format_confidence)
ALTERNATIVES_SHOWN = 2  # other close candidates listed to the submitter when p_top is low


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


def combine(p_top: float, p_match: float, thresholds: Thresholds) -> tuple[Tier, float, Source]:
    """(tier, published confidence, which probability chose the tier) from the two probabilities.

    Attach only on p_top. Otherwise the tier comes from the larger of p_top and p_match (ask when
    it reaches `ask`; with ask >= auto no ask tier is configured and the entry gets a new
    request), but the published confidence is always p_top — the calibrated probability that the
    suggested request is the right one. It used to be max(p_top, p_match) clamped one step below
    the attach threshold, so every entry with p_match >= 0.90 showed the same 0.8999 whatever
    its suggestion's chance; p_match stays in the decision's details.
    """
    p_top, p_match = round(float(p_top), 4), round(float(p_match), 4)
    if p_top >= thresholds.auto_attach:
        return "attach", p_top, "top"
    source: Source = "match" if p_match > p_top else "top"
    if thresholds.ask >= thresholds.auto_attach:
        return "new", p_top, source
    return ("ask" if max(p_top, p_match) >= thresholds.ask else "new"), p_top, source


def format_confidence(confidence: float | None) -> str:
    """A confidence for people: two decimals, rounded down, so 0.8999 reads "0.89" and never
    claims the attach tier (0.90) it did not get; None reads "-"."""
    if confidence is None:
        return "-"
    return f"{math.floor(float(confidence) * 100 + 1e-6) / 100:.2f}"


def _calibrated_reason(tier: Tier, source: Source, assessment: Assessment) -> str:
    best = assessment.ranked[0]
    if tier == "attach":
        return f"the best candidate is the request (p={best.confidence:.2f}); {best.reason}"
    if source == "match":
        lead = (
            f"likely an existing request (p={assessment.p_match:.2f})"
            if tier == "ask"
            else f"probably a new need (p={assessment.p_match:.2f} of an existing request)"
        )
        return f"{lead}; best candidate (p={best.confidence:.2f}): {best.reason}"
    lead = (
        f"the best candidate is likely the request (p={best.confidence:.2f})"
        if tier == "ask"
        else f"probably a new need (best candidate p={best.confidence:.2f})"
    )
    return f"{lead}; {best.reason}"


def calibrated_thresholds(scorer: CalibratedScorer, thresholds: Thresholds) -> Thresholds:
    """The thresholds the calibrated path applies: attach at the threshold that reaches the
    target precision on the parameters' held-out curve (never below the configured one); the
    ask threshold as configured, never above the attach threshold."""
    auto = scorer.attach_threshold(thresholds.auto_attach)
    return Thresholds(auto, min(thresholds.ask, auto))


def decide_calibrated(
    assessment: Assessment, thresholds: Thresholds, note: str | None = None
) -> Decision:
    """The calibrated decision; `thresholds` as applied (see `calibrated_thresholds`). The
    details record which calibration version decided and at which attach threshold."""
    if not assessment.ranked:
        return Decision(
            "new",
            None,
            0.0,
            "no existing request to compare with",
            "none",
            details={"calibration": assessment.calibration} if assessment.calibration else {},
        )
    best = assessment.ranked[0]
    tier, confidence, source = combine(assessment.p_top, assessment.p_match, thresholds)
    details: dict[str, object] = {
        "calibration": assessment.calibration,
        "attach_threshold": thresholds.auto_attach,
        "p_top": round(assessment.p_top, 4),
        "p_match": round(assessment.p_match, 4),
        "confidence_from": "p_top",  # the published confidence: P(suggested request is right)
        "tier_from": "p_top" if source == "top" else "p_match",
        "features": {k: round(v, 4) for k, v in best.features.items()},
    }
    if tier != "attach":
        details["alternatives"] = [
            m.request_id for m in assessment.ranked[1 : 1 + ALTERNATIVES_SHOWN]
        ]
    if note:
        details["note"] = note
    return Decision(
        tier=tier,
        request_id=best.request_id,
        confidence=confidence,
        reason=_calibrated_reason(tier, source, assessment),
        method="calibrated",
        similarity=round(best.candidate.similarity, 4),
        details=details,
    )


_UNUSABLE = "llm answer unusable; calibrated, asked instead of attached"


def judge_candidates(candidates: Sequence[ScoredCandidate]) -> list[Candidate]:
    """The judge's view of the candidates (the engine's prefetch builds the same prompt, so its
    answer is reused; a mismatch only costs a second call)."""
    return [
        Candidate(
            id=c.request.id,
            title=c.request.title,
            description=c.request.description,
            areas=c.request.area_slugs,
            score=c.similarity,
        )
        for c in list(candidates)[:ROUTING_TOP_K]
    ]


def _at_most_ask(decision: Decision) -> Decision:
    if decision.tier != "attach":
        return decision
    return replace(decision, tier="ask")


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
    assessment = scorer.assess(text, candidates)
    calibrated = calibrated_thresholds(scorer, thresholds)
    if llm is None:
        return decide_calibrated(assessment, calibrated)
    top = list(candidates[:ROUTING_TOP_K])
    # An unavailable judge raises LLMUnavailable: routing.engine keeps the entry waiting.
    verdict = judge_match(llm, text, judge_candidates(top))
    if verdict is None:
        # An answer that does not validate: the calibrated path decides, but never attaches on
        # its own — it was fitted for the local model, the deployment may embed with another.
        return _at_most_ask(decide_calibrated(assessment, calibrated, note=_UNUSABLE))
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
        return _at_most_ask(
            decide_calibrated(assessment, calibrated, note="llm chose an unknown request")
        )
    chosen = by_id[verdict.request_id]
    return Decision(
        tier=tier_for(verdict.confidence, thresholds),
        request_id=verdict.request_id,
        confidence=round(verdict.confidence, 4),
        reason=verdict.reason or "judged the same need by the LLM",
        method="llm",
        similarity=round(chosen.similarity, 4),
    )
