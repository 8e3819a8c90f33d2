"""Refit of the calibrated confidence on the deployment's labels (`routing/labels.py`), and
the held-out gate that decides whether routing may use it. Plain Python, no I/O.

Split by entry id (60/20/20, stable: a later refit never trains on an earlier one's test
entries): the candidate model is refitted on the training entries with the shipped parameters
as a Gaussian prior (`fit_logistic(prior=..., l2=L2)`: a few labels move it a little, many move
it more); the attach curve - which routing picks its attach threshold from - is measured on the
validation entries; precision/recall per tier and the calibration error are measured on the
test entries, at the attach threshold routing would apply. The entry-level match model
(p_match) is kept as shipped. The refit is for the embedding model that scored the labels.

The gate, in order:
- `contradictory` (error): more than `MAX_CONFLICT_SHARE` of the labelled entries were
  declined for and attached to the same request - people disagree; nothing is fitted;
- `too_few` (warning): fewer than `MIN_HELD_OUT_ATTACHES` attached entries in the test split;
  nothing is fitted;
- `below_target` (error): the refit's held-out attach precision is below the target, or it
  attaches no held-out entry at all although there are enough: the labels contradict each
  other or what the features can tell;
- `too_few` (warning) again when its attaches reach the target but are fewer than
  `MIN_HELD_OUT_ATTACHES`: too little evidence either way;
- `passed`: at least `MIN_HELD_OUT_ATTACHES` held-out attaches at a precision >= the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from gtm_feedback_dagster.core.calibration import FEATURES, CalibrationParams
from gtm_feedback_dagster.core.calibration_fit import (
    attach_curve,
    expected_calibration_error,
    fit_logistic,
)
from gtm_feedback_dagster.routing.decide import Thresholds, combine
from gtm_feedback_dagster.routing.labels import Example, Labels

MIN_HELD_OUT_ATTACHES = 20
L2 = 10.0  # precision of the prior: ~hundreds of labels are needed to move a coefficient far
MAX_CONFLICT_SHARE = 0.2  # more (entry, request) pairs labelled both ways: labels contradict
NONNEGATIVE = [
    FEATURES.index(f) for f in ("similarity", "margin", "lead_over_pack", "exclusive_overlap")
]
Status = Literal["passed", "too_few", "contradictory", "below_target"]


@dataclass(frozen=True)
class Scored:
    p_top: np.ndarray
    p_match: np.ndarray
    right: np.ndarray  # 1 right, 0 wrong, -1 unknown (a rejected entry whose top is another)
    attached: np.ndarray  # the example is an attached entry (it has a request)


def score(params: CalibrationParams, examples: list[Example]) -> Scored:
    p_top, p_match, right, attached = [], [], [], []
    for ex in examples:
        probs = params.probability(ex.rows)
        top = int(np.argmax(probs)) if len(probs) else -1
        p_top.append(float(probs[top]) if top >= 0 else 0.0)
        p_match.append(params.match_probability(ex.rows, probs, ex.scores))
        chosen = ex.request_ids[top] if top >= 0 else None
        if ex.kind == "attached":
            right.append(int(chosen == ex.label))
        elif ex.kind == "without_request":
            right.append(0)
        else:
            right.append(0 if chosen in ex.rejected else -1)
        attached.append(ex.kind == "attached")
    return Scored(np.array(p_top), np.array(p_match), np.array(right), np.array(attached))


def tier_figures(s: Scored, thresholds: Thresholds) -> dict[str, dict[str, Any]]:
    """Per tier: how many, share right (attach/ask: the suggested request is the entry's) and
    recall (right in the tier / attached entries)."""
    known = s.right >= 0
    tiers = np.array(
        [combine(t, m, thresholds)[0] for t, m in zip(s.p_top, s.p_match, strict=True)]
    )
    should = int(s.attached.sum())
    out: dict[str, dict[str, Any]] = {}
    for tier in ("attach", "ask", "new"):
        mask = (tiers == tier) & known
        n, ok = int(mask.sum()), int((s.right[mask] == 1).sum())
        figures: dict[str, Any] = {"count": n}
        if tier != "new":
            figures["precision"] = round(ok / n, 4) if n else None
            figures["recall"] = round(ok / should, 4) if should else None
        else:
            figures["without_request"] = int((mask & ~s.attached).sum())
        out[tier] = figures
    return out


def ece(s: Scored) -> float | None:
    known = s.right >= 0
    if not known.any():
        return None
    return round(expected_calibration_error(s.p_top[known], s.right[known]), 4)


@dataclass
class RefitOutcome:
    status: Status
    reason: str
    previous: CalibrationParams
    candidate: CalibrationParams | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    test: dict[str, Any] = field(default_factory=dict)  # held-out figures of the candidate
    before: dict[str, Any] = field(default_factory=dict)  # the previous parameters, same split

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def attach_precision(self) -> float | None:
        return self.test.get("tiers", {}).get("attach", {}).get("precision")


def _split(examples: list[Example], name: str) -> list[Example]:
    return [e for e in examples if e.split == name]


def _figures(
    params: CalibrationParams, examples: list[Example], target: float, floor: float, ask: float
) -> dict[str, Any]:
    threshold = round(params.attach_threshold(target, floor), 4)
    s = score(params, examples)
    return {
        "attach_threshold": threshold,
        "tiers": tier_figures(s, Thresholds(threshold, min(ask, threshold))),
        "ece_p_top": ece(s),
    }


def refit(
    examples: list[Example],
    labels: Labels,
    shipped: CalibrationParams,
    previous: CalibrationParams,
    model_id: str,
    target: float,
    floor: float,
    ask: float,
    now: datetime | None = None,
) -> RefitOutcome:
    """Refit on the training entries and judge on the test entries (module docstring).
    `previous` (the active parameters) stays active unless the outcome passed; `model_id` is
    the embedder that scored `examples`; `floor`/`ask` are the configured auto-attach and ask
    thresholds."""
    counts = {
        "positives": len(labels.positives),
        "negatives": labels.negative_count,
        "conflicts": labels.conflicts,
        **{
            f"{name}_attached": sum(e.kind == "attached" for e in _split(examples, name))
            for name in ("train", "validation", "test")
        },
    }
    outcome = RefitOutcome("too_few", "", previous, label_counts=counts)
    labelled = labels.entries
    if labelled and labels.conflicts / labelled > MAX_CONFLICT_SHARE:
        outcome.status = "contradictory"
        outcome.reason = (
            f"contradictory labels: {labels.conflicts} of {labelled} labelled entries were both "
            "declined for and attached to the same request; kept the previous parameters"
        )
        return outcome
    if counts["test_attached"] < MIN_HELD_OUT_ATTACHES or counts["train_attached"] == 0:
        outcome.reason = (
            f"too few labels: {counts['test_attached']} held-out attached entries "
            f"(>= {MIN_HELD_OUT_ATTACHES} needed) and {counts['train_attached']} to fit on; kept "
            "the previous parameters"
        )
        return outcome
    if shipped.features != FEATURES:
        raise ValueError(f"shipped parameters use features {shipped.features}, not {FEATURES}")
    train, validation, test = (_split(examples, n) for n in ("train", "validation", "test"))
    parts = [e.targets() for e in train]
    x = np.vstack([p[0] for p in parts if len(p[0])])
    y = np.concatenate([p[1] for p in parts if len(p[1])])
    fit = fit_logistic(x, y, l2=L2, prior=shipped.as_prior(), nonnegative=NONNEGATIVE)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    candidate = CalibrationParams.from_fit(
        fit,
        model_id,
        rerank_top_k=shipped.rerank_top_k,
        fitted_at=stamp,
        match=shipped.match,
        source="deployment",
    )
    val = score(candidate, validation)
    known = val.right >= 0
    candidate = replace(
        candidate, attach_curve=attach_curve(val.p_top[known], val.right[known] == 1)
    )
    outcome.test = _figures(candidate, test, target, floor, ask)
    outcome.before = _figures(previous, test, target, floor, ask)
    attach = outcome.test["tiers"]["attach"]
    precision = attach["precision"]
    candidate = replace(
        candidate,
        data={"labels": counts, "prior": shipped.version_id, "l2": L2},
        metrics={"held_out_test": outcome.test, "previous_on_test": outcome.before},
    )
    outcome.candidate = candidate
    count, threshold = attach["count"], outcome.test["attach_threshold"]
    if (precision is not None and precision < target) or count == 0:
        outcome.status = "below_target"
        outcome.reason = (
            f"held-out attach precision {precision} (target {target}) over {count} of "
            f"{counts['test_attached']} attached held-out entries at p_top >= {threshold}: the "
            "labels contradict each other or what the features can tell; kept the previous "
            "parameters"
        )
        return outcome
    if count < MIN_HELD_OUT_ATTACHES:
        outcome.reason = (
            f"too few labels: the refit attaches {count} held-out entries at p_top >= "
            f"{threshold} (precision {precision}), but >= {MIN_HELD_OUT_ATTACHES} are needed to "
            "trust its precision; kept the previous parameters"
        )
        return outcome
    outcome.status = "passed"
    outcome.reason = (
        f"held-out attach precision {precision} >= target {target} over {count} attaches; "
        f"{candidate.version_id} becomes active"
    )
    return outcome
