"""Measuring routing on labelled data from the demo generator (it knows each entry's request).

Used by `python -m bench.fit_calibration` (fit on one seed, evaluate on another), by
`bench/routing_quality.py` and by the quality-floor test. Plain Python: embed every request and
every entry, search exactly, score the candidates with the calibrated model, and compare the
decisions with the truth.

How tiers are judged:
- attach (>= auto threshold): right when the chosen request is the entry's true request;
- ask (between the thresholds): right when the proposed request is the true one (also reported:
  how many ask-tier entries had a request at all — what the tier promises since p_match);
- new (below the ask threshold): right when the entry truly had no request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.core.calibration import (
    FEATURES,
    MATCH_FEATURES,
    CalibrationParams,
    CandidateText,
    content_words,
    feature_rows,
    match_feature_row,
)
from gtm_feedback_dagster.core.calibration_fit import expected_calibration_error, reliability
from gtm_feedback_dagster.core.text import query_text, request_text
from gtm_feedback_dagster.routing.decide import Thresholds, combine


@dataclass
class LabelledSet:
    """Requests and entries of one generated data set; `truth[i]` is the index of entry i's
    request in `titles`, or -1 when it has none."""

    seed: int
    titles: list[str]
    descriptions: list[str]
    entries: list[str]
    truth: np.ndarray

    @property
    def matched_share(self) -> float:
        return float((self.truth >= 0).mean()) if len(self.truth) else 0.0


def demo_set(
    seed: int, scale: int = 1, sample: int | None = None, sample_seed: int = 0
) -> LabelledSet:
    """The demo data set of `seed`; `sample` entries drawn at random (all by default)."""
    from gtm_feedback_dagster.demo.generator import generate_demo_dataset

    data = generate_demo_dataset(seed=seed, scale=scale)
    requests = data["requests"]
    position = {r["id"]: i for i, r in enumerate(requests)}
    rows = data["feedback"]
    if sample is not None and sample < len(rows):
        picks = np.random.default_rng(sample_seed).choice(len(rows), sample, replace=False)
        rows = [rows[i] for i in sorted(picks)]
    truth_ids = [(r.get("metadata") or {}).get("truthRequestId", r.get("requestId")) for r in rows]
    return LabelledSet(
        seed=seed,
        titles=[r["title"] for r in requests],
        descriptions=[r.get("description") or "" for r in requests],
        entries=[r["description"] for r in rows],
        truth=np.array([position.get(t, -1) if t else -1 for t in truth_ids], dtype=np.int64),
    )


@dataclass
class Retrieval:
    """Nearest requests of every entry: `ids[i]` request indices best first, `scores[i]` their
    cosine similarities."""

    ids: np.ndarray
    scores: np.ndarray
    sims: np.ndarray  # (entries, requests): every cosine, for catalogue subsampling
    embed_seconds: float
    texts_embedded: int
    tokens: int


def retrieve(embedder: Embedder, data: LabelledSet, top_k: int = 50) -> Retrieval:
    """Embeds requests and entries (one call each, as routing does) and searches exactly."""
    tokens_before = embedder.usage.prompt_tokens
    started = time.perf_counter()
    req_vectors = embedder.embed(
        [request_text(t, d) for t, d in zip(data.titles, data.descriptions, strict=True)]
    )
    entry_vectors = embedder.embed([query_text(t) for t in data.entries])
    seconds = time.perf_counter() - started
    sims = entry_vectors @ req_vectors.T
    k = min(top_k, sims.shape[1])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1)
    return Retrieval(
        ids=ids,
        scores=np.take_along_axis(sims, ids, axis=1),
        sims=sims,
        embed_seconds=seconds,
        texts_embedded=len(data.titles) + len(data.entries),
        tokens=embedder.usage.prompt_tokens - tokens_before,
    )


def subsample_catalogue(
    data: LabelledSet,
    found: Retrieval,
    fraction: float,
    rng: np.random.Generator,
    drop_truth: float = 0.0,
    top_k: int = 50,
) -> tuple[LabelledSet, Retrieval]:
    """The same entries against a random part of the requests, as in a young deployment where
    a margin over few competitors is large by chance. An entry's own request stays in with
    probability 1 - `drop_truth` whatever the fraction (so catalogue size does not change how
    often a request exists); when it is left out the entry becomes a "no request" example with
    realistic near misses."""
    n_entries, n_requests = found.sims.shape
    keep = rng.random((n_entries, n_requests)) < fraction
    truth = data.truth.copy()
    for i in range(n_entries):
        t = truth[i]
        if t >= 0:
            keep[i, t] = rng.random() >= drop_truth
            if not keep[i, t]:
                truth[i] = -1
        if not keep[i].any():
            keep[i, rng.integers(n_requests)] = True
    subset = LabelledSet(data.seed, data.titles, data.descriptions, data.entries, truth)
    return subset, masked_retrieval(found.sims, keep, top_k)


def masked_retrieval(sims: np.ndarray, keep: np.ndarray, top_k: int = 50) -> Retrieval:
    """Each entry searched against its own catalogue (`keep[i]`); entries with fewer candidates
    than others are padded with ids -1 / scores nan, which the feature code skips."""
    n_entries, n_requests = sims.shape
    masked = np.where(keep, sims, -np.inf)
    k = min(top_k, n_requests)
    ids = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(masked, ids, axis=1)
    id_rows = [row[np.isfinite(sc)] for row, sc in zip(ids, scores, strict=True)]
    width = max(len(r) for r in id_rows)
    pad_ids = np.full((n_entries, width), -1, dtype=np.int64)
    pad_scores = np.full((n_entries, width), np.nan)
    for i, row in enumerate(id_rows):
        pad_ids[i, : len(row)] = row
        pad_scores[i, : len(row)] = sims[i, row]
    return Retrieval(pad_ids, pad_scores, sims, 0.0, 0, 0)


@dataclass
class FeatureTable:
    rows: np.ndarray  # (m, len(FEATURES))
    labels: np.ndarray  # 1 when the row's candidate is the entry's request
    entry: np.ndarray  # entry index of each row
    candidate: np.ndarray  # request index of each row


def feature_table(data: LabelledSet, found: Retrieval, depth: int) -> FeatureTable:
    """Features of each entry's `depth` nearest candidates (the rows the scorer ranks)."""
    cand_texts = [
        CandidateText.of(t, d) for t, d in zip(data.titles, data.descriptions, strict=True)
    ]
    blocks, labels, entry_idx, cand_idx = [], [], [], []
    for i, text in enumerate(data.entries):
        real = found.ids[i] >= 0
        ids, scores = found.ids[i][real], found.scores[i][real]
        rows = feature_rows(
            content_words(text), scores, [cand_texts[j] for j in ids[:depth]], depth
        )
        blocks.append(rows)
        labels.extend(int(j == data.truth[i]) for j in ids[: len(rows)])
        entry_idx.extend([i] * len(rows))
        cand_idx.extend(int(j) for j in ids[: len(rows)])
    return FeatureTable(
        rows=np.vstack(blocks) if blocks else np.zeros((0, len(FEATURES))),
        labels=np.asarray(labels, dtype=np.float64),
        entry=np.asarray(entry_idx, dtype=np.int64),
        candidate=np.asarray(cand_idx, dtype=np.int64),
    )


