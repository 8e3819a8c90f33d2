"""The Slack inbox: verified payloads (events, button clicks, modal submissions, slash commands,
and the CLI's offline equivalents) waiting to be acted on.

The intake service only stores a row (`store_inbox`, idempotent by dedupe key, so Slack's
retries and double clicks are dropped) and answers; `resolve_slack_responses_job` processes rows.
A row is worked on by one process at a time: `claim` is a compare-and-set that counts the attempt
and sets a lease in `next_attempt_at`; a crashed run's rows come back when the lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.repo import insert_ignore
from gtm_feedback_dagster.store.schema import SlackInbox, utcnow

KINDS = ("event", "interaction", "command", "cli")
CLAIM_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
BASE_BACKOFF = timedelta(seconds=30)


def store_inbox(
    session: Session,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    *,
    processed: bool = False,
    error: str | None = None,
) -> int | None:
    """Stores a payload once per dedupe key; returns the new id, None for a duplicate."""
    if kind not in KINDS:
        raise ValueError(f"unknown inbox kind {kind!r}")
    now = utcnow()
    return insert_ignore(
        session,
        SlackInbox,
        {
            "kind": kind,
            "dedupe_key": dedupe_key[:300],
            "payload": payload,
            "received_at": now,
            "processed_at": now if processed else None,
            "attempts": 0,
            "error": error,
        },
        ["dedupe_key"],
    )


def due_filter(now: datetime) -> tuple[Any, ...]:
    return (
        SlackInbox.processed_at.is_(None),
        SlackInbox.attempts < MAX_ATTEMPTS,
        or_(SlackInbox.next_attempt_at.is_(None), SlackInbox.next_attempt_at <= now),
    )


def due_rows(session: Session, now: datetime, limit: int) -> list[tuple[int, int, datetime]]:
    """(id, attempts, received_at) of rows waiting to be processed, oldest first."""
    rows = session.execute(
        select(SlackInbox.id, SlackInbox.attempts, SlackInbox.received_at)
        .where(*due_filter(now))
        .order_by(SlackInbox.id)
        .limit(limit)
    ).all()
    return [(int(r[0]), int(r[1]), r[2]) for r in rows]


def claim(session: Session, inbox_id: int, now: datetime) -> bool:
    result = session.execute(
        update(SlackInbox)
        .where(SlackInbox.id == inbox_id, *due_filter(now))
        .values(attempts=SlackInbox.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def mark_processed(session: Session, inbox_id: int, error: str | None = None) -> None:
    row = session.get(SlackInbox, inbox_id)
    if row is not None:
        row.processed_at = utcnow()
        row.next_attempt_at = None
        row.error = error[:2000] if error else None


def mark_retry(session: Session, inbox_id: int, error: str, now: datetime) -> bool:
    """Records a transient failure; returns False (and closes the row) when attempts ran out."""
    row = session.get(SlackInbox, inbox_id)
    if row is None:
        return False
    if row.attempts >= MAX_ATTEMPTS:
        row.processed_at = now
        row.next_attempt_at = None
        row.error = f"gave up after {row.attempts} attempts: {error}"[:2000]
        return False
    row.error = error[:2000]
    row.next_attempt_at = now + BASE_BACKOFF * (2 ** max(0, row.attempts - 1))
    return True


def load(session: Session, ids: Sequence[int]) -> list[SlackInbox]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(SlackInbox).where(SlackInbox.id.in_(list(ids))).order_by(SlackInbox.id)
        )
    )
