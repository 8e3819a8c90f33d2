"""What the notifications share: the report of a queueing run, a request's ARR and the firehose
channels of its areas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.schema import Account, Feedback, ProductArea, RequestArea


@dataclass
class NotifyReport:
    requests: list[int] = field(default_factory=list)  # requests that got messages queued
    skipped: list[int] = field(default_factory=list)  # already done / no longer due
    message_keys: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "requests": len(self.requests),
            "skipped": len(self.skipped),
            "messages_queued": len(self.message_keys),
        }


def request_arr(session: Session, request_id: int) -> float:
    """Σ ARR of the distinct accounts with feedback on the request (the reference's rule)."""
    accounts = (
        select(Feedback.account_id)
        .where(Feedback.request_id == request_id, Feedback.account_id.is_not(None))
        .distinct()
        .subquery()
    )
    total = session.scalar(
        select(func.coalesce(func.sum(Account.arr), 0.0)).where(
            Account.id.in_(select(accounts.c.account_id))
        )
    )
    return float(total or 0.0)


def firehose_areas(session: Session, request_id: int) -> list[ProductArea]:
    return list(
        session.scalars(
            select(ProductArea)
            .join(RequestArea, RequestArea.area_id == ProductArea.id)
            .where(RequestArea.request_id == request_id, ProductArea.firehose_channel.is_not(None))
            .order_by(ProductArea.id)
        )
    )
