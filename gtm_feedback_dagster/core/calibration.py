"""Calibrated match confidence: features of a (feedback entry, candidate request) pair and a
logistic model that turns them into P(candidate is the entry's request).

Why: raw cosine similarity of a small sentence model is not a probability. On all-MiniLM-L6-v2
correct feedback→request pairs sit around 0.54, unrelated best candidates around 0.49, so fixed
0.9/0.8 tiers on cosine would attach nothing. A logistic regression over a few signals (how
similar, how far ahead of the other candidates, how many content words are shared, how long the
entry is), fitted on labelled data, gives a confidence the tiers can use.

A second, entry-level logistic model gives P(the entry has a true request among the existing
ones at all) from the same signals summarised over the candidates (see MATCH_FEATURES); routing
uses both (`routing/decide.py`).

Plain numpy (Newton/IRLS), no Dagster and no new dependency. The fitted parameters are versioned
in `calibration_params.json` next to this module and written by `python -m bench.fit_calibration`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from gtm_feedback_dagster.core.calibration_fit import LogisticFit, sigmoid
from gtm_feedback_dagster.core.text import STOPWORDS

PARAMS_FILE = "calibration_params.json"
CANDIDATE_CAP = 50  # routing considers the 50 nearest requests; training saw at most that

# Features of one candidate given the entry and the other candidates. Order matters: it is the
# order of the coefficients in the params file.
FEATURES: tuple[str, ...] = (
    "similarity",  # cosine of entry and candidate
    "margin",  # similarity minus the best other candidate's (negative below rank 1)
    "lead_over_pack",  # similarity minus the mean of the other top-5 similarities
    "title_overlap",  # share of the title's content words found in the entry
    "text_overlap",  # share of the entry's content words found in title + description
    "log_entry_words",  # log(1 + content words in the entry): short entries are ambiguous
    "log_candidates",  # log(1 + candidates considered): margins mean less among few requests
    # Lexical evidence embeddings miss: log(1 + the entry's content words that this candidate's
    # text shares and none of the other scored candidates has) - a product noun or rare term
    # only this request names. Relative to the nearest candidates, so independent of how many
    # requests the catalogue holds.
    "exclusive_overlap",
)

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = STOPWORDS  # core.text's list is this one; routing's features depend on it


def _stem(word: str) -> str:
    """A tiny suffix stripper: enough to meet "exports"/"exporting"/"exported" at "export"."""
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ed", "ies", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + "y" if suffix == "ies" else stem
    return word


def content_words(text: str) -> frozenset[str]:
    return frozenset(
        _stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1
    )


@dataclass(frozen=True)
class CandidateText:
    title_words: frozenset[str]
    text_words: frozenset[str]  # title + description

    @classmethod
    def of(cls, title: str, description: str) -> CandidateText:
        title_words = content_words(title)
        return cls(title_words, title_words | content_words(description))


def feature_rows(
    entry_words: frozenset[str],
    scores: Sequence[float],
    candidates: Sequence[CandidateText],
    rows: int | None = None,
) -> np.ndarray:
    """Feature matrix (len(rows), len(FEATURES)) for the first `rows` candidates (all by default)
    of one entry. `scores` are the candidates' cosine similarities, best first."""
    n = len(scores) if rows is None else min(rows, len(scores))
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    sims = np.asarray(scores, dtype=np.float64)
    top5 = sims[:5]
    log_len = math.log1p(len(entry_words))
    log_candidates = math.log1p(min(len(sims), CANDIDATE_CAP))
    shared = [entry_words & candidates[i].text_words for i in range(n)]
    seen_by: dict[str, int] = {}
    for words in shared:
        for w in words:
            seen_by[w] = seen_by.get(w, 0) + 1
    for i in range(n):
        others = np.delete(sims, i) if len(sims) > 1 else np.zeros(0)
        best_other = float(others.max()) if len(others) else 0.0
        pack = np.delete(top5, i) if i < len(top5) else top5[:4]
        pack_mean = float(pack.mean()) if len(pack) else 0.0
        cand = candidates[i]
        title_overlap = len(entry_words & cand.title_words) / max(1, len(cand.title_words))
        text_overlap = len(entry_words & cand.text_words) / max(1, len(entry_words))
        out[i] = (
            sims[i],
            sims[i] - best_other,
            sims[i] - pack_mean,
            title_overlap,
            text_overlap,
            log_len,
            log_candidates,
            math.log1p(sum(1 for w in shared[i] if seen_by[w] == 1)),
        )
    return out


