"""Listings and details of the catalogue for the management commands: areas, accounts, users,
as plain dicts (printed as tables or JSON by the CLI)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.validation import clamp_limit
from gtm_feedback_dagster.messaging.blocks import request_url
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    Opportunity,
    ProductArea,
    Request,
    RequestArea,
    User,
)


def list_areas(session: Session) -> list[dict[str, Any]]:
    counts = dict(
        session.execute(
            select(RequestArea.area_id, func.count(RequestArea.request_id))
            .join(Request, Request.id == RequestArea.request_id)
            .where(Request.status == "open")
            .group_by(RequestArea.area_id)
        ).all()
    )
    return [
        {
            "id": a.id,
            "slug": a.slug,
            "name": a.name,
            "firehose_channel": a.firehose_channel,
            "open_requests": int(counts.get(a.id, 0)),
            "description": a.description,
        }
        for a in session.scalars(select(ProductArea).order_by(ProductArea.slug))
    ]


def list_accounts(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    entries = dict(
        session.execute(
            select(Feedback.account_id, func.count(Feedback.id)).group_by(Feedback.account_id)
        ).all()
    )
    requests = dict(
        session.execute(
            select(Feedback.account_id, func.count(distinct(Feedback.request_id)))
            .where(Feedback.request_id.is_not(None))
            .group_by(Feedback.account_id)
        ).all()
    )
    return [
        {
            "id": a.id,
            "external_id": a.external_id,
            "name": a.name,
            "arr": a.arr,
            "enterprise": a.is_enterprise,
            "region": a.region,
            "entries": int(entries.get(a.id, 0)),
            "requests": int(requests.get(a.id, 0)),
        }
        for a in session.scalars(
            select(Account).order_by(Account.arr.desc(), Account.name).limit(clamp_limit(limit))
        )
    ]


def account_detail(session: Session, ref: str, app_url: str) -> dict[str, Any]:
    account = repo.resolve_account(session, ref)
    opportunities = session.scalars(
        select(Opportunity).where(Opportunity.account_id == account.id).order_by(Opportunity.id)
    ).all()
    requests = session.execute(
        select(Request, func.count(Feedback.id), func.max(Feedback.severity))
        .join(Feedback, Feedback.request_id == Request.id)
        .where(Feedback.account_id == account.id)
        .group_by(Request.id)
        .order_by(func.count(Feedback.id).desc(), Request.id)
    ).all()
    by_status = dict(
        session.execute(
            select(Feedback.status, func.count(Feedback.id))
            .where(Feedback.account_id == account.id)
            .group_by(Feedback.status)
        ).all()
    )
    return {
        "id": account.id,
        "external_id": account.external_id,
        "name": account.name,
        "domain": account.domain,
        "type": account.type,
        "arr": account.arr,
        "enterprise": account.is_enterprise,
        "region": account.region,
        "industry": account.industry,
        "territory": account.territory,
        "segment": account.segment,
        "sub_segment": account.sub_segment,
        "opportunities": [
            {
                "id": o.id,
                "external_id": o.external_id,
                "name": o.name,
                "arr": o.arr,
                "stage": o.stage,
                "close_date": o.close_date.isoformat() if o.close_date else None,
            }
            for o in opportunities
        ],
        "entries_by_status": {str(k): int(v) for k, v in by_status.items()},
        "requests": [
            {
                "id": r.id,
                "slug": r.slug,
                "title": r.title,
                "status": r.status,
                "entries": int(n),
                "url": request_url(app_url, r.slug),
            }
            for r, n, _ in requests
        ],
    }


def list_users(session: Session) -> list[dict[str, Any]]:
    entries = dict(
        session.execute(
            select(Feedback.submitter_id, func.count(Feedback.id)).group_by(Feedback.submitter_id)
        ).all()
    )
    return [
        {
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "slack_user_id": u.slack_user_id,
            "admin": u.is_admin,
            "entries": int(entries.get(u.id, 0)),
        }
        for u in session.scalars(select(User).order_by(User.id))
    ]
