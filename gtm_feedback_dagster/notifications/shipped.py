"""Shipped notices: one DM per follower of a newly shipped request and a post in each of its
areas' firehose channels (dedupe keys `shipped:{request}:{user}`,
`shipped-firehose:{request}:{area}`).

Each is "state change + queued messages in one transaction": the request (or entry) records that
it was announced in the same transaction that queues the messages, with dedupe keys, so a re-run
or an overlapping run never queues twice; delivery comes after (messaging/outbox.py). Plain
Python; the sensors and jobs are thin shells around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.notifications.common import NotifyReport, firehose_areas, request_arr
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, utcnow

__all__ = ["NotifyReport"]

# Requests shipped longer ago than this are not announced: importing history (or turning the
# sensor on for the first time) must not message every follower of every old shipped request.
SHIPPED_NOTIFY_WINDOW = timedelta(days=7)


@dataclass
class ShippedKeys:
    """The dedupe keys of a request's shipped notices (to deliver and count them)."""

    follower_keys: list[str] = field(default_factory=list)
    firehose_keys: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return self.follower_keys + self.firehose_keys


def shipped_keys(session: Session, request_id: int) -> ShippedKeys:
    keys = ShippedKeys()
    for user_id in repo.follower_ids(session, request_id):
        keys.follower_keys.append(f"shipped:{request_id}:{user_id}")
    for area in firehose_areas(session, request_id):
        keys.firehose_keys.append(f"shipped-firehose:{request_id}:{area.id}")
    return keys


def queue_shipped_notices(
    session: Session, request: Request, settings: Settings, now: datetime
) -> ShippedKeys | None:
    """Claims the announcement of a shipped request (shipped_notified_at) and queues one DM per
    follower and one post per firehose channel of its areas. None when it was announced
    already (or is not shipped)."""
    claimed = session.execute(
        update(Request)
        .where(
            Request.id == request.id,
            Request.status == "shipped",
            Request.shipped_notified_at.is_(None),
        )
        .values(shipped_notified_at=now)
        .execution_options(synchronize_session=False)
    )
    if (claimed.rowcount or 0) != 1:  # type: ignore[attr-defined]
        return None
    keys = shipped_keys(session, request.id)
    text, message_blocks = blocks.shipped_message(settings.app_url, request.title, request.slug)
    for key in keys.follower_keys:
        user_id = int(key.rsplit(":", 1)[1])
        enqueue(
            session,
            "shipped",
            key,
            text,
            user_id=user_id,
            blocks=message_blocks,
            request_id=request.id,
        )
    if keys.firehose_keys:
        followers = len(keys.follower_keys)
        arr = request_arr(session, request.id)
        text, message_blocks = blocks.shipped_firehose_message(
            settings.app_url, request.title, request.slug, followers, arr
        )
        for area in firehose_areas(session, request.id):
            enqueue(
                session,
                "shipped_firehose",
                f"shipped-firehose:{request.id}:{area.id}",
                text,
                channel=area.firehose_channel,
                blocks=message_blocks,
                request_id=request.id,
            )
    return keys


def due_shipped_requests(session: Session, now: datetime, limit: int = 100) -> list[int]:
    shipped_when = func.coalesce(Request.shipped_at, Request.updated_at)
    return list(
        session.scalars(
            select(Request.id)
            .where(
                Request.status == "shipped",
                Request.shipped_notified_at.is_(None),
                shipped_when >= now - SHIPPED_NOTIFY_WINDOW,
            )
            .order_by(Request.id)
            .limit(limit)
        )
    )


def notify_shipped(
    database_url: str, settings: Settings, request_ids: Sequence[int], now: datetime | None = None
) -> NotifyReport:
    """Queues the shipped notices of each request in its own transaction."""
    now = now or utcnow()
    report = NotifyReport()
    for request_id in sorted(set(request_ids)):
        with session_scope(database_url) as session:
            request = session.get(Request, request_id)
            keys = queue_shipped_notices(session, request, settings, now) if request else None
        if keys is None:
            report.skipped.append(request_id)
        else:
            report.requests.append(request_id)
            report.message_keys.extend(keys.all)
    return report
