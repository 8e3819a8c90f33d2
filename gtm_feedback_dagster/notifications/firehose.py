"""Firehose posts: each routed entry posted once in the firehose channel of each area of its
request (dedupe key `firehose-entry:{entry}:{area}`).

Each is "state change + queued messages in one transaction": the request (or entry) records that
it was announced in the same transaction that queues the messages, with dedupe keys, so a re-run
or an overlapping run never queues twice; delivery comes after (messaging/outbox.py). Plain
Python; the sensors and jobs are thin shells around it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.notifications.common import firehose_areas
from gtm_feedback_dagster.store.schema import Account, Feedback, OutboxMessage, Request, User

FIREHOSE_KIND = "firehose_entry"
FIREHOSE_OVERLAP = timedelta(minutes=2)
ROUTED_MATCH_TYPES = ("auto", "approved", "new_request")


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
    areas = firehose_areas(session, request.id)
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