def concat_tables(tables: Sequence[FeatureTable]) -> FeatureTable:
    """Stack tables; entry indices are offset so each table's entries stay distinct."""
    rows, labels, entry, cand = [], [], [], []
    offset = 0
    for t in tables:
        rows.append(t.rows)
        labels.append(t.labels)
        entry.append(t.entry + offset)
        cand.append(t.candidate)
        offset += int(t.entry.max()) + 1 if len(t.entry) else 0
    return FeatureTable(
        np.vstack(rows), np.concatenate(labels), np.concatenate(entry), np.concatenate(cand)
    )


def entry_spans(table: FeatureTable, entries: int) -> tuple[np.ndarray, np.ndarray]:
    """Start/end row of each entry (rows of one entry are contiguous, entries in order)."""
    positions = np.arange(entries)
    return (
        np.searchsorted(table.entry, positions, side="left"),
        np.searchsorted(table.entry, positions, side="right"),
    )


@dataclass
class MatchTable:
    rows: np.ndarray  # (entries, len(MATCH_FEATURES))
    labels: np.ndarray  # 1 when the entry's true request is in the catalogue


def match_table(
    params: CalibrationParams, data: LabelledSet, found: Retrieval, table: FeatureTable
) -> MatchTable:
    """Entry-level features for the match model, from the candidate model's probabilities."""
    probs = params.probability(table.rows)
    n = len(data.entries)
    starts, ends = entry_spans(table, n)
    rows = np.zeros((n, len(MATCH_FEATURES)))
    for i in range(n):
        real = found.ids[i] >= 0
        span = slice(starts[i], ends[i])
        rows[i] = match_feature_row(table.rows[span], probs[span], found.scores[i][real])
    return MatchTable(rows, (data.truth >= 0).astype(np.float64))


