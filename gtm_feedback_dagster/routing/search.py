"""Semantic search over requests — one service for the CLI, the HTTP API, Slack and routing.

`Search.from_runtime(runtime)` assembles it once: the runtime's embedder and serving index (for
the local default an exact faiss index filled from the `request_vectors` table, the source of
truth; for production Upstash Vector), the calibrated scorer, and the vector sync that makes
requests added since the last embedding run searchable right away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.routing.candidates import (
    ROUTING_TOP_K,
    RequestInfo,
    load_request_infos,
    resolve_candidates,
)
from gtm_feedback_dagster.routing.confidence import CalibratedScorer, RankedMatch
from gtm_feedback_dagster.routing.exemplars import with_exemplars
from gtm_feedback_dagster.runtime import Runtime, open_vector_index
from gtm_feedback_dagster.store.vectors import (
    RequestForEmbedding,
    load_matrix,
    plan_sync,
    upsert_vectors,
)
from gtm_feedback_dagster.vectors.base import VectorHit, VectorIndex

log = logging.getLogger(__name__)

# With an area filter, more neighbours are fetched so that enough of them are in the area.
AREA_FILTER_FETCH = 500


def open_index(settings: Settings, session: Session, model_id: str, dim: int) -> VectorIndex:
    """The configured index with credentials from the environment (for callers that have no
    runtime at hand)."""
    return open_vector_index(settings, session, model_id, dim, None, None)


@dataclass(frozen=True)
class SearchResult:
    request: RequestInfo
    similarity: float
    confidence: float
    reason: str

    def as_dict(self, app_url: str) -> dict[str, Any]:
        return {
            "request_id": self.request.id,
            "slug": self.request.slug,
            "title": self.request.title,
            "status": self.request.status,
            "areas": list(self.request.area_slugs),
            "url": f"{app_url.rstrip('/')}/requests/{self.request.slug}",
            "confidence": round(self.confidence, 4),
            "similarity": round(self.similarity, 4),
            "reason": self.reason,
        }


def rank_hits(
    session: Session,
    text: str,
    hits: Sequence[VectorHit],
    scorer: CalibratedScorer,
    area_slug: str | None = None,
    limit: int | None = None,
) -> list[RankedMatch]:
    """Index hits of one text -> searchable candidates ranked by calibrated confidence."""
    infos = load_request_infos(session, [h.id for h in hits])
    candidates, _ = resolve_candidates(hits, infos, area_slug=area_slug)
    return scorer.rank(text, candidates, limit=limit)


def search_requests(
    session: Session,
    embedder: Embedder,
    index: VectorIndex,
    scorer: CalibratedScorer,
    text: str,
    area_slug: str | None = None,
    limit: int = 10,
) -> list[SearchResult]:
    """Requests for `text`, most likely first, each with a confidence and a short reason."""
    text = text.strip()
    if not text:
        raise ValueError("search text is empty")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    vector = embedder.embed([query_text(text)])
    fetch = max(ROUTING_TOP_K, limit) if area_slug is None else max(AREA_FILTER_FETCH, limit)
    hits = index.search(vector, fetch)[0]
    # Scored as routing scores it: also through the feedback people confirmed on a request.
    hits = with_exemplars(session, embedder.model_id, [0], vector, [hits])[0][0]
    ranked = rank_hits(session, text, hits, scorer, area_slug=area_slug, limit=limit)
    return [
        SearchResult(m.candidate.request, m.candidate.similarity, m.confidence, m.reason)
        for m in ranked
    ]


def repair_index(session: Session, model_id: str, index: VectorIndex, expected: int) -> int:
    """Put the table's current vectors back into an index that lost some (an Upstash index
    reset or restored from an old backup), without re-embedding: the table is the source of
    truth. Returns how many were re-upserted (0 when the index holds at least `expected`)."""
    if expected == 0 or index.count() >= expected:
        return 0
    ids, matrix, _dim = load_matrix(session, model_id)
    if not ids:
        return 0
    stored = {rid: row for rid, row in zip(ids, matrix, strict=True)}
    requests = [r for r in plan_sync(session, model_id, full=True).to_embed if r.id in stored]
    if not requests:
        return 0
    index.upsert(
        [r.id for r in requests],
        np.stack([stored[r.id] for r in requests]),
        [r.index_metadata() for r in requests],
    )
    return len(requests)


def ensure_request_vectors(
    session: Callable[[], AbstractContextManager[Session]],
    embedder: Embedder,
    index: VectorIndex,
    repair: bool = True,
) -> int:
    """Embed (in one call) every searchable request whose stored vector is missing or stale, and
    put the new vectors into the table and the serving index. Returns how many; one query when
    everything is current. `repair` first refills an index that lost vectors (routing does,
    before deciding; a search skips it, since counting a remote index is a call per search)."""
    return len(sync_request_vectors(session, embedder, index, repair))


def sync_request_vectors(
    session: Callable[[], AbstractContextManager[Session]],
    embedder: Embedder,
    index: VectorIndex,
    repair: bool = True,
) -> list[RequestForEmbedding]:
    """`ensure_request_vectors`, returning the requests it embedded (with their areas)."""
    with session() as s:
        plan = plan_sync(s, embedder.model_id)
        repaired = (
            repair_index(s, embedder.model_id, index, expected=len(plan.unchanged)) if repair else 0
        )
    if repaired:
        log.warning(
            "the vector index held fewer vectors than the table (lost or reset?): re-upserted "
            "%d stored vectors before deciding",
            repaired,
        )
    if not plan.to_embed:
        return []
    vectors = embedder.embed([r.text for r in plan.to_embed])
    with session() as s:
        upsert_vectors(
            s, embedder.model_id, [(r.id, r.content_hash) for r in plan.to_embed], vectors
        )
        # Index first, then commit: an unreachable index leaves the rows stale for a retry.
        index.upsert(
            [r.id for r in plan.to_embed], vectors, [r.index_metadata() for r in plan.to_embed]
        )
    return list(plan.to_embed)


@dataclass
class Search:
    """Embedder + serving index + calibrated scorer + vector sync, assembled once per process."""

    runtime: Runtime
    scorer: CalibratedScorer = field(default_factory=CalibratedScorer)

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> Search:
        return cls(runtime=runtime)

    @property
    def embedder(self) -> Embedder:
        return self.runtime.embedder

    def index(self, session: Session) -> VectorIndex:
        return self.runtime.vector_index(session, self.embedder.model_id, self.embedder.dim)

    def model_warning(self) -> str | None:
        """Why the confidences may be off for this embedder (calibrated for another), or None."""
        return self.scorer.check_model(self.embedder.model_id)

    def sync(self) -> VectorIndex:
        """The serving index with every searchable request's current vector in it."""
        with self.runtime.session() as s:
            index = self.index(s)
        if ensure_request_vectors(self.runtime.session, self.embedder, index, repair=False):
            with self.runtime.session() as s:  # the table changed: pick the new vectors up
                index = self.index(s)
        return index

    def search(
        self, text: str, area_slug: str | None = None, limit: int = 10
    ) -> list[SearchResult]:
        index = self.sync()
        with self.runtime.session() as s:
            return search_requests(s, self.embedder, index, self.scorer, text, area_slug, limit)
