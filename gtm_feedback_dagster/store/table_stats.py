"""Figures of the source tables (row counts, status counts, newest and last-changed times) and
the stored vectors per product area: what the Dagster shell reports as asset observations and
materializations. One aggregate query per table, so a sensor can ask every minute.

Plain Python over a caller's `Session`; every figure comes from the table's content (nothing is
the time of the call), so the same content gives the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    Follower,
    Opportunity,
    ProductArea,
    Request,
    RequestArea,
    RequestVector,
)
from gtm_feedback_dagster.store.vectors import searchable_clause


@dataclass(frozen=True)
class TableStats:
    """One source table: its rows, rows per status, and the newest row's times."""

    rows: int
    by_status: dict[str, int] = field(default_factory=dict)
    newest_id: int | None = None
    newest_created_at: datetime | None = None
    last_changed_at: datetime | None = None
    extra: dict[str, int | float] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, object]:
        """Everything above as plain JSON values, in a stable order."""
        return {
            "rows": self.rows,
            "by_status": dict(sorted(self.by_status.items())),
            "newest_id": self.newest_id,
            "newest_created_at": _iso(self.newest_created_at),
            "last_changed_at": _iso(self.last_changed_at),
            "extra": dict(sorted(self.extra.items())),
        }


def _iso(value: datetime | None) -> str | None:
    return _utc(value).isoformat() if value is not None else None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _latest(*values: datetime | None) -> datetime | None:
    present = [_utc(v) for v in values if v is not None]
    return max(present) if present else None


def _per_status(session: Session, model: type[Feedback] | type[Request]) -> TableStats:
    rows = session.execute(
        select(
            model.status,
            func.count(),
            func.max(model.id),
            func.max(model.created_at),
            func.max(model.updated_at),
        ).group_by(model.status)
    ).all()
    by_status = {str(status): int(n) for status, n, _, _, _ in rows}
    return TableStats(
        rows=sum(by_status.values()),
        by_status=by_status,
        newest_id=max((int(r[2]) for r in rows if r[2] is not None), default=None),
        newest_created_at=_latest(*(r[3] for r in rows)),
        last_changed_at=_latest(*(r[4] for r in rows)),
    )


def feedback_stats(session: Session) -> TableStats:
    """The `feedback` table, per routing status (pending, routed, awaiting_approval, …)."""
    return _per_status(session, Feedback)


def request_stats(session: Session) -> TableStats:
    """The `requests` table per status, with its follower rows."""
    stats = _per_status(session, Request)
    followers, followed_at = session.execute(
        select(func.count(), func.max(Follower.created_at)).select_from(Follower)
    ).one()
    routing = session.scalar(
        select(func.count()).select_from(Request).where(Request.created_by_routing.is_(True))
    )
    return TableStats(
        rows=stats.rows,
        by_status=stats.by_status,
        newest_id=stats.newest_id,
        newest_created_at=stats.newest_created_at,
        last_changed_at=_latest(stats.last_changed_at, followed_at),
        extra={"followers": int(followers or 0), "created_by_routing": int(routing or 0)},
    )


def account_stats(session: Session) -> TableStats:
    """The `accounts` and `opportunities` tables (the CRM data)."""
    accounts, newest_id, created, updated, enterprise, arr = session.execute(
        select(
            func.count(),
            func.max(Account.id),
            func.max(Account.created_at),
            func.max(Account.updated_at),
            func.count().filter(Account.is_enterprise.is_(True)),
            func.coalesce(func.sum(Account.arr), 0.0),
        )
    ).one()
    opportunities, opportunity_at = session.execute(
        select(func.count(), func.max(Opportunity.created_at)).select_from(Opportunity)
    ).one()
    return TableStats(
        rows=int(accounts or 0),
        newest_id=int(newest_id) if newest_id is not None else None,
        newest_created_at=_latest(created),
        last_changed_at=_latest(updated, opportunity_at),
        extra={
            "opportunities": int(opportunities or 0),
            "enterprise_accounts": int(enterprise or 0),
            "total_arr": round(float(arr or 0.0), 2),
        },
    )


def vector_counts_by_area(session: Session, model_id: str, slugs: Iterable[str]) -> dict[str, int]:
    """Stored vectors of `model_id` for the searchable requests of each area (0 when none)."""
    wanted = sorted(set(slugs))
    if not wanted:
        return {}
    rows = session.execute(
        select(ProductArea.slug, func.count(RequestVector.request_id))
        .join(RequestArea, RequestArea.area_id == ProductArea.id)
        .join(Request, Request.id == RequestArea.request_id)
        .join(RequestVector, RequestVector.request_id == Request.id)
        .where(ProductArea.slug.in_(wanted), RequestVector.model_id == model_id)
        .where(searchable_clause())
        .group_by(ProductArea.slug)
    ).all()
    found = {str(slug): int(n) for slug, n in rows}
    return {slug: found.get(slug, 0) for slug in wanted}
