"""The related-request graph: the stored `request_relations` rows and the incremental update of
one area's edges (exact k-NN from `core/request_graph`, over the vectors of
`analytics/graph_vectors`). Duplicate pairs for merge proposals: `analytics/graph_duplicates`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gtm_feedback_dagster.analytics.data import ID_CHUNK, area_request_ids, id_chunks

# The vectors the graph is built from, and their per-process cache: analytics/graph_vectors.py.
from gtm_feedback_dagster.analytics.graph_vectors import (
    VectorSet,
    cached_vectors,
)
from gtm_feedback_dagster.core.request_graph import (
    EdgeArrays,
    GraphParams,
    Neighbour,
    StoredRows,
    best_related_array,
    clusters_array,
    duplicate_pair_count,
    knn_edges,
    stale_queries,
)
from gtm_feedback_dagster.store.schema import (
    ProductArea,
    Request,
    RequestArea,
    RequestRelation,
    utcnow,
)


def load_area_row_summaries(session: Session, area_id: int) -> dict[int, StoredRows]:
    """Per request tagged with the area (merged ones included, so their leftovers can be
    dropped): when its stored rows were computed, how many there are and the weakest
    similarity — one grouped query, not every row."""
    rows = session.execute(
        select(
            RequestRelation.request_id,
            func.min(RequestRelation.computed_at),
            func.count(),
            func.min(RequestRelation.similarity),
        )
        .join(RequestArea, RequestArea.request_id == RequestRelation.request_id)
        .where(RequestArea.area_id == area_id)
        .group_by(RequestRelation.request_id)
    ).all()
    return {
        int(rid): StoredRows(at.timestamp(), int(count), float(weakest))
        for rid, at, count, weakest in rows
    }


def load_suspect_pairs(
    session: Session, area_id: int, vectors: VectorSet, since: datetime
) -> list[tuple[int, int]]:
    """(request_id, related_id) of the area's stored rows whose related request is no longer in
    the corpus (merged, deleted, without a vector or with another model's) or whose vector was
    stored after `since` — the only rows that can make their request stale. The suspects are
    known from the vectors and the request ids (one id-only query), so this reads the area's rows
    once, filtered on related_id, without touching the wide request and vector tables."""
    threshold = since.timestamp()
    suspects = {rid for rid, at in vectors.updated_at.items() if at > threshold}
    # Rows point at existing requests (ON DELETE CASCADE), so "not in the corpus" is every
    # request id outside it.
    # request ids outside the corpus (none when every request is in it: the corpus's ids are
    # request ids, so equal counts mean equal sets).
    if session.scalar(select(func.count()).select_from(Request)) != len(vectors.ids):
        suspects.update(
            rid for rid in session.scalars(select(Request.id)) if rid not in vectors.positions
        )
    pairs: list[tuple[int, int]] = []
    for chunk in id_chunks(sorted(suspects)):
        pairs.extend(
            (int(q), int(r))
            for q, r in session.execute(
                select(RequestRelation.request_id, RequestRelation.related_id)
                .join(RequestArea, RequestArea.request_id == RequestRelation.request_id)
                .where(
                    RequestArea.area_id == area_id,
                    # "+ 0": filter the area's rows instead of probing (request_id,
                    # related_id) once per area request and listed id (3.5M probes).
                    (RequestRelation.related_id + 0).in_(chunk),
                )
            ).tuples()
        )
    return pairs


def load_area_edges(session: Session, area_id: int, min_similarity: float | None) -> EdgeArrays:
    """The area's stored edges (at or above `min_similarity` if given), as arrays."""
    query = (
        select(RequestRelation.request_id, RequestRelation.related_id, RequestRelation.similarity)
        .join(RequestArea, RequestArea.request_id == RequestRelation.request_id)
        .where(RequestArea.area_id == area_id)
    )
    if min_similarity is not None:
        query = query.where(RequestRelation.similarity >= min_similarity)
    return EdgeArrays.from_tuples(session.execute(query).all())


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
    edge_count: int  # the area's stored edges after the update
    duplicate_count: int  # unordered pairs at or above the duplicate threshold
    clusters: list[list[int]]


def update_area_graph(
    session: Session, area: ProductArea, params: GraphParams, full_refresh: bool = False
) -> GraphUpdate:
    """Brings the area's rows of the related-request graph up to date, in the caller's
    transaction: recomputes only the requests whose neighbours may have changed (all of them on
    a full refresh), drops rows of merged / unembedded requests, and sets each request's related
    request to its best neighbour at or above the related threshold.

    Incremental runs read a summary of the stored rows (one row per request) and only the rows
    whose related request changed; the vectors come from the process's cache while unchanged.
    """
    # The snapshot time, taken before reading: a vector written while we compute is newer than
    # our rows and gets picked up by the next run.
    computed_at = utcnow()
    vectors = cached_vectors(session)
    area_ids = area_request_ids(session, area.id, include_merged=True)
    queries = [rid for rid in area_ids if rid in vectors.positions]
    drop = [rid for rid in area_ids if rid not in vectors.positions]
    stored = load_area_row_summaries(session, area.id)
    if full_refresh:
        recompute = set(queries)
    else:
        oldest = min((stored[q].computed_at for q in queries if q in stored), default=None)
        pairs = (
            load_suspect_pairs(
                session,
                area.id,
                vectors,
                # A second early: only a pre-filter (the exact test is in stale_queries), so a
                # timestamp's float round trip cannot lose a row.
                datetime.fromtimestamp(oldest, UTC) - timedelta(seconds=1),
            )
            if oldest is not None
            else []
        )
        recompute = stale_queries(
            queries,
            vectors.rows(queries),
            stored,
            pairs,
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
    # Everything derived is derived from the area's stored rows after the write: the kept rows
    # (this process's copy from its last run where their summary is unchanged, else read) and
    # the new ones.
    url = session.get_bind().url.render_as_string(hide_password=False)
    edges = _area_edges_after_write(
        session, url, area.id, stored, recompute, dropped, new_edges, computed_at
    )
    best = best_related_array(edges, params.related_threshold)
    # Like the reference's find-all-related, a request without a neighbour at or above the
    # threshold keeps the link it has (an imported or hand-set one is not erased).
    related_changed = set_related_requests(session, {q: best[q] for q in queries if q in best})
    duplicate_count = duplicate_pair_count(edges, params.duplicate_threshold)
    found_clusters = clusters_array(edges, params.cluster_threshold)
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
        edge_count=len(edges.request_ids),
        duplicate_count=duplicate_count,
        clusters=found_clusters,
    )


@dataclass
class _AreaRows:
    """An area's stored rows as this process last left them: per-request summaries (what
    `load_area_row_summaries` returns) and every row as arrays."""

    summaries: dict[int, StoredRows]
    edges: EdgeArrays


_area_rows_cache: dict[tuple[str, int], _AreaRows] = {}


def clear_area_rows_cache() -> None:
    _area_rows_cache.clear()


def _area_edges_after_write(
    session: Session,
    url: str,
    area_id: int,
    stored: Mapping[int, StoredRows],
    recomputed: set[int],
    dropped: Sequence[int],
    new_edges: Sequence[Neighbour],
    computed_at: datetime,
) -> EdgeArrays:
    """Every stored row of the area after this run's write, reading as little as possible.

    A request's rows are rewritten as a whole (delete, insert with one computed_at), so where a
    request's summary read at the start of the run equals the one cached after this process's
    last run, its cached rows are the stored ones. The others are read by request id (changed
    by another process, or a rolled-back run), or are this run's new rows. Without a cache
    entry every row of the area is read (or none, on a full refresh)."""
    rewritten = set(recomputed) | set(dropped)
    cached = _area_rows_cache.get((url, area_id))
    kept_ids = [q for q in stored if q not in rewritten]
    parts: list[EdgeArrays] = []
    if cached is None:
        if kept_ids:
            every = load_area_edges(session, area_id, None)
            parts.append(every.without(rewritten))
    else:
        unchanged = {q for q in kept_ids if cached.summaries.get(q) == stored[q]}
        parts.append(cached.edges.only(unchanged))
        reread = [q for q in kept_ids if q not in unchanged]
        if reread:
            parts.append(load_request_edges(session, reread))
    parts.append(
        EdgeArrays.from_tuples((e.request_id, e.related_id, e.similarity) for e in new_edges)
    )
    edges = EdgeArrays.concat(parts)
    summaries = {q: stored[q] for q in kept_ids}
    at = computed_at.timestamp()
    by_request: dict[int, list[float]] = defaultdict(list)
    for e in new_edges:
        by_request[e.request_id].append(e.similarity)
    summaries.update((q, StoredRows(at, len(sims), min(sims))) for q, sims in by_request.items())
    _area_rows_cache[(url, area_id)] = _AreaRows(summaries, edges)
    return edges


def load_request_edges(session: Session, request_ids: Sequence[int]) -> EdgeArrays:
    """The stored rows of the given requests, as arrays."""
    rows: list[Any] = []
    for chunk in id_chunks(sorted(request_ids)):
        rows.extend(
            session.execute(
                select(
                    RequestRelation.request_id,
                    RequestRelation.related_id,
                    RequestRelation.similarity,
                ).where(RequestRelation.request_id.in_(chunk))
            ).all()
        )
    return EdgeArrays.from_tuples(rows)


def _merged_ids(session: Session, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in id_chunks(sorted(set(ids))):
        found.update(
            session.scalars(
                select(Request.id).where(Request.id.in_(chunk), Request.status == "merged")
            )
        )
    return found
