"""Data access of the analytics assets: the related-request graph (`request_relations`), area
report inputs and stored reports (`insight_reports`), and the weekly digest's inputs.

Every loader is a handful of set-based queries per area (joins on `request_areas`, never one
query per request), returning plain rows for the domain code; a report over 4k requests and 40k
entries loads in well under a second.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from gtm_feedback_dagster.analytics.digest import DigestData, DigestEntry, DigestRequest
from gtm_feedback_dagster.analytics.rows import (
    AccountRow,
    AreaData,
    FeedbackRow,
    OpportunityRow,
    RequestRow,
)
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
    Account,
    Feedback,
    Follower,
    InsightReport,
    Opportunity,
    ProductArea,
    Request,
    RequestArea,
    RequestRelation,
    RequestVector,
    utcnow,
)
from gtm_feedback_dagster.vectors.base import bytes_to_matrix

_CHUNK = 5000  # ids per IN (...) list: below SQLite's bound-parameter limit


def _chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# ---------------------------------------------------------------------------- graph


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


def get_area(session: Session, slug: str) -> ProductArea | None:
    return session.scalars(select(ProductArea).where(ProductArea.slug == slug)).first()


def area_request_ids(session: Session, area_id: int, include_merged: bool = False) -> list[int]:
    query = (
        select(Request.id)
        .join(RequestArea, RequestArea.request_id == Request.id)
        .where(RequestArea.area_id == area_id)
        .order_by(Request.id)
    )
    if not include_merged:
        query = query.where(Request.status != "merged")
    return list(session.scalars(query))


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
    for start in range(0, len(values), _CHUNK):
        connection.execute(stmt, values[start : start + _CHUNK])


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
    for chunk in _chunks(doomed):
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
    for chunk in _chunks(sorted(best)):
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
        for chunk in _chunks(ids):
            session.execute(
                update(Request)
                .where(Request.id.in_(chunk))
                .values(related_request_id=related_id, updated_at=Request.updated_at)
            )
    return changed


# ---------------------------------------------------------------------------- area reports


def load_area_data(session: Session, area: ProductArea, min_edge_similarity: float) -> AreaData:
    """The area's requests, their feedback, the accounts and opportunities behind it and the
    stored graph edges among them — five set-based queries."""
    requests = [
        RequestRow(r.id, r.slug, r.title, r.status)
        for r in session.execute(
            select(Request.id, Request.slug, Request.title, Request.status)
            .join(RequestArea, RequestArea.request_id == Request.id)
            .where(RequestArea.area_id == area.id, Request.status != "merged")
            .order_by(Request.id)
        )
    ]
    # created_at is not selected: the report does not use it, and converting 40k timestamps
    # costs more than the query.
    feedback = [
        FeedbackRow(f.id, f.request_id, f.account_id, f.severity, f.opportunity_id)
        for f in session.execute(
            select(
                Feedback.id,
                Feedback.request_id,
                Feedback.account_id,
                Feedback.severity,
                Feedback.opportunity_id,
            )
            .join(RequestArea, RequestArea.request_id == Feedback.request_id)
            .where(RequestArea.area_id == area.id)
            .order_by(Feedback.id)
        )
    ]
    # Accounts and opportunities by the ids just loaded (a few thousand at most), rather than
    # re-running the feedback join as a subquery for each.
    accounts: dict[int, AccountRow] = {}
    for chunk in _chunks(sorted({f.account_id for f in feedback if f.account_id is not None})):
        for a in session.execute(
            select(
                Account.id,
                Account.name,
                Account.arr,
                Account.is_enterprise,
                Account.region,
                Account.industry,
                Account.territory,
                Account.segment,
                Account.sub_segment,
            ).where(Account.id.in_(chunk))
        ):
            accounts[a.id] = AccountRow(
                a.id,
                a.name,
                float(a.arr or 0.0),
                bool(a.is_enterprise),
                a.region,
                a.industry,
                a.territory,
                a.segment,
                a.sub_segment,
            )
    opportunities: dict[int, OpportunityRow] = {}
    for chunk in _chunks(
        sorted({f.opportunity_id for f in feedback if f.opportunity_id is not None})
    ):
        for o in session.execute(
            select(
                Opportunity.id, Opportunity.account_id, Opportunity.arr, Opportunity.stage
            ).where(Opportunity.id.in_(chunk))
        ):
            opportunities[o.id] = OpportunityRow(o.id, o.account_id, float(o.arr or 0.0), o.stage)
    # Joins, not IN (subquery): SQLite plans two IN subqueries over the relations table as a
    # scan (8 s at 300k rows); the joins use the primary key of request_areas (10 ms).
    source_area = aliased(RequestArea)
    target_area = aliased(RequestArea)
    edges = [
        (e.request_id, e.related_id, float(e.similarity))
        for e in session.execute(
            select(
                RequestRelation.request_id, RequestRelation.related_id, RequestRelation.similarity
            )
            .join(
                source_area,
                (source_area.request_id == RequestRelation.request_id)
                & (source_area.area_id == area.id),
            )
            .join(
                target_area,
                (target_area.request_id == RequestRelation.related_id)
                & (target_area.area_id == area.id),
            )
            .where(RequestRelation.similarity >= min_edge_similarity)
        )
    ]
    return AreaData(
        area_id=area.id,
        slug=area.slug,
        name=area.name,
        requests=requests,
        feedback=feedback,
        accounts=accounts,
        opportunities=opportunities,
        edges=edges,
    )


def previous_report(session: Session, area_id: int, before: date) -> dict[str, Any] | None:
    """The area's latest stored report from a day before `before` (JSON), if any."""
    row = session.scalars(
        select(InsightReport)
        .where(InsightReport.area_id == area_id, InsightReport.day < before)
        .order_by(InsightReport.day.desc())
        .limit(1)
    ).first()
    return dict(row.data) if row is not None else None


