"""Candidate requests for a piece of text: vector search, resolved against the app database.

The index only knows ids and similarities; titles, areas and status come from the database, which
also decides what is searchable. A hit whose request no longer exists or was merged is dropped
(and reported, so a remote index can be cleaned): a stale index can never route feedback to a
request that is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.schema import ProductArea, Request, RequestArea
from gtm_feedback_dagster.store.vectors import SEARCHABLE_STATUSES
from gtm_feedback_dagster.vectors.base import VectorHit

# How many nearest requests routing considers (and hands to the LLM judge).
ROUTING_TOP_K = 50


@dataclass(frozen=True)
class RequestInfo:
    id: int
    title: str
    description: str
    slug: str
    status: str
    area_slugs: tuple[str, ...]

    def index_metadata(self) -> dict[str, object]:
        """What a remote index keeps next to the vector (as `RequestForEmbedding` does)."""
        return {
            "title": self.title,
            "slug": self.slug,
            "status": self.status,
            "areas": list(self.area_slugs),
        }


@dataclass(frozen=True)
class ScoredCandidate:
    request: RequestInfo
    similarity: float  # cosine


def load_request_infos(session: Session, request_ids: Iterable[int]) -> dict[int, RequestInfo]:
    """Searchable requests by id (merged or missing ids are simply absent)."""
    ids = sorted({int(i) for i in request_ids})
    infos: dict[int, RequestInfo] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = session.execute(
            select(
                Request.id, Request.title, Request.description, Request.slug, Request.status
            ).where(
                Request.id.in_(chunk),
                Request.status.in_(SEARCHABLE_STATUSES),
                Request.merged_into_id.is_(None),
            )
        ).all()
        areas: dict[int, list[str]] = {}
        for rid, slug in session.execute(
            select(RequestArea.request_id, ProductArea.slug)
            .join(ProductArea, ProductArea.id == RequestArea.area_id)
            .where(RequestArea.request_id.in_(chunk))
            .order_by(ProductArea.slug)
        ):
            areas.setdefault(rid, []).append(slug)
        for rid, title, description, slug, status in rows:
            infos[rid] = RequestInfo(
                rid, title, description or "", slug, status, tuple(areas.get(rid, []))
            )
    return infos


def merge_hits(*hit_lists: Sequence[VectorHit]) -> list[VectorHit]:
    """One ranked list from several (e.g. index hits + requests created earlier in the run);
    an id seen twice keeps its best score."""
    best: dict[int, float] = {}
    for hits in hit_lists:
        for hit in hits:
            if hit.id not in best or hit.score > best[hit.id]:
                best[hit.id] = hit.score
    return [VectorHit(i, s) for i, s in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))]


def hits_against(query: np.ndarray, ids: Sequence[int], vectors: np.ndarray) -> list[VectorHit]:
    """Exact scores of one query against a few extra vectors (requests created in this run)."""
    if not ids:
        return []
    scores = np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    return [VectorHit(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]


def resolve_candidates(
    hits: Sequence[VectorHit],
    infos: dict[int, RequestInfo],
    area_slug: str | None = None,
    limit: int | None = None,
) -> tuple[list[ScoredCandidate], list[int]]:
    """(candidates best first, ids of hits that resolve to no searchable request)."""
    candidates: list[ScoredCandidate] = []
    unknown: list[int] = []
    for hit in hits:
        info = infos.get(hit.id)
        if info is None:
            unknown.append(hit.id)
            continue
        if area_slug is not None and area_slug not in info.area_slugs:
            continue
        candidates.append(ScoredCandidate(info, float(hit.score)))
        if limit is not None and len(candidates) >= limit:
            break
    return candidates, unknown
