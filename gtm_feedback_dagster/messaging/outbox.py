"""The outbox: every Slack message is a row in the app database before it is a Slack call.

A change and the message that reports it are written in one transaction (`enqueue`, the one
way to queue a message), with a dedupe key so a retried or re-run job queues it once.
`messaging.delivery.deliver_outbox` then sends what is due. With no bot token (the embedded
default) it sends nothing and the messages wait in the outbox (`gtm-feedback outbox` shows them).
This module holds the queue itself: statuses, `enqueue`, the due queries, cancel and requeue.

How a row is delivered follows from its columns:
- `response_url` set: an ephemeral answer to a slash command / interaction (response URL);
- `target_ts` set, or kind `approval_update`: `chat.update` of an existing message;
- `ephemeral_user` set: `chat.postEphemeral` to that Slack user in `channel` (optionally a thread);
- `user_id` set: a DM — the app user's Slack id (cached in `users.slack_user_id`, else looked up
  with `users.lookupByEmail`) is the `chat.postMessage` channel;
- otherwise `chat.postMessage` to `channel` (an id, or a name such as `firehose-api`), in the
  thread `thread_ts` when set.

Statuses: queued -> sending -> sent | failed | cancelled (`sending` goes back to queued with a
backoff on a transient error). Plain Python, no Dagster: the jobs and the CLI call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.repo import insert_ignore
from gtm_feedback_dagster.store.schema import OutboxMessage, utcnow

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (QUEUED, SENDING, SENT, FAILED, CANCELLED)

KIND_APPROVAL_UPDATE = "approval_update"

# A claimed row that is still `sending` after this is taken for a crashed sender and retried.
SENDING_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
# After a token-wide error (invalid_auth, ...) the rest of the queue waits this long.
TOKEN_ERROR_DEFER = timedelta(minutes=15)
MAX_TEXT_CHARS = 39_000  # Slack truncates message text at 40k characters


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 1 h, after the n-th failed attempt."""
    return min(BASE_BACKOFF * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


# ---------------------------------------------------------------------------- queueing


def enqueue(
    session: Session,
    kind: str,
    dedupe_key: str,
    text: str,
    *,
    user_id: int | None = None,
    channel: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    target_ts: str | None = None,
    ephemeral_user: str | None = None,
    response_url: str | None = None,
    feedback_id: int | None = None,
    request_id: int | None = None,
    approval_id: int | None = None,
) -> int | None:
    """Queues a message in the caller's transaction, once per dedupe key; returns the new row id
    (None when the key was queued before). Every delivery mode: DMs, channel posts, thread
    replies, edits, ephemerals and response URLs."""
    if response_url is None:
        if ephemeral_user is not None and channel is None:
            raise ValueError("an ephemeral message needs the channel it appears in")
        if kind != KIND_APPROVAL_UPDATE and target_ts is not None and channel is None:
            raise ValueError("an edit needs the channel of the message it edits")
        if (
            ephemeral_user is None
            and target_ts is None
            and kind != KIND_APPROVAL_UPDATE
            and (user_id is None) == (channel is None)
        ):
            raise ValueError("a message goes to exactly one of user_id or channel")
    return insert_ignore(
        session,
        OutboxMessage,
        {
            "kind": kind,
            "dedupe_key": dedupe_key[:300],
            "user_id": user_id,
            "channel": channel,
            "text": text[:MAX_TEXT_CHARS],
            "blocks": blocks,
            "status": QUEUED,
            "attempts": 0,
            "thread_ts": thread_ts,
            "target_ts": target_ts,
            "ephemeral_user": ephemeral_user,
            "response_url": response_url,
            "feedback_id": feedback_id,
            "request_id": request_id,
            "approval_id": approval_id,
            "created_at": utcnow(),
        },
        ["dedupe_key"],
    )


def ids_for_keys(session: Session, dedupe_keys: Sequence[str]) -> list[int]:
    """Row ids of the given dedupe keys (whether queued now or earlier)."""
    if not dedupe_keys:
        return []
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.dedupe_key.in_(list(dedupe_keys)))
            .order_by(OutboxMessage.id)
        )
    )


def due_filter(now: datetime) -> Any:
    return (
        OutboxMessage.status.in_((QUEUED, SENDING)),
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    )


def due_ids(
    session: Session, now: datetime, limit: int = 200, ids: Sequence[int] | None = None
) -> list[int]:
    query = select(OutboxMessage.id).where(*due_filter(now))
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    return list(session.scalars(query.order_by(OutboxMessage.id).limit(limit)))


def undelivered_due(
    session: Session, now: datetime, fresh_grace: timedelta, limit: int
) -> list[tuple[int, int]]:
    """(id, attempts) of undelivered messages a retry should take, oldest first: their backoff
    has passed, or they were never tried and are older than `fresh_grace` (until then they
    belong to the job that queued them). Rows left `sending` by a crashed sender are included
    (the claim's lease is their `next_attempt_at`)."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(
            OutboxMessage.status.in_((QUEUED, SENDING)),
            or_(
                OutboxMessage.next_attempt_at <= now,
                and_(
                    OutboxMessage.next_attempt_at.is_(None),
                    OutboxMessage.created_at <= now - fresh_grace,
                ),
            ),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    return [(int(r[0]), int(r[1])) for r in rows]


def queued_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == QUEUED)
        )
        or 0
    )


def cancel_queued(session: Session, where: Any, reason: str) -> int:
    """Cancels queued messages matching `where` (in the caller's transaction), e.g. an approval
    DM decided before it was ever delivered."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == QUEUED, where)
        .values(status=CANCELLED, last_error=reason[:1000], next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def requeue(session: Session, ids: Sequence[int] | None = None) -> int:
    """Puts failed (or the given failed/cancelled) messages back in the queue with a fresh
    attempt budget, e.g. after fixing the token or inviting the bot to a channel."""
    query = update(OutboxMessage).where(OutboxMessage.status.in_((FAILED, CANCELLED)))
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    else:
        query = query.where(OutboxMessage.status == FAILED)
    result = session.execute(
        query.values(status=QUEUED, attempts=0, next_attempt_at=None).execution_options(
            synchronize_session=False
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: int(count) for status, count in rows}


def approval_request_row(session: Session, approval_id: int) -> OutboxMessage | None:
    """The outbox row of an approval's question DM (not its later in-place edits)."""
    return session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.approval_id == approval_id,
            OutboxMessage.kind != KIND_APPROVAL_UPDATE,
            OutboxMessage.user_id.is_not(None),
            OutboxMessage.target_ts.is_(None),
        )
        .order_by(OutboxMessage.id)
    ).first()
