"""Read queries of one request's page and an area's page (web/): a request's revenue at stake,
entries, followers, relations and history (following merges to the survivor), an area's latest
insight report. The request list is in requests/listing.py, the triage queue in requests/triage.py.

Plain SQLAlchemy over a Session; every figure counts an account once per request (an account
that asked five times weighs its ARR once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased, defer

from gtm_feedback_dagster.core.request_graph import DEFAULT_DUPLICATE_THRESHOLD
from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    Follower,
    InsightReport,
    Opportunity,
    ProductArea,
    Request,
    RequestRelation,
    User,
)

MAX_MERGE_HOPS = 20


# ---------------------------------------------------------------------------- one request


@dataclass(frozen=True)
class Moved:
    """The slug asked for belongs to a merged request: its survivor's slug."""

    slug: str


def current_request(session: Session, slug: str) -> Request | Moved | None:
    request = session.scalars(select(Request).where(Request.slug == slug)).first()
    if request is None:
        return None
    hops = 0
    survivor = request
    while survivor.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        nxt = session.get(Request, survivor.merged_into_id)
        if nxt is None:
            break
        survivor, hops = nxt, hops + 1
    return Moved(survivor.slug) if survivor.id != request.id else request


def revenue_at_stake(session: Session, request_id: int) -> dict[str, Any]:
    """Distinct accounts, their ARR, the enterprise share of that ARR (and of the accounts),
    and the value of the open opportunities named by the entries (each counted once)."""
    accounts = session.execute(
        select(Account.id, Account.arr, Account.is_enterprise).where(
            Account.id.in_(
                select(Feedback.account_id).where(
                    Feedback.request_id == request_id, Feedback.account_id.is_not(None)
                )
            )
        )
    ).all()
    arr = sum(float(a.arr or 0.0) for a in accounts)
    enterprise_arr = sum(float(a.arr or 0.0) for a in accounts if a.is_enterprise)
    enterprise_accounts = sum(1 for a in accounts if a.is_enterprise)
    open_value = session.scalar(
        select(func.coalesce(func.sum(Opportunity.arr), 0.0)).where(
            Opportunity.id.in_(
                select(Feedback.opportunity_id).where(
                    Feedback.request_id == request_id, Feedback.opportunity_id.is_not(None)
                )
            ),
            or_(Opportunity.stage.is_(None), ~Opportunity.stage.like("Closed%")),
        )
    )
    return {
        "accounts": len(accounts),
        "arr": arr,
        "enterprise_accounts": enterprise_accounts,
        "enterprise_share": (enterprise_arr / arr) if arr > 0 else 0.0,
        "enterprise_account_share": (enterprise_accounts / len(accounts)) if accounts else 0.0,
        "open_opportunity_value": float(open_value or 0.0),
    }


def request_entries(session: Session, request_id: int, limit: int = 500) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Feedback, Account.name, User.name, User.email)
        .outerjoin(Account, Account.id == Feedback.account_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Feedback.request_id == request_id)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": f.id,
            "pain": f.customer_pain,
            "severity": f.severity,
            "account": account,
            "submitter": name or email,
            "created_at": f.created_at,
            "source": f.source,
            "match_type": f.match_type,
        }
        for f, account, name, email in rows
    ]


def followers(session: Session, request_id: int) -> list[dict[str, Any]]:
    return [
        {"name": u.name, "email": u.email}
        for u in session.scalars(
            select(User)
            .join(Follower, Follower.user_id == User.id)
            .where(Follower.request_id == request_id)
            .order_by(Follower.id)
        )
    ]


