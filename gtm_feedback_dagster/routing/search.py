"""Semantic search over requests — one function for the CLI, the HTTP API and routing.

The serving index is the configured one: for the local default an exact faiss index filled from
the `request_vectors` table (the source of truth); for production Upstash Vector.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder, query_text
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.routing.candidates import (
    ROUTING_TOP_K,
    RequestInfo,
    load_request_infos,
    resolve_candidates,
)
from gtm_feedback_dagster.routing.confidence import CalibratedScorer, RankedMatch
from gtm_feedback_dagster.store.vectors import load_matrix, vectors_fingerprint
from gtm_feedback_dagster.vectors.base import VectorHit, VectorIndex, build_vector_index

# With an area filter, more neighbours are fetched so that enough of them are in the area.
AREA_FILTER_FETCH = 500


def local_index_from_table(session: Session, model_id: str, dim: int) -> VectorIndex:
    """An exact faiss index of the stored vectors of `model_id` (vectors of another model live in
    another space and are left out)."""
    from gtm_feedback_dagster.vectors.faiss_index import FaissIndex

    index = FaissIndex(dim=dim)
    ids, matrix, stored_dim = load_matrix(session, model_id)
    if ids:
        if stored_dim != dim:
            raise ValueError(
                f"stored vectors of {model_id} have dimension {stored_dim}, expected {dim}"
            )
        index.upsert(ids, matrix)
    return index


def open_index(settings: Settings, session: Session, model_id: str, dim: int) -> VectorIndex:
    """The configured index, ready to search."""
    if settings.vector_index == "local":
        return local_index_from_table(session, model_id, dim)
    return build_vector_index(settings, dim=dim)


class IndexCache:
    """A long-lived process (the intake service) keeps one local index and rebuilds it only when
    the stored vectors changed (row count or newest update differ)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._key: Any = None
        self._index: VectorIndex | None = None

    def get(self, session: Session, model_id: str, dim: int) -> VectorIndex:
        if self.settings.vector_index != "local":
            with self._lock:
                if self._index is None:
                    self._index = build_vector_index(self.settings, dim=dim)
                return self._index
        key = (model_id, dim, vectors_fingerprint(session, model_id))
        with self._lock:
            if self._index is None or key != self._key:
                self._index = open_index(self.settings, session, model_id, dim)
                self._key = key
            return self._index


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
    ranked = rank_hits(session, text, hits, scorer, area_slug=area_slug, limit=limit)
    return [
        SearchResult(m.candidate.request, m.candidate.similarity, m.confidence, m.reason)
        for m in ranked
    ]
