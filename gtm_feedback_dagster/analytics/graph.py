"""The related-request graph: the stored `request_relations` rows, the vectors it is built from,
and the incremental update of one area's edges (blocked exact k-NN from `core/request_graph`).
Duplicate pairs for merge proposals are read from here too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gtm_feedback_dagster.analytics.data import ID_CHUNK, area_request_ids, id_chunks
from gtm_feedback_dagster.core.request_graph import (
    DuplicatePair,
    GraphParams,
    Neighbour,
    best_related,
    clusters,
    duplicate_pairs,
    knn_edges,
    requests_to_recompute,
)
from gtm_feedback_dagster.store.schema import (
    ProductArea,
    Request,
    RequestArea,
    RequestRelation,
    RequestVector,
    utcnow,
)
from gtm_feedback_dagster.vectors.base import bytes_to_matrix


@dataclass
class VectorSet:
    """The stored vectors of all non-merged requests (one model), as a matrix."""

    ids: list[int]
    matrix: np.ndarray
    updated_at: dict[int, float]
    model_id: str | None
    skipped_other_models: int = 0
    positions: dict[int, int] = field(default_factory=dict)

    def rows(self, ids: Sequence[int]) -> np.ndarray:
        return self.matrix[[self.positions[i] for i in ids]]


def load_vectors(session: Session) -> VectorSet:
    """Vectors of every non-merged request. If vectors of two models coexist (while the
    embedder is being switched), only the most common model's are used: similarities across
    models mean nothing."""
    rows = session.execute(
        select(
            RequestVector.request_id,
            RequestVector.model_id,
            RequestVector.dim,
            RequestVector.vector,
            RequestVector.updated_at,
        )
        .join(Request, Request.id == RequestVector.request_id)
        .where(Request.status != "merged")
        .order_by(RequestVector.request_id)
    ).all()
    if not rows:
        return VectorSet([], np.zeros((0, 0), dtype=np.float32), {}, None)
    model_counts = Counter((r.model_id, r.dim) for r in rows)
    (model_id, dim), _ = model_counts.most_common(1)[0]
    kept = [r for r in rows if (r.model_id, r.dim) == (model_id, dim)]
    ids = [r.request_id for r in kept]
    return VectorSet(
        ids=ids,
        matrix=bytes_to_matrix([r.vector for r in kept], dim),
        updated_at={r.request_id: r.updated_at.timestamp() for r in kept},
        model_id=model_id,
        skipped_other_models=len(rows) - len(kept),
        positions={rid: i for i, rid in enumerate(ids)},
    )


@dataclass(frozen=True)
class StoredEdge:
    request_id: int
    related_id: int
    similarity: float
    rank: int
    computed_at: datetime


def load_area_relations(session: Session, area_id: int) -> dict[int, list[StoredEdge]]:
    """Stored neighbour rows of every request tagged with the area (merged ones included, so
    their leftovers can be dropped)."""
    rows = session.execute(
        select(
            RequestRelation.request_id,
            RequestRelation.related_id,
            RequestRelation.similarity,
            RequestRelation.rank,
            RequestRelation.computed_at,
        )
        .join(RequestArea, RequestArea.request_id == RequestRelation.request_id)
        .where(RequestArea.area_id == area_id)
        .order_by(RequestRelation.request_id, RequestRelation.rank)
    ).all()
    grouped: dict[int, list[StoredEdge]] = defaultdict(list)
    for r in rows:
        grouped[r.request_id].append(
            StoredEdge(r.request_id, r.related_id, r.similarity, r.rank, r.computed_at)
        )
    return dict(grouped)


def _upsert_relations(session: Session, values: list[dict[str, Any]]) -> None:
    """Insert rows; a row another partition wrote meanwhile (a request in two areas) is
    overwritten instead of failing on the (request_id, related_id) unique key.

    One compiled statement sent as executemany: compiling a many-row VALUES clause per chunk
    cost 12 s for 45k rows, executemany 0.3 s.
    """
    if not values:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = RequestRelation.__table__
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["request_id", "related_id"],
        set_={
            "similarity": stmt.excluded.similarity,
            "rank": stmt.excluded.rank,
            "computed_at": stmt.excluded.computed_at,
        },
    )
    connection = session.connection()
    for start in range(0, len(values), ID_CHUNK):
        connection.execute(stmt, values[start : start + ID_CHUNK])


def replace_relations(
    session: Session,
    recomputed: Iterable[int],
    edges: Sequence[Neighbour],
    computed_at: datetime,
    drop: Iterable[int] = (),
) -> int:
    """Replaces the rows of the recomputed requests by `edges` and deletes the rows of `drop`
    (merged requests, requests without a vector); returns the number of rows written."""
    doomed = sorted(set(recomputed) | set(drop))
    for chunk in id_chunks(doomed):
        session.execute(delete(RequestRelation).where(RequestRelation.request_id.in_(chunk)))
    _upsert_relations(
        session,
        [
            {
                "request_id": e.request_id,
                "related_id": e.related_id,
                "similarity": float(e.similarity),
                "rank": e.rank,
                "computed_at": computed_at,
            }
            for e in edges
        ],
    )
    return len(edges)


def set_related_requests(session: Session, best: Mapping[int, int | None]) -> int:
    """Sets `Request.related_request_id` where it differs; returns how many changed.

    A derived link is not an edit of the request, so `updated_at` is kept as it was.
    """
    current = {}
    for chunk in id_chunks(sorted(best)):
        current.update(
            session.execute(
                select(Request.id, Request.related_request_id).where(Request.id.in_(chunk))
            ).all()
        )
    changed = 0
    by_target: dict[int | None, list[int]] = defaultdict(list)
    for request_id, related_id in best.items():
        if request_id in current and current[request_id] != related_id:
            by_target[related_id].append(request_id)
            changed += 1
    for related_id, ids in by_target.items():
        for chunk in id_chunks(ids):
            session.execute(
                update(Request)
                .where(Request.id.in_(chunk))
                .values(related_request_id=related_id, updated_at=Request.updated_at)
            )
    return changed


# ---------------------------------------------------------------------------- area reports


@dataclass
class GraphUpdate:
    """What one area's graph update did, and the area's graph after it."""

    area_slug: str
    queries: int  # area requests with a vector (the k-NN queries)
    corpus: int  # all non-merged requests with a vector
    without_vector: int  # area requests still waiting for an embedding
    recomputed: list[int]
    rows_written: int
    rows_dropped_requests: int  # area requests whose rows were dropped (merged / no vector)
    related_changed: int
    full_refresh: bool
    model_id: str | None
    skipped_other_models: int
    edges: list[tuple[int, int, float]]  # the area's stored edges after the update
    duplicates: list[DuplicatePair]
    clusters: list[list[int]]


def update_area_graph(
    session: Session, area: ProductArea, params: GraphParams, full_refresh: bool = False
) -> GraphUpdate:
    """Brings the area's rows of the related-request graph up to date, in the caller's
    transaction: recomputes only the requests whose neighbours may have changed (all of them on
    a full refresh), drops rows of merged / unembedded requests, and sets each request's related
    request to its best neighbour at or above the related threshold."""
    # The snapshot time, taken before reading: a vector written while we compute is newer than
    # our rows and gets picked up by the next run.
    computed_at = utcnow()
    vectors = load_vectors(session)
    area_ids = area_request_ids(session, area.id, include_merged=True)
    queries = [rid for rid in area_ids if rid in vectors.positions]
    drop = [rid for rid in area_ids if rid not in vectors.positions]
    stored = load_area_relations(session, area.id)
    if full_refresh:
        recompute = set(queries)
    else:
        recompute = requests_to_recompute(
            queries,
            vectors.rows(queries),
            {q: min(e.computed_at for e in stored[q]).timestamp() for q in queries if q in stored},
            {q: [(e.related_id, e.similarity) for e in stored[q]] for q in queries if q in stored},
            vectors.ids,
            vectors.matrix,
            vectors.updated_at,
            k=params.k,
            min_similarity=params.min_similarity,
            block_size=params.block_size,
        )
    recomputed = sorted(recompute)
    new_edges = knn_edges(
        recomputed,
        vectors.rows(recomputed),
        vectors.ids,
        vectors.matrix,
        k=params.k,
        min_similarity=params.min_similarity,
        block_size=params.block_size,
    )
    dropped = [rid for rid in drop if rid in stored]
    written = replace_relations(session, recomputed, new_edges, computed_at, drop=dropped)

    edges = [
        (e.request_id, e.related_id, e.similarity)
        for q in queries
        if q not in recompute
        for e in stored.get(q, ())
    ] + [(e.request_id, e.related_id, e.similarity) for e in new_edges]
    best = best_related(edges, params.related_threshold)
    # Like the reference's find-all-related, a request without a neighbour at or above the
    # threshold keeps the link it has (an imported or hand-set one is not erased).
    related_changed = set_related_requests(session, {q: best[q] for q in queries if q in best})
    duplicates = duplicate_pairs(edges, params.duplicate_threshold)
    found_clusters = clusters(edges, params.cluster_threshold)
    merged = _merged_ids(session, drop)
    return GraphUpdate(
        area_slug=area.slug,
        queries=len(queries),
        corpus=len(vectors.ids),
        without_vector=len([rid for rid in drop if rid not in merged]),
        recomputed=recomputed,
        rows_written=written,
        rows_dropped_requests=len(dropped),
        related_changed=related_changed,
        full_refresh=full_refresh,
        model_id=vectors.model_id,
        skipped_other_models=vectors.skipped_other_models,
        edges=edges,
        duplicates=duplicates,
        clusters=found_clusters,
    )


def _merged_ids(session: Session, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in id_chunks(sorted(set(ids))):
        found.update(
            session.scalars(
                select(Request.id).where(Request.id.in_(chunk), Request.status == "merged")
            )
        )
    return found


def stored_duplicate_pairs(
    session: Session, threshold: float, area_id: int | None = None, limit: int = 100
) -> list[DuplicatePair]:
    """Duplicate candidates from the stored graph (both requests not merged), optionally only
    pairs touching one area."""
    a = Request.__table__.alias("a")
    b = Request.__table__.alias("b")
    query = (
        select(RequestRelation.request_id, RequestRelation.related_id, RequestRelation.similarity)
        .join(a, a.c.id == RequestRelation.request_id)
        .join(b, b.c.id == RequestRelation.related_id)
        .where(
            RequestRelation.similarity >= threshold,
            a.c.status != "merged",
            b.c.status != "merged",
        )
    )
    if area_id is not None:
        in_area = select(RequestArea.request_id).where(RequestArea.area_id == area_id)
        query = query.where(
            RequestRelation.request_id.in_(in_area) | RequestRelation.related_id.in_(in_area)
        )
    return duplicate_pairs(session.execute(query).tuples(), threshold)[:limit]
