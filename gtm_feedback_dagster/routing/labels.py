"""The deployment's own labels for the calibrated confidence, scored as routing scores them.

A label is a human decision or an imported fact about one feedback entry:
- positive: the entry is attached to a request by a person (`match_type` approved: the
  submitter said yes; manual: triage, a re-assignment, or an import that named the request). A
  request merged since is followed through `merged_into_id` to the one that survives;
- negative: a rejected approval ("Not a match") says the proposed request is not the entry's.
An entry positive and negative for the same request (declined, then attached there in triage)
is a conflict (two people disagree): counted and left out.

Each labelled entry is embedded (one call per chunk) and compared with every searchable request
(exact cosine against the stored vectors, requests without one embedded in memory); its
nearest `ROUTING_TOP_K` are featurised exactly as `CalibratedScorer.assess` does. The candidate
set is today's catalogue, not the one at decision time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.core.calibration import CandidateText, content_words, feature_rows
from gtm_feedback_dagster.core.text import query_text, request_text
from gtm_feedback_dagster.routing.candidates import ROUTING_TOP_K
from gtm_feedback_dagster.store.schema import Approval, Feedback, Request
from gtm_feedback_dagster.store.vectors import load_matrix, searchable_clause

HUMAN_MATCH_TYPES = ("approved", "manual")
EMBED_CHUNK = 256
Split = Literal["train", "validation", "test"]


def split_of(entry_id: int, train: int = 60, validation: int = 20) -> Split:
    """The entry's held-out split, stable over time (a hash of its id): 60/20/20 by default."""
    bucket = int(hashlib.sha256(str(entry_id).encode()).hexdigest()[:8], 16) % 100
    if bucket < train:
        return "train"
    return "validation" if bucket < train + validation else "test"


@dataclass
class Labels:
    positives: dict[int, int] = field(default_factory=dict)  # entry id -> its request
    negatives: dict[int, set[int]] = field(default_factory=dict)  # entry id -> not these
    texts: dict[int, str] = field(default_factory=dict)
    conflicts: int = 0  # (entry, request) pairs labelled both ways, left out
    entries: int = 0  # labelled entries before conflicts were left out

    @property
    def negative_count(self) -> int:
        return sum(len(v) for v in self.negatives.values())


def _survivor(merged_into: dict[int, int | None], request_id: int) -> int:
    seen = {request_id}
    while (nxt := merged_into.get(request_id)) is not None and nxt not in seen:
        seen.add(nxt)
        request_id = nxt
    return request_id


def collect_labels(session: Session) -> Labels:
    """Every labelled entry of the app database (see the module docstring)."""
    merged_into = dict(session.execute(select(Request.id, Request.merged_into_id)).tuples().all())
    labels = Labels()
    for entry_id, request_id, text in session.execute(
        select(Feedback.id, Feedback.request_id, Feedback.customer_pain).where(
            Feedback.match_type.in_(HUMAN_MATCH_TYPES), Feedback.request_id.is_not(None)
        )
    ).tuples():
        if text and text.strip():
            labels.positives[entry_id] = _survivor(merged_into, int(request_id))
            labels.texts[entry_id] = text
    for entry_id, request_id, text in session.execute(
        select(Approval.feedback_id, Approval.request_id, Feedback.customer_pain)
        .join(Feedback, Feedback.id == Approval.feedback_id)
        .where(Approval.status == "rejected")
    ).tuples():
        if not (text and text.strip()):
            continue
        labels.negatives.setdefault(entry_id, set()).add(_survivor(merged_into, int(request_id)))
        labels.texts[entry_id] = text
    labels.entries = len(labels.texts)
    for entry_id, rejected in list(labels.negatives.items()):
        positive = labels.positives.get(entry_id)
        if positive is not None and positive in rejected:
            labels.conflicts += 1
            rejected.discard(positive)
            del labels.positives[entry_id]
        if not rejected:
            del labels.negatives[entry_id]
        if entry_id not in labels.positives and entry_id not in labels.negatives:
            del labels.texts[entry_id]
    return labels


