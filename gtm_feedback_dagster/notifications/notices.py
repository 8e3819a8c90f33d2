"""Notifications that follow from the data: shipped notices, 1-hour reminders, firehose posts.

Each is "state change + queued messages in one transaction": the request (or entry) records that
it was announced in the same transaction that queues the messages, with dedupe keys
(`shipped:{request}:{user}`, `shipped-firehose:{request}:{area}`, `reminder:{request}`,
`firehose-entry:{entry}:{area}`), so a re-run or an overlapping run never queues twice; delivery
comes after (slack/outbox.py). Plain Python; the sensors and jobs are thin shells around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    OutboxMessage,
    ProductArea,
    Request,
    RequestArea,
    User,
    utcnow,
)

# Requests shipped longer ago than this are not announced: importing history (or turning the
# sensor on for the first time) must not message every follower of every old shipped request.
SHIPPED_NOTIFY_WINDOW = timedelta(days=7)
# A reminder is due once, `reminder_delay_minutes` after creation; requests older than the delay
# plus this window are left alone for the same reason.
REMINDER_WINDOW = timedelta(days=1)
FIREHOSE_KIND = "firehose_entry"
FIREHOSE_OVERLAP = timedelta(minutes=2)
ROUTED_MATCH_TYPES = ("auto", "approved", "new_request")


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


def _firehose_areas(session: Session, request_id: int) -> list[ProductArea]:
    return list(
        session.scalars(
            select(ProductArea)
            .join(RequestArea, RequestArea.area_id == ProductArea.id)
            .where(RequestArea.request_id == request_id, ProductArea.firehose_channel.is_not(None))
            .order_by(ProductArea.id)
        )
    )


# ---------------------------------------------------------------------------- shipped


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
    for area in _firehose_areas(session, request_id):
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
        for area in _firehose_areas(session, request.id):
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


# ---------------------------------------------------------------------------- reminders


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


# ---------------------------------------------------------------------------- firehose


def routed_entries_since(
    session: Session, since: datetime, now: datetime, limit: int = 200
) -> list[tuple[int, datetime]]:
    """(id, routed_at) of entries routed by the pipeline after `since - overlap` that have no
    firehose post queued yet. The overlap catches entries whose transaction committed after a
    later one's; the dedupe keys make looking at an entry twice harmless."""
    queued = exists().where(
        OutboxMessage.feedback_id == Feedback.id, OutboxMessage.kind == FIREHOSE_KIND
    )
    rows = session.execute(
        select(Feedback.id, Feedback.routed_at)
        .where(
            Feedback.status == "routed",
            Feedback.request_id.is_not(None),
            Feedback.match_type.in_(ROUTED_MATCH_TYPES),
            Feedback.routed_at.is_not(None),
            Feedback.routed_at > since - FIREHOSE_OVERLAP,
            Feedback.routed_at <= now,
            ~queued,
        )
        .order_by(Feedback.routed_at, Feedback.id)
        .limit(limit)
    ).all()
    return [(int(r[0]), r[1]) for r in rows]


def queue_entry_firehose(session: Session, settings: Settings, entry_id: int) -> list[str]:
    """Queues the post of a routed entry to each firehose channel of its request's areas;
    returns the dedupe keys (empty when no area has a channel)."""
    row = session.execute(
        select(Feedback, Request, Account, User)
        .join(Request, Request.id == Feedback.request_id)
        .outerjoin(Account, Account.id == Feedback.account_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Feedback.id == entry_id)
    ).first()
    if row is None:
        return []
    entry, request, account, submitter = row
    areas = _firehose_areas(session, request.id)
    if not areas:
        return []
    text, message_blocks = blocks.entry_firehose_message(
        settings.app_url,
        request.title,
        request.slug,
        entry.id,
        entry.customer_pain,
        entry.severity,
        account.name if account else None,
        account.arr if account else None,
        submitter.name if submitter else None,
    )
    keys = []
    for area in areas:
        key = f"firehose-entry:{entry.id}:{area.id}"
        enqueue(
            session,
            FIREHOSE_KIND,
            key,
            text,
            channel=area.firehose_channel,
            blocks=message_blocks,
            feedback_id=entry.id,
            request_id=request.id,
        )
        keys.append(key)
    return keys
