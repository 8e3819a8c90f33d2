"""Read-only questions about feedback entries, for the Dagster sensors and the CLI."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.schema import Feedback


def pending_ids_after(session: Session, after_id: int, limit: int) -> list[int]:
    """Ids of pending entries above `after_id` (new since a cursor), oldest first."""
    return list(
        session.scalars(
            select(Feedback.id)
            .where(Feedback.status == "pending", Feedback.id > after_id)
            .order_by(Feedback.id)
            .limit(limit)
        )
    )


def pending_ids_up_to(session: Session, up_to_id: int, limit: int) -> list[int]:
    """Ids of pending entries at or below `up_to_id` (left behind a cursor), oldest first."""
    return list(
        session.scalars(
            select(Feedback.id)
            .where(Feedback.status == "pending", Feedback.id <= up_to_id)
            .order_by(Feedback.id)
            .limit(limit)
        )
    )
