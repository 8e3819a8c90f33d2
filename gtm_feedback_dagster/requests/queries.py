"""Request listings and details as plain dicts (printed as tables or JSON by the CLI, shown by
the request pages): each with its demand, counted per distinct account."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.validation import ValidationError, clamp_limit, format_iso
from gtm_feedback_dagster.messaging.blocks import request_url
from gtm_feedback_dagster.requests.lifecycle import resolve_request
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    REQUEST_STATUSES,
    Account,
    Feedback,
    Follower,
    Opportunity,
    Request,
    RequestArea,
    User,
)

__all__ = ["SORTS", "list_requests", "request_detail", "request_url"]

SORTS = ("recent", "arr", "entries")


def _demand(session: Session, request_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Per request: entries, distinct accounts and the ARR of those distinct accounts (an
    account that asked five times counts once)."""
    ids = list(request_ids)
    out: dict[int, dict[str, Any]] = {i: {"entries": 0, "accounts": 0, "arr": 0.0} for i in ids}
    if not ids:
        return out
    for request_id, entries in session.execute(
        select(Feedback.request_id, func.count(Feedback.id))
        .where(Feedback.request_id.in_(ids))
        .group_by(Feedback.request_id)
    ):
        out[request_id]["entries"] = int(entries)
    pairs = (
        select(Feedback.request_id.label("request_id"), Feedback.account_id.label("account_id"))
        .where(Feedback.request_id.in_(ids), Feedback.account_id.is_not(None))
        .distinct()
        .subquery()
    )
    for request_id, accounts, arr in session.execute(
        select(pairs.c.request_id, func.count(pairs.c.account_id), func.sum(Account.arr))
        .join(Account, Account.id == pairs.c.account_id)
        .group_by(pairs.c.request_id)
    ):
        out[request_id]["accounts"] = int(accounts)
        out[request_id]["arr"] = float(arr or 0.0)
    return out


def list_requests(
    session: Session,
    area: str | None = None,
    status: str | None = None,
    limit: int = 50,
    sort: str = "recent",
) -> list[dict[str, Any]]:
    """`sort`: recent (newest first), arr (ARR of distinct accounts) or entries; ties newest
    first."""
    if sort not in SORTS:
        raise ValidationError([f"unknown sort {sort!r}: use {'|'.join(SORTS)}"])
    query = select(Request).order_by(Request.id.desc())
    if sort == "recent":
        query = query.limit(clamp_limit(limit))
    if status is not None:
        if status not in REQUEST_STATUSES:
            raise ValidationError([f"unknown status {status!r}: use {'|'.join(REQUEST_STATUSES)}"])
        query = query.where(Request.status == status)
    if area is not None:
        area_id = repo.resolve_area(session, area).id
        query = query.where(
            Request.id.in_(select(RequestArea.request_id).where(RequestArea.area_id == area_id))
        )
    requests = list(session.scalars(query))
    demand = _demand(session, [r.id for r in requests])
    if sort != "recent":
        key = "arr" if sort == "arr" else "entries"
        requests.sort(key=lambda r: (demand[r.id][key], r.id), reverse=True)
        requests = requests[: clamp_limit(limit)]
    followers = dict(
        session.execute(
            select(Follower.request_id, func.count(Follower.id))
            .where(Follower.request_id.in_([r.id for r in requests]))
            .group_by(Follower.request_id)
        ).all()
    )
    return [
        {
            "id": r.id,
            "slug": r.slug,
            "title": r.title,
            "status": r.status,
            "areas": [a.slug for a in r.areas],
            "entries": demand[r.id]["entries"],
            "accounts": demand[r.id]["accounts"],
            "arr": demand[r.id]["arr"],
            "followers": int(followers.get(r.id, 0)),
            "created_at": format_iso(r.created_at),
        }
        for r in requests
    ]