def save_report(
    session: Session, area_id: int, day: date, markdown: str, data: dict[str, Any]
) -> None:
    """One report per (area, day): re-running the same day replaces it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(InsightReport).values(
        area_id=area_id, day=day, markdown=markdown, data=data, created_at=utcnow()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["area_id", "day"],
        set_={
            "markdown": stmt.excluded.markdown,
            "data": stmt.excluded.data,
            "created_at": stmt.excluded.created_at,
        },
    )
    session.execute(stmt)


def get_report(session: Session, area_id: int, day: date | None = None) -> InsightReport | None:
    query = select(InsightReport).where(InsightReport.area_id == area_id)
    if day is not None:
        query = query.where(InsightReport.day == day)
    return session.scalars(query.order_by(InsightReport.day.desc()).limit(1)).first()


def report_days(session: Session, area_id: int, limit: int = 10) -> list[date]:
    return list(
        session.scalars(
            select(InsightReport.day)
            .where(InsightReport.area_id == area_id)
            .order_by(InsightReport.day.desc())
            .limit(limit)
        )
    )


# ---------------------------------------------------------------------------- weekly digest


def load_digest_data(session: Session, start: datetime, end: datetime) -> DigestData:
    """What happened in [start, end): new requests, new entries, shipped requests with their
    follower counts, and the accounts and areas needed to weigh and group them."""
    area_rows = session.execute(
        select(ProductArea.id, ProductArea.slug, ProductArea.name).order_by(ProductArea.slug)
    ).all()
    areas = {a.id: (a.slug, a.name) for a in area_rows}

    def request_areas(ids: Sequence[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = defaultdict(list)
        for chunk in _chunks(sorted(set(ids))):
            for rid, area_id in session.execute(
                select(RequestArea.request_id, RequestArea.area_id).where(
                    RequestArea.request_id.in_(chunk)
                )
            ):
                found[rid].append(areas[area_id][0])
        return {rid: sorted(slugs) for rid, slugs in found.items()}

    new_request_rows = session.execute(
        select(Request.id, Request.slug, Request.title, Request.status, Request.created_at).where(
            Request.created_at >= start, Request.created_at < end, Request.status != "merged"
        )
    ).all()
    # A request shipped before shipped_at existed (imports) counts by its last update.
    shipped_when = func.coalesce(Request.shipped_at, Request.updated_at)
    shipped_rows = session.execute(
        select(Request.id, Request.slug, Request.title, Request.status, Request.created_at).where(
            Request.status == "shipped", shipped_when >= start, shipped_when < end
        )
    ).all()
    followers = dict(
        session.execute(
            select(Follower.request_id, func.count(Follower.id))
            .join(Request, Request.id == Follower.request_id)
            .where(Request.status == "shipped", shipped_when >= start, shipped_when < end)
            .group_by(Follower.request_id)
        ).all()
    )
    entry_rows = session.execute(
        select(
            Feedback.id,
            Feedback.request_id,
            Feedback.account_id,
            Feedback.severity,
            Feedback.created_at,
        )
        .join(Request, Request.id == Feedback.request_id)
        .where(
            Feedback.created_at >= start,
            Feedback.created_at < end,
            Feedback.request_id.is_not(None),
            Request.status != "merged",
        )
    ).all()
    entry_request_ids = {e.request_id for e in entry_rows}
    known = {r.id for r in new_request_rows} | {r.id for r in shipped_rows}
    extra_ids = sorted(entry_request_ids - known)
    extra_rows = []
    for chunk in _chunks(extra_ids):
        extra_rows += session.execute(
            select(
                Request.id, Request.slug, Request.title, Request.status, Request.created_at
            ).where(Request.id.in_(chunk))
        ).all()
    all_ids = [r.id for r in (*new_request_rows, *shipped_rows, *extra_rows)]
    slugs_by_request = request_areas(all_ids)

    def as_digest_request(r: Any) -> DigestRequest:
        return DigestRequest(
            id=r.id,
            slug=r.slug,
            title=r.title,
            status=r.status,
            created_at=r.created_at,
            areas=slugs_by_request.get(r.id, []),
            followers=int(followers.get(r.id, 0)),
        )

    account_ids = {e.account_id for e in entry_rows if e.account_id is not None}
    accounts: dict[int, AccountRow] = {}
    for chunk in _chunks(sorted(account_ids)):
        for a in session.execute(
            select(Account.id, Account.name, Account.arr, Account.is_enterprise).where(
                Account.id.in_(chunk)
            )
        ):
            accounts[a.id] = AccountRow(a.id, a.name, float(a.arr or 0.0), bool(a.is_enterprise))
    return DigestData(
        start=start,
        end=end,
        areas=[(slug, name) for slug, name in areas.values()],
        new_requests=[as_digest_request(r) for r in new_request_rows],
        shipped_requests=[as_digest_request(r) for r in shipped_rows],
        other_requests=[as_digest_request(r) for r in extra_rows],
        entries=[
            DigestEntry(e.id, e.request_id, e.account_id, e.severity, e.created_at)
            for e in entry_rows
        ],
        accounts=accounts,
    )


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
    for chunk in _chunks(sorted(set(ids))):
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