# Features of one entry given its scored candidates, for P(the entry has a true request among
# the existing ones at all). The candidate model answers "is the top candidate the one?"; this
# one answers "is any of them?" — an entry torn between two siblings of the same need is
# uncertain about the first question but not about the second. Order = coefficient order.
MATCH_FEATURES: tuple[str, ...] = (
    "best_similarity",  # cosine of the nearest candidate
    "second_similarity",  # cosine of the second nearest (a close pack means a covered topic)
    "top5_mean_similarity",  # how crowded the neighbourhood is
    "best_logit_p_top",  # logit of the best candidate-level confidence
    "p_top_mass",  # candidate-level confidences summed over the scored candidates
    "best_title_overlap",  # best title word overlap among the scored candidates
    "best_text_overlap",  # best text word overlap among the scored candidates
    "log_entry_words",
    "log_candidates",
)
P_TOP_MASS_CAP = 3.0
_LOGIT_EPS = 1e-6


def match_feature_row(
    rows: np.ndarray, probabilities: np.ndarray, scores: Sequence[float]
) -> np.ndarray:
    """Entry-level features (len(MATCH_FEATURES),) from the candidate feature `rows` (FEATURES
    order, nearest first), their candidate-level `probabilities` and every candidate cosine
    `scores` (best first). An entry without candidates has an all-zero row."""
    out = np.zeros(len(MATCH_FEATURES), dtype=np.float64)
    sims = np.asarray(scores, dtype=np.float64)
    if len(sims) == 0 or len(rows) == 0:
        return out
    probs = np.asarray(probabilities, dtype=np.float64)
    best_p = float(np.clip(probs.max(), _LOGIT_EPS, 1 - _LOGIT_EPS))
    title = FEATURES.index("title_overlap")
    text = FEATURES.index("text_overlap")
    out[:] = (
        sims[0],
        sims[1] if len(sims) > 1 else 0.0,
        float(sims[:5].mean()),
        math.log(best_p / (1 - best_p)),
        min(float(probs.sum()), P_TOP_MASS_CAP),
        float(rows[:, title].max()),
        float(rows[:, text].max()),
        float(rows[0, FEATURES.index("log_entry_words")]),
        float(rows[0, FEATURES.index("log_candidates")]),
    )
    return out


# --------------------------------------------------------------------------- params file


PARAMS_VERSION = 3  # 1: candidate model only; 2: + the entry-level match model; 3: + attach curve


