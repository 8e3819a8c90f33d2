"""The stored rows of the related-request graph as the incremental update reads them: per-request
summaries, the rows that can make a request stale, and every row of an area as arrays — with this
process's copy of each area's rows (as its last run left them), so a warm process reads little
more than the summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.analytics.data import id_chunks
from gtm_feedback_dagster.analytics.graph_vectors import VectorSet
from gtm_feedback_dagster.core.request_graph import EdgeArrays, Neighbour, StoredRows
from gtm_feedback_dagster.store.schema import Request, RequestArea, RequestRelation


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


def suspect_ids(session: Session, vectors: VectorSet, since: datetime) -> set[int]:
    """Requests whose rows can make a stored list stale: vectors stored after `since`, and
    request ids outside the corpus (merged, deleted, without a vector or with another model's)."""
    threshold = since.timestamp()
    suspects = {rid for rid, at in vectors.updated_at.items() if at > threshold}
    # Rows point at existing requests (ON DELETE CASCADE), so "not in the corpus" is every
    # request id outside it (none when every request is in it: the corpus's ids are request
    # ids, so equal counts mean equal sets).
    if session.scalar(select(func.count()).select_from(Request)) != len(vectors.ids):
        suspects.update(
            rid for rid in session.scalars(select(Request.id)) if rid not in vectors.positions
        )
    return suspects


def load_suspect_pairs(
    session: Session,
    url: str,
    area_id: int,
    stored: Mapping[int, StoredRows],
    vectors: VectorSet,
    since: datetime,
) -> list[tuple[int, int]]:
    """(request_id, related_id) of the area's stored rows whose related request is a suspect
    (`suspect_ids`) — the only rows that can make their request stale.

    Where a request's summary equals the one this process cached after its last run, its
    cached rows are the stored ones (rows are rewritten per request, as a whole), so they are
    filtered in memory; the rows of other requests are read by request id. Without a cache
    entry the area's rows are read once, filtered on related_id, without touching the wide
    request and vector tables."""
    suspects = suspect_ids(session, vectors, since)
    if not suspects:
        return []
    wanted = np.fromiter(suspects, dtype=np.int64, count=len(suspects))
    cached = _area_rows_cache.get((url, area_id))
    if cached is not None:
        known = {q for q in stored if cached.summaries.get(q) == stored[q]}
        unknown = [q for q in stored if q not in known]
        if len(unknown) <= len(stored) // 2:
            edges = cached.edges.only(known)
            hit = np.isin(edges.related_ids, wanted)
            pairs = list(
                zip(edges.request_ids[hit].tolist(), edges.related_ids[hit].tolist(), strict=True)
            )
            if unknown:
                edges = load_request_edges(session, unknown)
                hit = np.isin(edges.related_ids, wanted)
                pairs.extend(
                    zip(
                        edges.request_ids[hit].tolist(),
                        edges.related_ids[hit].tolist(),
                        strict=True,
                    )
                )
            return pairs
    pairs = []
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


@dataclass
class _AreaRows:
    """An area's stored rows as this process last left them: per-request summaries (what
    `load_area_row_summaries` returns) and every row as arrays."""

    summaries: dict[int, StoredRows]
    edges: EdgeArrays


_area_rows_cache: dict[tuple[str, int], _AreaRows] = {}


def clear_area_rows_cache() -> None:
    _area_rows_cache.clear()


def area_edges_after_write(
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


def stored_lists(
    session: Session,
    url: str,
    area_id: int,
    stored: Mapping[int, StoredRows],
    request_ids: Sequence[int],
) -> dict[int, list[tuple[int, float]]]:
    """The stored (related_id, similarity) rows of the given requests of the area: from this
    process's copy where the request's summary is unchanged, else read by request id."""
    cached = _area_rows_cache.get((url, area_id))
    known = (
        {q for q in request_ids if cached.summaries.get(q) == stored.get(q)}
        if cached is not None
        else set()
    )
    parts = [load_request_edges(session, [q for q in request_ids if q not in known])]
    if cached is not None and known:
        parts.append(cached.edges.only(known))
    lists: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for part in parts:
        for q, r, s in zip(
            part.request_ids.tolist(),
            part.related_ids.tolist(),
            part.similarities.tolist(),
            strict=True,
        ):
            lists[q].append((r, s))
    return lists