def _entries_of(session: Session, request_id: int, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Feedback, Account.name, User.email)
        .outerjoin(Account, Account.id == Feedback.account_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Feedback.request_id == request_id)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": f.id,
            "created_at": format_iso(f.created_at),
            "severity": f.severity,
            "account": account,
            "submitter": email,
            "match_type": f.match_type,
            "text": f.customer_pain,
        }
        for f, account, email in rows
    ]


def _accounts_of(session: Session, request_id: int) -> list[dict[str, Any]]:
    ids = select(Feedback.account_id).where(
        Feedback.request_id == request_id, Feedback.account_id.is_not(None)
    )
    rows = session.execute(
        select(Account, func.count(Feedback.id))
        .join(Feedback, Feedback.account_id == Account.id)
        .where(Account.id.in_(ids), Feedback.request_id == request_id)
        .group_by(Account.id)
        .order_by(Account.arr.desc(), Account.id)
    ).all()
    return [
        {
            "id": a.id,
            "name": a.name,
            "arr": float(a.arr or 0.0),
            "enterprise": bool(a.is_enterprise),
            "segment": a.segment,
            "entries": int(n),
        }
        for a, n in rows
    ]


def _opportunities_of(session: Session, request_id: int) -> list[dict[str, Any]]:
    ids = select(Feedback.opportunity_id).where(
        Feedback.request_id == request_id, Feedback.opportunity_id.is_not(None)
    )
    rows = session.execute(
        select(Opportunity, Account.name)
        .join(Account, Account.id == Opportunity.account_id)
        .where(Opportunity.id.in_(ids))
        .order_by(Opportunity.arr.desc(), Opportunity.id)
    ).all()
    return [
        {
            "id": o.id,
            "name": o.name,
            "account": account,
            "arr": float(o.arr or 0.0),
            "stage": o.stage,
            "close_date": o.close_date.isoformat() if o.close_date else None,
        }
        for o, account in rows
    ]


def request_detail(
    session: Session, ref: str, app_url: str, entry_limit: int = 50
) -> dict[str, Any]:
    """One request with its entries (newest first, up to `entry_limit`), the distinct accounts
    asking (with ARR), the opportunities named and the followers."""
    request = resolve_request(session, ref)
    demand = _demand(session, [request.id])[request.id]
    followers = session.scalars(
        select(User)
        .join(Follower, Follower.user_id == User.id)
        .where(Follower.request_id == request.id)
        .order_by(Follower.id)
    ).all()
    by_severity = dict(
        session.execute(
            select(Feedback.severity, func.count(Feedback.id))
            .where(Feedback.request_id == request.id)
            .group_by(Feedback.severity)
        ).all()
    )
    related = (
        session.get(Request, request.related_request_id) if request.related_request_id else None
    )
    creator = request.creator
    return {
        "id": request.id,
        "slug": request.slug,
        "url": request_url(app_url, request.slug),
        "title": request.title,
        "description": request.description,
        "status": request.status,
        "areas": [{"slug": a.slug, "name": a.name} for a in request.areas],
        "creator": {"id": creator.id, "name": creator.name, "email": creator.email}
        if creator
        else None,
        "followers": [{"id": u.id, "name": u.name, "email": u.email} for u in followers],
        "entries": demand["entries"],
        "entries_by_severity": {str(k): int(v) for k, v in by_severity.items()},
        "accounts": demand["accounts"],
        "arr": demand["arr"],
        "entry_list": _entries_of(session, request.id, clamp_limit(entry_limit)),
        "account_list": _accounts_of(session, request.id),
        "opportunities": _opportunities_of(session, request.id),
        "old_slugs": list((request.meta or {}).get("old_slugs", [])),
        "related_request": {"id": related.id, "slug": related.slug, "title": related.title}
        if related
        else None,
        "external_id": request.external_id,
        "created_at": format_iso(request.created_at),
        "shipped_at": format_iso(request.shipped_at),
        "shipped_notified_at": format_iso(request.shipped_notified_at),
    }
