"""Data access of the analytics assets: the related-request graph (`request_relations`), area
report inputs and stored reports (`insight_reports`), and the weekly digest's inputs.

Every loader is a handful of set-based queries per area (joins on `request_areas`, never one
query per request), returning plain rows for the domain code; a report over 4k requests and 40k
entries loads in well under a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
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
    utcnow,
)

ID_CHUNK = 5000  # ids per IN (...) list: below SQLite's bound-parameter limit


def id_chunks(ids: Sequence[int], size: int = ID_CHUNK) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# ---------------------------------------------------------------------------- graph


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
    for chunk in id_chunks(sorted({f.account_id for f in feedback if f.account_id is not None})):
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
    for chunk in id_chunks(
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


TEXT_ENTRIES_PER_REQUEST = 30  # enough words to find a theme; bounded for huge requests


def load_area_texts(session: Session, data: AreaData) -> dict[int, str]:
    """Per open request of `data`: its title, description and up to
    `TEXT_ENTRIES_PER_REQUEST` entries' text (the input of the feedback-text themes)."""
    from gtm_feedback_dagster.analytics.text_themes import request_texts

    open_ids = [r.id for r in data.requests if r.status == "open"]
    titles = {r.id: r.title for r in data.requests if r.status == "open"}
    entry_texts: dict[int, list[str]] = defaultdict(list)
    for chunk in id_chunks(open_ids):
        for rid, description in session.execute(
            select(Request.id, Request.description).where(Request.id.in_(chunk))
        ):
            if description:
                entry_texts[rid].append(description)
        for rid, pain in session.execute(
            select(Feedback.request_id, Feedback.customer_pain)
            .where(Feedback.request_id.in_(chunk))
            .order_by(Feedback.request_id, Feedback.id)
        ):
            if pain and len(entry_texts[rid]) < TEXT_ENTRIES_PER_REQUEST:
                entry_texts[rid].append(pain)
    return request_texts(titles, entry_texts)


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
        for chunk in id_chunks(sorted(set(ids))):
            for rid, area_id in session.execute(
                select(RequestArea.request_id, RequestArea.area_id).where(
                    RequestArea.request_id.in_(chunk)
                )
            ):
                found[rid].append(areas[area_id][0])
        return {rid: sorted(slugs) for rid, slugs in found.items()}

    # New = first asked in the period: created in it, and no feedback entry from before it (an
    # import or the demo creates requests today for feedback given months ago).
    earlier_entry = (
        select(Feedback.id)
        .where(Feedback.request_id == Request.id, Feedback.created_at < start)
        .exists()
    )
    new_request_rows = session.execute(
        select(Request.id, Request.slug, Request.title, Request.status, Request.created_at).where(
            Request.created_at >= start,
            Request.created_at < end,
            Request.status != "merged",
            ~earlier_entry,
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
    for chunk in id_chunks(extra_ids):
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
    for chunk in id_chunks(sorted(account_ids)):
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
