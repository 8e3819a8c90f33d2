"""The calibrated scorer: ranked candidates -> a probability-like confidence and a short reason.

Used whenever no LLM judge is configured (and when the judge's answer fails validation), and by
search. The maths and the shipped parameters live in `core/calibration.py` /
`core/calibration_params.json`. A deployment's own refit (the `routing_calibration` asset) is
stored as `$GTM_FEEDBACK_HOME/calibration/active.json` once its held-out check passed; a scorer
built without explicit parameters uses that file when it exists and is valid for the same
features, else the shipped parameters. The attach threshold comes from the parameters' measured
attach curve for the target precision (`GTM_FEEDBACK_ATTACH_PRECISION`), never below the
configured `GTM_FEEDBACK_AUTO_ATTACH_THRESHOLD`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gtm_feedback_dagster.config import attach_precision_target, default_home
from gtm_feedback_dagster.core.calibration import (
    FEATURES,
    CalibrationParams,
    CandidateText,
    content_words,
    default_params,
    feature_rows,
)
from gtm_feedback_dagster.routing.candidates import ScoredCandidate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankedMatch:
    candidate: ScoredCandidate
    confidence: float
    reason: str
    features: dict[str, float]

    @property
    def request_id(self) -> int:
        return self.candidate.request.id


@dataclass(frozen=True)
class Assessment:
    ranked: list[RankedMatch]  # most confident first; .confidence = P(this one is the request)
    p_match: float  # P(the entry has a request among the existing ones at all)
    calibration: str = ""  # version of the parameters that gave these probabilities

    @property
    def p_top(self) -> float:
        return self.ranked[0].confidence if self.ranked else 0.0


@lru_cache(maxsize=20_000)
def _candidate_text(title: str, description: str) -> CandidateText:
    return CandidateText.of(title, description)


def _reason(match: ScoredCandidate, feats: dict[str, float], shared: Sequence[str]) -> str:
    parts = [f"similarity {match.similarity:.2f}"]
    margin = feats["margin"]
    if margin >= 0:
        parts.append(f"{margin:.2f} ahead of the next request")
    else:
        parts.append(f"{-margin:.2f} behind the closest request")
    text = ", ".join(parts)
    if shared:
        text += "; shared terms: " + ", ".join(shared[:5])
    return text


ACTIVE_PARAMS = Path("calibration") / "active.json"


def active_params_path(home: Path | None = None) -> Path:
    return (home or default_home()) / ACTIVE_PARAMS


_loaded: dict[Path, tuple[tuple[int, int], CalibrationParams]] = {}


def load_active_params(home: Path | None = None) -> CalibrationParams:
    """The deployment's accepted refit when there is one (re-read when the file changes), else
    the shipped parameters. An unreadable file or one for other features is ignored (logged)."""
    path = active_params_path(home)
    try:
        stat = path.stat()
        mtime = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return default_params()
    cached = _loaded.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        params = CalibrationParams.from_json(path.read_text(encoding="utf-8"))
        if params.features != default_params().features:
            raise ValueError(f"features {params.features} are not the shipped ones")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring calibration file %s: %s", path, exc)
        return default_params()
    _loaded[path] = (mtime, params)
    return params


class CalibratedScorer:
    """Scores the nearest candidates of a text with the fitted logistic model and re-ranks them
    by confidence (lexical overlap can lift the right request above a slightly closer one)."""

    def __init__(
        self, params: CalibrationParams | None = None, attach_precision: float | None = None
    ) -> None:
        self.params = params or load_active_params()
        self.attach_precision = (
            attach_precision if attach_precision is not None else attach_precision_target()
        )

    @property
    def version(self) -> str:
        return self.params.version_id

    def attach_threshold(self, floor: float) -> float:
        """The attach threshold that reaches the target precision on the parameters' held-out
        curve, never below `floor` (the configured auto-attach threshold)."""
        return round(self.params.attach_threshold(self.attach_precision, floor), 4)

    def with_params(self, params: CalibrationParams) -> CalibratedScorer:
        return CalibratedScorer(params, self.attach_precision)

    @property
    def model_id(self) -> str:
        return self.params.model_id

    def check_model(self, embedder_model_id: str) -> str | None:
        """A warning when the parameters were fitted on another embedding model's signals."""
        if embedder_model_id == self.params.model_id:
            return None
        message = (
            f"calibration was fitted for {self.params.model_id} but embeddings come from "
            f"{embedder_model_id}; confidences may be miscalibrated "
            "(refit with `python -m bench.fit_calibration` or configure an LLM judge)"
        )
        log.warning(message)
        return message

    def rank(
        self, text: str, candidates: Sequence[ScoredCandidate], limit: int | None = None
    ) -> list[RankedMatch]:
        """Candidates (best similarity first) scored and re-ranked by confidence."""
        return self.assess(text, candidates, limit=limit).ranked

    def assess(
        self, text: str, candidates: Sequence[ScoredCandidate], limit: int | None = None
    ) -> Assessment:
        """The re-ranked candidates (each with P(it is the entry's request)) and P(the entry has
        a request among the existing ones at all)."""
        if not candidates:
            return Assessment([], 0.0, self.version)
        depth = max(self.params.rerank_top_k, limit or 0)
        entry_words = content_words(text)
        texts = [
            _candidate_text(c.request.title, c.request.description) for c in candidates[:depth]
        ]
        scores = [c.similarity for c in candidates]
        rows = feature_rows(entry_words, scores, texts, rows=depth)
        probs = self.params.probability(rows)
        p_match = self.params.match_probability(rows, probs, scores)
        ranked = []
        for i, cand in enumerate(candidates[: len(rows)]):
            feats = {name: float(rows[i][j]) for j, name in enumerate(FEATURES)}
            shared = sorted(entry_words & texts[i].title_words) or sorted(
                entry_words & texts[i].text_words
            )
            ranked.append(
                RankedMatch(
                    candidate=cand,
                    confidence=float(probs[i]),
                    reason=_reason(cand, feats, shared),
                    features=feats,
                )
            )
        ranked.sort(key=lambda m: (-m.confidence, -m.candidate.similarity, m.request_id))
        return Assessment(ranked[:limit] if limit is not None else ranked, p_match, self.version)