@dataclass
class TierStats:
    count: int = 0
    correct: int = 0
    # Recall: of the entries this tier is right for (attach/ask: entries that have a request;
    # new: entries that have none), the share it handled correctly.
    eligible: int = 0
    with_request: int = 0  # entries of the tier that truly had a request

    def as_dict(self, total: int) -> dict[str, Any]:
        return {
            "count": self.count,
            "share": round(self.count / total, 4) if total else 0.0,
            "precision": round(self.correct / self.count, 4) if self.count else None,
            "recall": round(self.correct / self.eligible, 4) if self.eligible else None,
            "had_a_request": round(self.with_request / self.count, 4) if self.count else None,
        }


@dataclass
class Evaluation:
    entries: int
    matched_entries: int
    tiers: dict[str, TierStats] = field(default_factory=dict)
    top1: float = 0.0  # search: true request ranked first (entries that have one)
    top3: float = 0.0
    top1_raw: float = 0.0  # by cosine alone, before the calibrated re-ranking
    attach_recall: float = 0.0  # matched entries attached to their request automatically
    match_recall: float = 0.0  # matched entries attached or proposed correctly (>= ask)
    nomatch_recall: float = 0.0  # unmatched entries sent to a new request
    auto_threshold: float = 0.0  # the attach threshold applied
    # Per entry, for reliability: p_top and whether the top candidate is the request; p_match
    # and whether the entry has a request.
    p_top: np.ndarray = field(default_factory=lambda: np.zeros(0))
    top_right: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_match: np.ndarray = field(default_factory=lambda: np.zeros(0))
    has_request: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def human_share(self) -> float:
        return self.tiers["ask"].count / self.entries if self.entries else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "matched_entries": self.matched_entries,
            "tiers": {k: v.as_dict(self.entries) for k, v in self.tiers.items()},
            "search_top1": round(self.top1, 4),
            "search_top3": round(self.top3, 4),
            "search_top1_cosine_only": round(self.top1_raw, 4),
            "attach_recall": round(self.attach_recall, 4),
            "match_recall": round(self.match_recall, 4),
            "nomatch_recall": round(self.nomatch_recall, 4),
            "human_share": round(self.human_share, 4),
            "auto_threshold": self.auto_threshold,
            **self.calibration(),
        }

    def calibration(self) -> dict[str, Any]:
        """ECE and reliability bins of p_top (is the top candidate the request?) and p_match
        (has the entry a request?), and the share of no-request entries auto-attached."""
        if not len(self.p_top):
            return {}
        no_request = self.has_request == 0
        attached = self.p_top >= self.auto_threshold
        return {
            "ece_p_top": round(expected_calibration_error(self.p_top, self.top_right), 4),
            "ece_p_match": round(expected_calibration_error(self.p_match, self.has_request), 4),
            "should_be_new": int(no_request.sum()),
            "should_be_new_attached": int((no_request & attached).sum()),
            "reliability_p_top": [
                [
                    round(b.low, 2),
                    round(b.high, 2),
                    b.count,
                    round(b.predicted, 3),
                    round(b.observed, 3),
                ]
                for b in reliability(self.p_top, self.top_right)
            ],
        }


