"""The related-request graph: the stored `request_relations` rows and the incremental update of
one area's edges (exact k-NN from `core/request_graph`, over the vectors of
`analytics/graph_vectors`, reading the stored rows through `analytics/graph_rows`). Duplicate
pairs for merge proposals: `analytics/graph_duplicates`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gtm_feedback_dagster.analytics.data import ID_CHUNK, area_request_ids, id_chunks

# The stored rows as the update reads them, and their per-process cache: analytics/graph_rows.py.
from gtm_feedback_dagster.analytics.graph_rows import (
    area_edges_after_write,
    load_area_row_summaries,
    load_suspect_pairs,
    stored_lists,
)
from gtm_feedback_dagster.analytics.graph_rows import (
    clear_area_rows_cache as clear_area_rows_cache,  # re-exported
)

# The vectors the graph is built from, and their per-process cache: analytics/graph_vectors.py.
from gtm_feedback_dagster.analytics.graph_vectors import cached_vectors
from gtm_feedback_dagster.core.graph_patch import patch_neighbours
from gtm_feedback_dagster.core.request_graph import (
    GraphParams,
    Neighbour,
    best_related_array,
    clusters_array,
    duplicate_pair_count,
    knn_edges,
    stale_queries,
)
from gtm_feedback_dagster.store.schema import (
    ProductArea,
    Request,
    RequestRelation,
    utcnow,
)


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
    recomputed: list[int]  # requests whose rows were rewritten (searched or patched)
    searched: int  # of those, how many needed a k-NN search
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
    url = session.get_bind().url.render_as_string(hide_password=False)
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
                url,
                area.id,
                stored,
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
    # A stale request whose own vector is unchanged is first updated from its stored rows and the
    # changed vectors (exact, core/graph_patch.py); only the rest are searched.
    patched: list[Neighbour] = []
    searched = recomputed
    if not full_refresh:
        own_changed = {
            q
            for q in recomputed
            if q not in stored
            or stored[q].count == 0
            or vectors.updated_at.get(q, 0.0) > stored[q].computed_at
        }
        candidates = [q for q in recomputed if q not in own_changed]
        patched, unresolved = patch_neighbours(
            candidates,
            vectors.rows(candidates),
            stored_lists(session, url, area.id, stored, candidates),
            {q: stored[q].computed_at for q in candidates},
            vectors.ids,
            vectors.matrix,
            vectors.updated_at,
            k=params.k,
            min_similarity=params.min_similarity,
        )
        searched = sorted(own_changed | unresolved)
    new_edges = patched + knn_edges(
        searched,
        vectors.rows(searched),
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
    edges = area_edges_after_write(
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
        searched=len(searched),
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


def _merged_ids(session: Session, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in id_chunks(sorted(set(ids))):
        found.update(
            session.scalars(
                select(Request.id).where(Request.id.in_(chunk), Request.status == "merged")
            )
        )
    return found
