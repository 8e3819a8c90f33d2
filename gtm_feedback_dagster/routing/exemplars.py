"""Confirmed-entry evidence: match an entry against the feedback people already confirmed on a
request, not only against the request's title and description.

Customers name one need many ways ("upserts by primary key" for "Deduplication of records on
ingest"); once a person has put such an entry on its request, the next entry phrased that way
should find it. A candidate's similarity becomes the best of its own text's cosine and the
cosines of its newest `EXEMPLARS_PER_REQUEST` confirmed entries — what `bench/exemplars.py`
measured with the shipped calibration unchanged: on the real-style test concepts attach
precision stayed at 95-96% with more entries attached, and on the generator's held-out seed
top-1 rose from 82.6% to 92.3% with 8 per request (docs/benchmarks.md).

Only candidates the index already returned are re-scored (exemplars are loaded for those ids,
one query per batch), so the evidence cannot bring in a request the batch's catalogue does not
have, and the memory stays bounded by the candidates, not by all feedback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace

import numpy as np
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.routing.candidates import merge_hits
from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.store.feedback_vectors import (
    confirmed_without_vector,
    load_exemplars,
    upsert_feedback_vectors,
)
from gtm_feedback_dagster.vectors.base import VectorHit

log = logging.getLogger(__name__)

EXEMPLARS_PER_REQUEST = 8
# Confirmed entries a routing run embeds at most: those of its candidates that it is about to
# use. The `request_embeddings` asset embeds the rest of an area's (an imported labelled history
# of thousands), so a route run stays fast; what is left waits for the next run or the asset.
EXEMPLAR_SYNC_LIMIT = 1000
EMBED_CHUNK = 256


def sync_exemplar_vectors(
    session: Callable[[], AbstractContextManager[Session]],
    embedder: Embedder,
    limit: int | None = EXEMPLAR_SYNC_LIMIT,
    request_ids: Sequence[int] | None = None,
    per_request: int | None = EXEMPLARS_PER_REQUEST,
) -> int:
    """Embed confirmed entries that have no current vector (of `request_ids`, or all; each
    request's newest `per_request`), in chunks committed one by one; returns how many."""
    with session() as s:
        missing = confirmed_without_vector(
            s, embedder.model_id, limit, request_ids=request_ids, per_request=per_request
        )
    for start in range(0, len(missing), EMBED_CHUNK):
        chunk = missing[start : start + EMBED_CHUNK]
        vectors = embedder.embed([query_text(pain) for _, pain, _ in chunk])
        with session() as s:
            upsert_feedback_vectors(
                s, embedder.model_id, [(fid, chash) for fid, _, chash in chunk], vectors
            )
    return len(missing)


def exemplar_hits(
    queries: np.ndarray, owners: np.ndarray, matrix: np.ndarray
) -> list[list[VectorHit]]:
    """Per query, each owner request's best cosine over its exemplars (rows grouped by owner)."""
    if len(owners) == 0 or len(queries) == 0:
        return [[] for _ in range(len(queries))]
    sims = np.asarray(queries, dtype=np.float32) @ matrix.T
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    best = np.maximum.reduceat(sims, starts, axis=1)
    request_ids = owners[starts]
    return [
        [VectorHit(int(r), float(s)) for r, s in zip(request_ids, row, strict=True)] for row in best
    ]


def with_exemplars(
    session: Session,
    model_id: str,
    entry_ids: Sequence[int],
    queries: np.ndarray,
    hit_lists: Sequence[Sequence[VectorHit]],
    per_request: int = EXEMPLARS_PER_REQUEST,
) -> tuple[list[list[VectorHit]], dict[int, set[int]]]:
    """Each query's hits re-scored with the confirmed entries of the requests among them, and
    per entry id the requests whose best score came from those entries (for the decision)."""
    wanted = sorted({h.id for hits in hit_lists for h in hits})
    owners, matrix = load_exemplars(session, model_id, wanted, per_request)
    if len(owners) == 0:
        return [list(h) for h in hit_lists], {}
    per_query = exemplar_hits(queries, owners, matrix)
    merged: list[list[VectorHit]] = []
    through: dict[int, set[int]] = {}
    for entry_id, hits, extra in zip(entry_ids, hit_lists, per_query, strict=True):
        own = {h.id: h.score for h in hits}
        useful = [e for e in extra if e.id in own]
        merged.append(merge_hits(hits, useful))
        better = {e.id for e in useful if e.score > own[e.id]}
        if better:
            through[int(entry_id)] = better
    return merged, through


def note_evidence(decision: Decision, through: Collection[int] | None) -> Decision:
    """The decision, noting when its request scored best through its confirmed feedback."""
    if not through or decision.request_id not in through:
        return decision
    return replace(decision, details={**decision.details, "matched_through": "confirmed feedback"})