def evaluate(
    params: CalibrationParams,
    data: LabelledSet,
    found: Retrieval,
    thresholds: Thresholds | None = None,
    table: FeatureTable | None = None,
    attach_precision: float | None = None,
) -> Evaluation:
    """Tier decisions of the calibrated scorer (p_top and p_match combined as routing does)
    compared with the truth. With `attach_precision` the attach threshold is chosen from the
    parameters' attach curve as routing does (never below `thresholds.auto_attach`)."""
    thresholds = thresholds or Thresholds()
    if attach_precision is not None:
        auto = params.attach_threshold(attach_precision, thresholds.auto_attach)
        thresholds = Thresholds(auto, min(thresholds.ask, auto))
    table = table or feature_table(data, found, params.rerank_top_k)
    probs = params.probability(table.rows)
    n = len(data.entries)
    starts, ends = entry_spans(table, n)
    result = Evaluation(entries=n, matched_entries=int((data.truth >= 0).sum()))
    result.tiers = {"attach": TierStats(), "ask": TierStats(), "new": TierStats()}
    top1 = top3 = top1_raw = attached_right = matched_right = nomatch_new = 0
    result.auto_threshold = thresholds.auto_attach
    result.p_top, result.p_match = np.zeros(n), np.zeros(n)
    result.top_right = np.zeros(n)
    result.has_request = (data.truth >= 0).astype(np.float64)
    for i in range(n):
        span = slice(starts[i], ends[i])
        rows, cands, p = table.rows[span], table.candidate[span], probs[span]
        order = np.lexsort((-rows[:, 0], -p))  # confidence, then similarity
        ranked = cands[order]
        truth = int(data.truth[i])
        if len(ranked):
            best, p_top = int(ranked[0]), float(p[order][0])
            real = found.ids[i] >= 0
            p_match = params.match_probability(rows, p, found.scores[i][real])
            tier = combine(p_top, p_match, thresholds)[0]
            result.p_top[i], result.p_match[i] = p_top, p_match
            result.top_right[i] = float(best == truth)
        else:
            best, tier = -1, "new"
        stats = result.tiers[tier]
        stats.count += 1
        right = (truth == -1) if tier == "new" else (best == truth)
        stats.correct += int(right)
        stats.with_request += int(truth >= 0)
        if truth >= 0:
            top1 += int(len(ranked) > 0 and ranked[0] == truth)
            top3 += int(truth in ranked[:3])
            top1_raw += int(found.ids[i][0] == truth)
            attached_right += int(tier == "attach" and best == truth)
            matched_right += int(tier != "new" and best == truth)
        else:
            nomatch_new += int(tier == "new")
    matched = max(1, result.matched_entries)
    result.tiers["attach"].eligible = result.tiers["ask"].eligible = result.matched_entries
    result.tiers["new"].eligible = n - result.matched_entries
    result.top1, result.top3, result.top1_raw = top1 / matched, top3 / matched, top1_raw / matched
    result.attach_recall = attached_right / matched
    result.match_recall = matched_right / matched
    result.nomatch_recall = nomatch_new / max(1, n - result.matched_entries)
    return result


def format_table(evaluation: Evaluation, title: str = "") -> str:
    """The per-tier table (count, share, precision) plus the search and recall lines."""
    lines = [title] if title else []
    lines.append(
        f"{'tier':<22}{'count':>7}{'share':>8}{'precision':>11}{'recall':>9}{'had a request':>15}"
    )
    names = {
        "attach": "attach  (>= auto)",
        "ask": "ask     (ask..auto)",
        "new": "new     (< ask)",
    }
    for key, label in names.items():
        d = evaluation.tiers[key].as_dict(evaluation.entries)
        precision = "-" if d["precision"] is None else f"{d['precision']:.1%}"
        recall = "-" if d["recall"] is None else f"{d['recall']:.1%}"
        had = "-" if d["had_a_request"] is None else f"{d['had_a_request']:.1%}"
        lines.append(
            f"{label:<22}{d['count']:>7}{d['share']:>8.1%}{precision:>11}{recall:>9}{had:>15}"
        )
    lines.append(
        f"entries {evaluation.entries} ({evaluation.matched_entries} with a request); "
        f"search top-1 {evaluation.top1:.1%} (cosine only {evaluation.top1_raw:.1%}), "
        f"top-3 {evaluation.top3:.1%}; sent to a human {evaluation.human_share:.1%}"
    )
    lines.append(
        f"recall: attached correctly {evaluation.attach_recall:.1%}, attached or proposed "
        f"correctly {evaluation.match_recall:.1%}, no-request entries sent to new "
        f"{evaluation.nomatch_recall:.1%}"
    )
    return "\n".join(lines)


def describe(features: Sequence[str] = FEATURES) -> str:
    return ", ".join(features)
