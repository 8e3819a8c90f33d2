"""Reminders: one DM to the creator of each request that still has no feedback entry
`reminder_delay_minutes` after creation (dedupe key `reminder:{request}`).

Each is "state change + queued messages in one transaction": the request (or entry) records that
it was announced in the same transaction that queues the messages, with dedupe keys, so a re-run
or an overlapping run never queues twice; delivery comes after (messaging/outbox.py). Plain
Python; the sensors and jobs are thin shells around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.notifications.common import NotifyReport
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, Request, utcnow

# A reminder is due once, `reminder_delay_minutes` after creation; requests older than the delay
# plus this window are left alone for the same reason.
REMINDER_WINDOW = timedelta(days=1)


def _has_feedback() -> Any:
    return exists().where(Feedback.request_id == Request.id)


def due_reminders(
    session: Session, settings: Settings, now: datetime, limit: int = 100
) -> list[int]:
    """Open requests with a creator, created between `delay + window` and `delay` ago, that
    still have no feedback entry and were not reminded yet."""
    delay = timedelta(minutes=settings.reminder_delay_minutes)
    return list(
        session.scalars(
            select(Request.id)
            .where(
                Request.creator_id.is_not(None),
                Request.status == "open",
                Request.merged_into_id.is_(None),
                Request.reminder_sent_at.is_(None),
                Request.created_at <= now - delay,
                Request.created_at >= now - delay - REMINDER_WINDOW,
                ~_has_feedback(),
            )
            .order_by(Request.id)
            .limit(limit)
        )
    )


def send_reminders(
    database_url: str, settings: Settings, request_ids: Sequence[int], now: datetime | None = None
) -> NotifyReport:
    """Per request, one transaction: re-check that it is still due (the conditions are in the
    UPDATE, so a concurrent run or a feedback entry added meanwhile wins), set reminder_sent_at
    and queue the DM to the creator."""
    now = now or utcnow()
    delay = timedelta(minutes=settings.reminder_delay_minutes)
    report = NotifyReport()
    for request_id in sorted(set(request_ids)):
        with session_scope(database_url) as session:
            claimed = session.execute(
                update(Request)
                .where(
                    Request.id == request_id,
                    Request.creator_id.is_not(None),
                    Request.status == "open",
                    Request.reminder_sent_at.is_(None),
                    Request.created_at <= now - delay,
                    Request.created_at >= now - delay - REMINDER_WINDOW,
                    ~_has_feedback(),
                )
                .values(reminder_sent_at=now)
                .execution_options(synchronize_session=False)
            )
            if (claimed.rowcount or 0) != 1:  # type: ignore[attr-defined]
                report.skipped.append(request_id)
                continue
            request = session.get(Request, request_id)
            assert request is not None and request.creator_id is not None
            text, message_blocks = blocks.reminder_message(
                settings.app_url, request.title, request.slug
            )
            key = f"reminder:{request_id}"
            enqueue(
                session,
                "reminder",
                key,
                text,
                user_id=request.creator_id,
                blocks=message_blocks,
                request_id=request_id,
            )
            report.requests.append(request_id)
            report.message_keys.append(key)
    return report