def related_requests(
    session: Session,
    request_id: int,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
    limit: int = 10,
) -> dict[str, list[dict[str, Any]]]:
    """From `request_relations` (both directions, merged requests left out): likely duplicates
    (similarity >= threshold) and related requests, best first; plus the hand-set related link."""
    other = aliased(Request)
    forward = select(
        RequestRelation.related_id.label("oid"), RequestRelation.similarity.label("sim")
    ).where(RequestRelation.request_id == request_id)
    backward = select(
        RequestRelation.request_id.label("oid"), RequestRelation.similarity.label("sim")
    ).where(RequestRelation.related_id == request_id)
    both = forward.union_all(backward).subquery()
    rows = session.execute(
        select(other.id, other.slug, other.title, other.status, func.max(both.c.sim))
        .join(both, both.c.oid == other.id)
        .where(other.status != "merged", other.id != request_id)
        .group_by(other.id, other.slug, other.title, other.status)
        .order_by(func.max(both.c.sim).desc())
        .limit(limit * 2)
    ).all()
    me = session.get(Request, request_id)
    distinct = set((me.meta or {}).get("distinct_from", [])) if me else set()
    duplicates: list[dict[str, Any]] = []
    related: list[dict[str, Any]] = []
    for rid, slug, title, status, sim in rows:
        item = {"id": rid, "slug": slug, "title": title, "status": status, "similarity": float(sim)}
        if float(sim) >= threshold and rid not in distinct:
            duplicates.append(item)
        else:
            related.append(item)
    if me is not None and me.related_request_id:
        link = session.get(Request, me.related_request_id)
        if link is not None and all(r["id"] != link.id for r in related + duplicates):
            related.insert(
                0,
                {
                    "id": link.id,
                    "slug": link.slug,
                    "title": link.title,
                    "status": link.status,
                    "similarity": None,
                },
            )
    return {"duplicates": duplicates[:limit], "related": related[:limit]}


def status_history(session: Session, request: Request) -> list[dict[str, Any]]:
    """No status-history table exists: the timestamps that are recorded (created, requests
    merged into this one, shipped), oldest first."""
    events: list[dict[str, Any]] = [{"at": request.created_at, "what": "created"}]
    for slug, title, at in session.execute(
        select(Request.slug, Request.title, Request.updated_at)
        .where(Request.merged_into_id == request.id)
        .order_by(Request.updated_at)
    ):
        events.append({"at": at, "what": f"merged in: {title}", "slug": slug})
    if request.shipped_at:
        events.append({"at": request.shipped_at, "what": "shipped"})
    if request.status in ("deprioritized",):
        events.append({"at": request.updated_at, "what": request.status})
    return sorted(events, key=lambda e: e["at"])


def request_page(session: Session, request: Request) -> dict[str, Any]:
    creator = request.creator
    return {
        "id": request.id,
        "slug": request.slug,
        "title": request.title,
        "description": request.description,
        "status": request.status,
        "areas": [{"slug": a.slug, "name": a.name} for a in request.areas],
        "creator": creator.name if creator else None,
        "created_at": request.created_at,
        "shipped_at": request.shipped_at,
        "revenue": revenue_at_stake(session, request.id),
        "entries": request_entries(session, request.id),
        "followers": followers(session, request.id),
        **related_requests(session, request.id),
        "history": status_history(session, request),
    }


# ---------------------------------------------------------------------------- areas


def area_report(session: Session, slug: str, with_data: bool = True) -> dict[str, Any] | None:
    """The area and its latest stored insight report (None: unknown area). `with_data=False`
    leaves out the report's data (the chart's input, the largest column): the page does not
    read it."""
    area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).first()
    if area is None:
        return None
    query = (
        select(InsightReport)
        .where(InsightReport.area_id == area.id)
        .order_by(InsightReport.day.desc())
        .limit(1)
    )
    if not with_data:
        query = query.options(defer(InsightReport.data, raiseload=True))
    report = session.scalars(query).first()
    return {
        "area": {
            "id": area.id,
            "slug": area.slug,
            "name": area.name,
            "description": area.description,
        },
        "report": None
        if report is None
        else {
            "id": report.id,
            "day": report.day,
            "markdown": report.markdown,
            "data": report.data if with_data else None,
            "created_at": report.created_at,
        },
    }


__all__ = [
    "Moved",
    "area_report",
    "current_request",
    "followers",
    "related_requests",
    "request_entries",
    "request_page",
    "revenue_at_stake",
    "status_history",
]
