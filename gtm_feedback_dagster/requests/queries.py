"""Request listings and details as plain dicts (printed as tables or JSON by the CLI, shown by
the request pages): each with its demand, counted per distinct account."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.validation import ValidationError, clamp_limit, format_iso
from gtm_feedback_dagster.messaging.blocks import request_url
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    REQUEST_STATUSES,
    Account,
    Feedback,
    Follower,
    Request,
    RequestArea,
    User,
)

__all__ = ["list_requests", "request_detail", "request_url"]


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
) -> list[dict[str, Any]]:
    query = select(Request).order_by(Request.id.desc()).limit(clamp_limit(limit))
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


def request_detail(session: Session, ref: str, app_url: str) -> dict[str, Any]:
    request = repo.resolve_request(session, ref)
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
        "related_request": {"id": related.id, "slug": related.slug, "title": related.title}
        if related
        else None,
        "external_id": request.external_id,
        "created_at": format_iso(request.created_at),
        "shipped_at": format_iso(request.shipped_at),
        "shipped_notified_at": format_iso(request.shipped_notified_at),
    }
