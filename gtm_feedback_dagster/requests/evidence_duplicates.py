"""Likely duplicates from all the evidence: two open requests, in any areas, whose customers
describe the same thing.

The related-request graph compares request *titles* within an area (embedder cosine >= 0.75),
so a request routing created under a new name ("Upserts by primary key", filed under
Performance) next to the existing one ("Deduplication of records on ingest", Data ingestion) is
missed. Here every open request of every area is compared with every other on:

- *feedback text*: a TF-IDF vector of its title, description and attached entries' text (up to
  `TEXT_ENTRIES_PER_REQUEST`), IDF over all open requests: the recipe of
  `analytics/text_themes.py`, computed sparse so 29k requests fit;
- *titles*: the cosine of the vectors `request_embeddings` stored (`request_vectors`: title and
  description), of the model most open requests have a vector of;
- *entries*, with an embedder of that model: the best cosine of one request's first
  `ENTRY_SAMPLE` entries with the other request's stored vector. Only the candidate block is
  embedded (pairs within `BLOCK_MARGIN` of the bar on text and titles, strongest first, at most
  `MAX_EMBEDDED_ENTRIES` texts), in one call.

A pair's score is `TEXT_WEIGHT` x text + (1 - `TEXT_WEIGHT`) x the better of titles and entries
(text alone when a request has no vector). It is a candidate when the score reaches `threshold`
and one of the two is among the other's `PARTNERS` strongest: a request may have several
duplicates, but one generic request cannot pair with a whole area. Two requests people created
(neither by routing) need `CURATED_THRESHOLD`: a curated catalogue is distinct by intent, and
its neighbours share words ("Jira connector", "Jira tickets from charts").

Method and threshold were chosen on the demo generator's truth (`bench/duplicates.py`, seed 7:
the lowest threshold with precision >= 0.8) and checked on seed 11 (docs/design.md). Cost: one
sparse and one dense product per `ROW_CHUNK` requests against all open requests, plus the one
embedding call.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.analytics.data import TEXT_ENTRIES_PER_REQUEST
from gtm_feedback_dagster.analytics.text_themes import MAX_DOC_SHARE, _stem
from gtm_feedback_dagster.analytics.themes import _terms
from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.requests.merge import DuplicateCandidate
from gtm_feedback_dagster.store.repo import resolve_area
from gtm_feedback_dagster.store.schema import (
    Feedback,
    ProductArea,
    Request,
    RequestArea,
    RequestVector,
)
from gtm_feedback_dagster.vectors.base import bytes_to_matrix

EVIDENCE_THRESHOLD = 0.30
CURATED_THRESHOLD = 0.45
TEXT_WEIGHT = 0.8
PARTNERS = 3
BLOCK_MARGIN = 0.06
ENTRY_SAMPLE = 5
MAX_EMBEDDED_ENTRIES = 5_000
ROW_CHUNK = 256
SHARED_TERMS = 3


@dataclass(frozen=True)
class Evidence:
    """Why a pair was linked: the two scores, the words both requests' text leans on, the
    entries behind each side and their areas."""

    score: float
    text: float
    titles: float | None  # None: a request has no stored vector
    entry_title: float | None  # best entry of one against the other's title; None: not embedded
    shared_terms: tuple[str, ...]
    entries: tuple[int, int]  # (duplicate, target)
    areas: tuple[tuple[str, ...], tuple[str, ...]]  # (duplicate's, target's) area slugs

    @property
    def cross_area(self) -> bool:
        return not set(self.areas[0]) & set(self.areas[1])

    def describe(self) -> str:
        parts = [f"feedback text {self.text:.2f}"]
        if self.shared_terms:
            parts[0] += f" (shared: {', '.join(self.shared_terms)})"
        parts.append(f"{self.entries[0]} + {self.entries[1]} entries")
        if self.titles is not None:
            parts.append(f"titles {self.titles:.2f}")
        if self.entry_title is not None:
            parts.append(f"best entry vs the other's title {self.entry_title:.2f}")
        if self.cross_area:
            parts.append(f"areas {','.join(self.areas[0])} / {','.join(self.areas[1])}")
        return "; ".join(parts)


@dataclass
class _Corpus:
    ids: list[int]
    titles: dict[int, str]
    curated: np.ndarray  # bool per row: nobody but a person created it
    areas: dict[int, tuple[str, ...]]
    entries: dict[int, int]
    text: Any  # scipy.sparse csr matrix, rows L2-normalised
    text_t: Any  # its transpose as csr, for the row products
    terms: list[str]
    vectors: np.ndarray | None  # rows L2-normalised, zero where missing
    has_vector: np.ndarray
    model_id: str | None
    samples: dict[int, list[str]]  # the first ENTRY_SAMPLE entries' text per request


def _tfidf(texts: Sequence[str]) -> tuple[Any, list[str]]:
    """Sparse L2-normalised TF-IDF rows, as `analytics.text_themes.tfidf_matrix` computes them
    (sublinear tf, smoothed idf, terms in more than `MAX_DOC_SHARE` of the documents dropped),
    without its vocabulary cap."""
    from scipy import sparse

    docs = [Counter(_stem(w) for w in _terms(t)) for t in texts]
    doc_freq: Counter[str] = Counter()
    for d in docs:
        doc_freq.update(d.keys())
    n = len(docs)
    limit = max(2, int(MAX_DOC_SHARE * n)) if n > 3 else n
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for row, d in enumerate(docs):
        for term, count in d.items():
            df = doc_freq[term]
            if df > limit:
                continue
            rows.append(row)
            cols.append(vocab.setdefault(term, len(vocab)))
            vals.append((1.0 + math.log(count)) * (math.log((1 + n) / (1 + df)) + 1.0))
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(n, len(vocab)), dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms).dot(matrix).tocsr(), list(vocab)


def _load(session: Session) -> _Corpus:
    requests = session.execute(
        select(Request.id, Request.title, Request.description, Request.created_by_routing)
        .where(Request.status == "open", Request.merged_into_id.is_(None))
        .order_by(Request.id)
    ).all()
    ids = [r.id for r in requests]
    wanted = set(ids)
    areas: dict[int, list[str]] = defaultdict(list)
    for rid, slug in session.execute(
        select(RequestArea.request_id, ProductArea.slug)
        .join(ProductArea, ProductArea.id == RequestArea.area_id)
        .order_by(ProductArea.slug)
    ):
        if rid in wanted:
            areas[rid].append(slug)
    texts: dict[int, list[str]] = {r.id: [r.title, r.description or ""] for r in requests}
    entries: Counter[int] = Counter()
    samples: dict[int, list[str]] = defaultdict(list)
    for rid, pain in session.execute(
        select(Feedback.request_id, Feedback.customer_pain)
        .where(Feedback.request_id.is_not(None))
        .order_by(Feedback.request_id, Feedback.id)
    ):
        if rid in wanted:
            entries[rid] += 1
            if pain and entries[rid] <= TEXT_ENTRIES_PER_REQUEST:
                texts[rid].append(pain)
            if pain and pain.strip() and len(samples[rid]) < ENTRY_SAMPLE:
                samples[rid].append(query_text(pain))
    text, terms = _tfidf([" ".join(texts[i]) for i in ids])
    model_id, vectors, has_vector = _stored_vectors(session, ids)
    return _Corpus(
        ids=ids,
        titles={r.id: r.title for r in requests},
        curated=np.array([not r.created_by_routing for r in requests], dtype=bool),
        areas={i: tuple(areas.get(i, ())) for i in ids},
        entries=dict(entries),
        text=text,
        text_t=text.T.tocsr(),
        terms=terms,
        vectors=vectors,
        has_vector=has_vector,
        model_id=model_id,
        samples=dict(samples),
    )


def _stored_vectors(
    session: Session, ids: list[int]
) -> tuple[str | None, np.ndarray | None, np.ndarray]:
    """(model, vectors, has vector) of the model most open requests have a vector of (another
    model's vectors, mid re-embedding, live in another space and are left out)."""
    has = np.zeros(len(ids), dtype=bool)
    model_id = session.scalar(
        select(RequestVector.model_id)
        .join(Request, Request.id == RequestVector.request_id)
        .where(Request.status == "open")
        .group_by(RequestVector.model_id)
        .order_by(func.count().desc(), RequestVector.model_id)
        .limit(1)
    )
    if model_id is None:
        return None, None, has
    rows = session.execute(
        select(RequestVector.request_id, RequestVector.vector, RequestVector.dim).where(
            RequestVector.model_id == model_id
        )
    ).all()
    position = {rid: i for i, rid in enumerate(ids)}
    rows = [r for r in rows if r.request_id in position]
    if not rows or len({r.dim for r in rows}) != 1:
        return None, None, has
    matrix = np.zeros((len(ids), rows[0].dim), dtype=np.float32)
    stored = bytes_to_matrix([r.vector for r in rows], rows[0].dim)
    norms = np.linalg.norm(stored, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    at = [position[r.request_id] for r in rows]
    matrix[at] = stored / norms
    has[at] = True
    return model_id, matrix, has


def _rows_scores(
    corpus: _Corpus, rows: np.ndarray, text_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, text, titles) of `rows` against every request; titles is NaN without vectors."""
    text = corpus.text[rows].dot(corpus.text_t).toarray()
    if corpus.vectors is None:
        titles = np.full_like(text, np.nan)
        score = text.copy()
    else:
        titles = corpus.vectors[rows] @ corpus.vectors.T
        score = text_weight * text + (1 - text_weight) * titles
        if not corpus.has_vector.all():
            both = corpus.has_vector[rows][:, None] & corpus.has_vector[None, :]
            score = np.where(both, score, text)
            titles[~both] = np.nan
    score[np.arange(len(rows)), rows] = -np.inf  # not its own duplicate
    return score, text, titles


Scores = tuple[float, float, float]  # (score by text and titles, text, titles)


def _passing(
    corpus: _Corpus,
    rows: np.ndarray,
    floor: float,
    text_weight: float,
    found: dict[int, dict[int, Scores]],
    top: dict[int, set[int]],
) -> None:
    """Fills, per row, the partners scoring at least `floor` by text and titles ({column:
    scores}) and its `PARTNERS` strongest columns."""
    for start in range(0, len(rows), ROW_CHUNK):
        chunk = rows[start : start + ROW_CHUNK]
        score, text, titles = _rows_scores(corpus, chunk, text_weight)
        k = min(PARTNERS, score.shape[1] - 1)
        strongest = np.argpartition(-score, k - 1, axis=1)[:, :k] if k > 0 else score[:, :0]
        for offset, row in enumerate(chunk):
            line = score[offset]
            top[int(row)] = {int(j) for j in strongest[offset] if np.isfinite(line[j])}
            found[int(row)] = {
                int(j): (float(line[j]), float(text[offset, j]), float(titles[offset, j]))
                for j in np.flatnonzero(line >= floor)
            }


def _entry_scores(
    corpus: _Corpus, pairs: list[tuple[int, int]], embedder: Embedder
) -> dict[tuple[int, int], float]:
    """Per pair: the best cosine of one request's entries (its first `ENTRY_SAMPLE`) with the
    other request's stored vector, from ONE embedding call over the block's entries (at most
    `MAX_EMBEDDED_ENTRIES`, strongest pairs first)."""
    if corpus.vectors is None or getattr(embedder, "model_id", None) != corpus.model_id:
        return {}  # another model's space: its cosines say nothing here
    wanted: dict[int, None] = {}
    budget = MAX_EMBEDDED_ENTRIES
    for i, j in pairs:
        for side, other in ((i, j), (j, i)):
            samples = corpus.samples.get(corpus.ids[side], [])
            if side in wanted or not samples or not corpus.has_vector[other]:
                continue
            if len(samples) > budget:
                break
            wanted[side] = None
            budget -= len(samples)
    if not wanted:
        return {}
    texts = [(side, t) for side in wanted for t in corpus.samples[corpus.ids[side]]]
    vectors = np.asarray(embedder.embed([t for _, t in texts]), dtype=np.float32)
    by_side: dict[int, list[int]] = defaultdict(list)
    for k, (side, _) in enumerate(texts):
        by_side[side].append(k)
    best: dict[tuple[int, int], float] = {}
    for i, j in pairs:
        sims = [
            float((vectors[by_side[side]] @ corpus.vectors[other]).max())
            for side, other in ((i, j), (j, i))
            if side in by_side and corpus.has_vector[other]
        ]
        if sims:
            best[(i, j)] = max(sims)
    return best


def _shared_terms(corpus: _Corpus, i: int, j: int) -> tuple[str, ...]:
    product = corpus.text[i].multiply(corpus.text[j]).tocoo()
    order = np.argsort(-product.data, kind="stable")[:SHARED_TERMS]
    return tuple(corpus.terms[int(product.col[k])] for k in order)


def evidence_duplicate_candidates(
    session: Session,
    area_ref: str | Sequence[str] | None = None,
    threshold: float = EVIDENCE_THRESHOLD,
    limit: int = 50,
    curated_threshold: float = CURATED_THRESHOLD,
    embedder: Embedder | None = None,
    text_weight: float = TEXT_WEIGHT,
) -> list[DuplicateCandidate]:
    """Open requests whose feedback and titles say the same thing, in any two areas, strongest
    first; with `area_ref` (one or several), only pairs with a request in one of them. With an
    `embedder` (of the stored vectors' model), the block's entries are embedded too. The
    suggested merge keeps the request a person created over one routing created (the
    catalogue's name and owner), then the one with more feedback, then the older one."""
    corpus = _load(session)
    if len(corpus.ids) < 2:
        return []
    position = {rid: i for i, rid in enumerate(corpus.ids)}
    if area_ref:
        refs = [area_ref] if isinstance(area_ref, str) else list(area_ref)
        slugs = {resolve_area(session, ref).slug for ref in refs}
        rows = np.array(
            [position[i] for i in corpus.ids if slugs & set(corpus.areas[i])], dtype=np.int64
        )
    else:
        rows = np.arange(len(corpus.ids))
    # The candidate block: pairs within BLOCK_MARGIN of the bar by text and titles alone.
    floor = min(threshold, curated_threshold) - (BLOCK_MARGIN if embedder else 0.0)
    found: dict[int, dict[int, Scores]] = {}
    top: dict[int, set[int]] = {}
    _passing(corpus, rows, floor, text_weight, found, top)
    # "One of the two is among the other's strongest" needs the partners' own rows too.
    asked = set(found)
    others = sorted({j for near in found.values() for j in near} - asked)
    if others:
        _passing(corpus, np.array(others), floor, text_weight, found, top)
    block: dict[tuple[int, int], Scores] = {}
    for i in asked:
        for j, scores in found[i].items():
            if j in top[i] or i in top[j]:
                block[(min(i, j), max(i, j))] = scores
    order = sorted(block, key=lambda p: (-block[p][0], p))
    entries = _entry_scores(corpus, order, embedder) if embedder and order else {}
    pairs: dict[tuple[int, int], tuple[float, float, float, float]] = {}
    for i, j in order:
        score, text, titles = block[(i, j)]
        entry = entries.get((i, j), math.nan)
        if not math.isnan(entry) and not math.isnan(titles):
            score = text_weight * text + (1 - text_weight) * max(titles, entry)
        both_curated = corpus.curated[i] and corpus.curated[j]
        if score >= (curated_threshold if both_curated else threshold):
            pairs[(i, j)] = (score, text, titles, entry)
    return _candidates(corpus, pairs)[:limit]


def _candidates(
    corpus: _Corpus, pairs: dict[tuple[int, int], tuple[float, float, float, float]]
) -> list[DuplicateCandidate]:
    found = []
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1][0], kv[0]))
    for (i, j), (score, text, titles, entry) in ranked:
        a, b = corpus.ids[i], corpus.ids[j]
        rank = {
            r: (bool(corpus.curated[k]), corpus.entries.get(r, 0), -r) for r, k in ((a, i), (b, j))
        }
        keep, drop = (b, a) if rank[b] > rank[a] else (a, b)
        evidence = Evidence(
            score=round(score, 4),
            text=round(text, 4),
            titles=None if math.isnan(titles) else round(titles, 4),
            entry_title=None if math.isnan(entry) else round(entry, 4),
            shared_terms=_shared_terms(corpus, i, j),
            entries=(corpus.entries.get(drop, 0), corpus.entries.get(keep, 0)),
            areas=(corpus.areas[drop], corpus.areas[keep]),
        )
        found.append(
            DuplicateCandidate(
                drop,
                corpus.titles[drop],
                keep,
                corpus.titles[keep],
                evidence.score,
                basis="feedback text and titles",
                evidence=evidence.describe(),
            )
        )
    return found