@dataclass(frozen=True)
class MatchParams:
    """The entry-level model: P(the entry has a true request among the existing ones at all)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coefficients: tuple[float, ...]  # per standardised feature
    intercept: float
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coefficients) == d):
            raise ValueError("match params: features, mean, scale and coefficients differ")
        unknown = [f for f in self.features if f not in MATCH_FEATURES]
        if unknown:
            raise ValueError(f"match params use unknown features {unknown}")

    @classmethod
    def from_fit(cls, fit: LogisticFit, **extra: Any) -> MatchParams:
        return cls(
            features=MATCH_FEATURES,
            mean=tuple(float(v) for v in fit.mean),
            scale=tuple(float(v) for v in fit.scale),
            coefficients=tuple(float(v) for v in fit.coef),
            intercept=fit.intercept,
            **extra,
        )

    def as_prior(self) -> LogisticFit:
        return LogisticFit(
            np.asarray(self.mean),
            np.asarray(self.scale),
            np.asarray(self.coefficients),
            self.intercept,
            0,
        )

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(has a request) for each entry row (columns in MATCH_FEATURES order)."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        x = rows[:, [MATCH_FEATURES.index(f) for f in self.features]]
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return sigmoid(z @ np.asarray(self.coefficients) + self.intercept)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MatchParams:
        return cls(
            features=tuple(raw["features"]),
            mean=tuple(raw["mean"]),
            scale=tuple(raw["scale"]),
            coefficients=tuple(raw["coefficients"]),
            intercept=float(raw["intercept"]),
            data=raw.get("data", {}),
            metrics=raw.get("metrics", {}),
        )


@dataclass(frozen=True)
class CalibrationParams:
    """The candidate model (P(top candidate is the entry's request), the fields below) and,
    from version 2, the entry-level match model (`match`)."""

    model_id: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coefficients: tuple[float, ...]  # per standardised feature
    intercept: float
    rerank_top_k: int = 10  # candidates scored per entry; the most confident one is the match
    fitted_at: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # generator, seeds, sizes
    metrics: dict[str, Any] = field(default_factory=dict)  # held-out evaluation
    match: MatchParams | None = None  # None (a version-1 file): p_match falls back to p_top
    version: int = PARAMS_VERSION
    # Measured on held-out labels the model was not fitted on: (threshold, attach precision of
    # the entries with p_top >= threshold, how many), ascending thresholds. Routing picks the
    # attach threshold from it for the target precision (`attach_threshold`).
    attach_curve: tuple[tuple[float, float, int], ...] = ()
    source: str = "shipped"  # "shipped" or "deployment" (a refit on the deployment's labels)

    def __post_init__(self) -> None:
        d = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coefficients) == d):
            raise ValueError("calibration params: features, mean, scale and coefficients differ")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"calibration params use unknown features {unknown}")

    @classmethod
    def from_fit(cls, fit: LogisticFit, model_id: str, **extra: Any) -> CalibrationParams:
        return cls(
            model_id=model_id,
            features=FEATURES,
            mean=tuple(float(v) for v in fit.mean),
            scale=tuple(float(v) for v in fit.scale),
            coefficients=tuple(float(v) for v in fit.coef),
            intercept=fit.intercept,
            **extra,
        )

    def _columns(self) -> list[int]:
        return [FEATURES.index(f) for f in self.features]

    @property
    def version_id(self) -> str:
        """Which parameters decided: source, fit date and a hash of the coefficients."""
        blob = json.dumps(
            [self.coefficients, self.intercept, self.match.coefficients if self.match else None]
        )
        digest = hashlib.sha256(blob.encode()).hexdigest()[:8]
        return f"{self.source}-{self.fitted_at or 'unknown'}-{digest}"

    def attach_threshold(self, target: float, floor: float = 0.0, min_count: int = 20) -> float:
        """The lowest threshold whose measured attach precision (over at least `min_count`
        held-out attaches) reaches `target`, and never below `floor`. Without a curve, or when
        no measured threshold reaches it, `max(target, floor)`: p_top is then taken at its word."""
        for threshold, precision, count in self.attach_curve:
            if count >= min_count and precision >= target:
                return max(float(threshold), floor)
        return max(target, floor)

    def as_prior(self) -> LogisticFit:
        """The candidate model as a fit, for a refit that starts from it."""
        return LogisticFit(
            np.asarray(self.mean),
            np.asarray(self.scale),
            np.asarray(self.coefficients),
            self.intercept,
            0,
        )

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """Confidence for each feature row (columns in FEATURES order)."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.size == 0:
            return np.zeros(rows.shape[0])
        x = rows[:, self._columns()]
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return sigmoid(z @ np.asarray(self.coefficients) + self.intercept)

    def match_probability(
        self, rows: np.ndarray, probabilities: np.ndarray, scores: Sequence[float]
    ) -> float:
        """P(the entry has a request among the candidates' catalogue) from its candidate rows
        (nearest first), their candidate-level probabilities and all candidate cosines. Without
        a match model (old params file) it is the best candidate-level probability."""
        if len(rows) == 0:
            return 0.0
        if self.match is None:
            return float(np.max(probabilities))
        return float(self.match.probability(match_feature_row(rows, probabilities, scores))[0])

    def to_json(self) -> str:
        payload = asdict(self)
        payload["features"] = list(self.features)
        if self.match is not None:
            payload["match"]["features"] = list(self.match.features)
        return json.dumps(payload, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CalibrationParams:
        raw = json.loads(text)
        match = raw.get("match")
        return cls(
            model_id=raw["model_id"],
            features=tuple(raw["features"]),
            mean=tuple(raw["mean"]),
            scale=tuple(raw["scale"]),
            coefficients=tuple(raw["coefficients"]),
            intercept=float(raw["intercept"]),
            rerank_top_k=int(raw.get("rerank_top_k", 10)),
            fitted_at=raw.get("fitted_at", ""),
            data=raw.get("data", {}),
            metrics=raw.get("metrics", {}),
            match=MatchParams.from_dict(match) if match else None,
            version=int(raw.get("version", 1)),
            attach_curve=tuple(
                (float(t), float(p), int(c)) for t, p, c in raw.get("attach_curve", [])
            ),
            source=raw.get("source", "shipped"),
        )


def params_path() -> Path:
    return Path(str(resources.files("gtm_feedback_dagster.core").joinpath(PARAMS_FILE)))


@lru_cache(maxsize=1)
def default_params() -> CalibrationParams:
    """The parameters shipped with the package."""
    return CalibrationParams.from_json(params_path().read_text(encoding="utf-8"))