@dataclass(frozen=True)
class Example:
    """One labelled entry against its nearest candidates (rows in `FEATURES` order, nearest
    first). kind: `attached` (its request is `label`), `without_request` (the same entry with
    its request taken out of the catalogue: what a new need looks like), `rejected` (only the
    rows of the requests it was declined for are labelled)."""

    entry_id: int
    kind: Literal["attached", "without_request", "rejected"]
    rows: np.ndarray
    request_ids: tuple[int, ...]
    scores: tuple[float, ...]
    label: int | None = None
    rejected: frozenset[int] = frozenset()

    @property
    def split(self) -> Split:
        return split_of(self.entry_id)

    def targets(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, 0/1 labels) this example contributes to the candidate-model fit."""
        if self.kind == "rejected":
            mask = np.array([r in self.rejected for r in self.request_ids[: len(self.rows)]])
            return self.rows[mask], np.zeros(int(mask.sum()))
        y = np.array([float(r == self.label) for r in self.request_ids[: len(self.rows)]])
        return self.rows, y


def _catalogue(
    session: Session, embedder: Embedder
) -> tuple[list[int], np.ndarray, dict[int, tuple[str, str]]]:
    """Searchable request ids, their unit vectors (stored ones, else embedded in memory) and
    their texts."""
    ids, matrix, _ = load_matrix(session, embedder.model_id)
    stored = dict(zip(ids, range(len(ids)), strict=True))
    rows = session.execute(
        select(Request.id, Request.title, Request.description)
        .where(searchable_clause())
        .order_by(Request.id)
    ).tuples()
    texts = {rid: (title, description or "") for rid, title, description in rows}
    all_ids = sorted(texts)
    missing = [rid for rid in all_ids if rid not in stored]
    extra = _embed(embedder, [request_text(*texts[r]) for r in missing])
    vectors = np.zeros((len(all_ids), embedder.dim), dtype=np.float32)
    extra_at = {rid: i for i, rid in enumerate(missing)}
    for i, rid in enumerate(all_ids):
        vectors[i] = matrix[stored[rid]] if rid in stored else extra[extra_at[rid]]
    return all_ids, vectors, texts


def _embed(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    parts = [
        embedder.embed(list(texts[i : i + EMBED_CHUNK])) for i in range(0, len(texts), EMBED_CHUNK)
    ]
    return np.vstack(parts).astype(np.float32)


def _featurise(
    text: str,
    order: Sequence[int],
    sims: np.ndarray,
    ids: Sequence[int],
    texts: dict[int, tuple[str, str]],
    depth: int,
) -> tuple[np.ndarray, tuple[int, ...], tuple[float, ...]]:
    top = list(order[:ROUTING_TOP_K])
    request_ids = tuple(ids[i] for i in top)
    scores = tuple(float(sims[i]) for i in top)
    cands = [CandidateText.of(*texts[r]) for r in request_ids[:depth]]
    rows = feature_rows(content_words(text), scores, cands, rows=depth)
    return rows, request_ids, scores


def score_labels(
    session: Session, embedder: Embedder, labels: Labels, depth: int = 10
) -> list[Example]:
    """The labelled entries as examples (see `Example`); `depth` = the parameters'
    `rerank_top_k`. A label whose request is no longer searchable is left out."""
    if not labels.texts:
        return []
    ids, vectors, texts = _catalogue(session, embedder)
    if not ids:
        return []
    entry_ids = sorted(labels.texts)
    queries = _embed(embedder, [query_text(labels.texts[e]) for e in entry_ids])
    known = set(ids)
    examples: list[Example] = []
    for entry_id, query in zip(entry_ids, queries, strict=True):
        text = labels.texts[entry_id]
        sims = vectors @ query
        order = list(np.argsort(-sims, kind="stable"))
        label = labels.positives.get(entry_id)
        rejected = frozenset(labels.negatives.get(entry_id, set()) & known)
        if label is not None and label in known:
            rows, rids, scores = _featurise(text, order, sims, ids, texts, depth)
            examples.append(Example(entry_id, "attached", rows, rids, scores, label, rejected))
            without = [i for i in order if ids[i] != label]
            if without:
                rows, rids, scores = _featurise(text, without, sims, ids, texts, depth)
                examples.append(Example(entry_id, "without_request", rows, rids, scores))
        elif rejected:
            rows, rids, scores = _featurise(text, order, sims, ids, texts, depth)
            if rejected & set(rids[: len(rows)]):
                examples.append(Example(entry_id, "rejected", rows, rids, scores, None, rejected))
    return examples
