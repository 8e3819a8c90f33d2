"""Outbox delivery: sends the due rows of the outbox (`messaging.outbox`) through the Slack Web
API client, one at a time, with a claim lease, exponential backoff on transient errors, the
reason kept on permanent ones, and a stop on token-wide errors (`deliver_outbox`).

How a row is delivered follows from its columns (see `messaging.outbox`): a response URL answer,
a `chat.update`, an ephemeral, a DM to an app user (Slack id cached in `users.slack_user_id`,
else looked up by email), or a channel post. Plain Python, no Dagster: the jobs and the CLI call
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.messaging.outbox import (
    CANCELLED,
    FAILED,
    KIND_APPROVAL_UPDATE,
    MAX_ATTEMPTS,
    QUEUED,
    SENDING,
    SENDING_LEASE,
    SENT,
    TOKEN_ERROR_DEFER,
    approval_request_row,
    backoff,
    due_filter,
    due_ids,
)
from gtm_feedback_dagster.messaging.slack_client import SlackClient, is_slack_id
from gtm_feedback_dagster.messaging.slack_errors import SlackFailure, classify_error
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, OutboxMessage, User, utcnow


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # claimed by another sender meanwhile
    waiting: int = 0  # due but left queued: no Slack client (outbox-only mode)
    aborted: str | None = None  # token-wide error that stopped the pass
    errors: dict[int, str] = field(default_factory=dict)

    def summary(self) -> str:
        if self.waiting:
            return f"no Slack bot token: {self.waiting} message(s) wait in the outbox"
        text = (
            f"sent {len(self.sent)}, failed {len(self.failed)}, retrying {len(self.retrying)}, "
            f"cancelled {len(self.cancelled)}"
        )
        return text + (f" (stopped: {self.aborted})" if self.aborted else "")

    def metadata(self) -> dict[str, Any]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "retrying": len(self.retrying),
            "cancelled": len(self.cancelled),
            "waiting_without_token": self.waiting,
            "aborted": self.aborted or "",
        }


class PermanentDeliveryError(Exception):
    """A message that cannot be delivered as it is (unknown recipient, missing target, ...)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(f"{code}: {detail}")


class NotYetDeliverable(Exception):
    """A message that depends on another one still on its way (e.g. an edit of a DM that is
    still queued): retried later."""


@dataclass(frozen=True)
class _Plan:
    id: int
    method: str  # post | update | ephemeral | respond | cancel
    text: str
    blocks: list[dict[str, Any]] | None
    channel: str | None = None
    ts: str | None = None  # thread ts (post/ephemeral) or edited ts (update)
    user: str | None = None  # ephemeral recipient
    response_url: str | None = None
    dm_user_id: int | None = None  # app user whose Slack id is the channel
    approval_id: int | None = None
    cancel_reason: str | None = None


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """Compare-and-set: only one sender (the job that queued it, the outbox sensor's job, the
    CLI) can take a row; the claim is committed before Slack is called."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, *due_filter(now))
        .values(
            status=SENDING,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + SENDING_LEASE,
        )
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _plan(session: Session, message_id: int) -> _Plan:
    row = session.get(OutboxMessage, message_id)
    assert row is not None
    base = {"id": row.id, "text": row.text or " ", "blocks": row.blocks}
    if row.response_url:
        return _Plan(method="respond", response_url=row.response_url, **base)
    if row.kind == KIND_APPROVAL_UPDATE or row.target_ts:
        channel, ts = row.channel, row.target_ts
        if not (channel and ts) and row.approval_id is not None:
            channel, ts = _approval_message(session, row.approval_id)
        if not (channel and ts):
            raise PermanentDeliveryError("message_not_found", "the message to edit is unknown")
        return _Plan(method="update", channel=channel, ts=ts, **base)
    if row.ephemeral_user:
        return _Plan(
            method="ephemeral",
            channel=row.channel,
            user=row.ephemeral_user,
            ts=row.thread_ts,
            **base,
        )
    if row.user_id is not None:
        return _Plan(
            method="post",
            dm_user_id=row.user_id,
            ts=row.thread_ts,
            approval_id=row.approval_id,
            **base,
        )
    return _Plan(
        method="post",
        channel=_channel_ref(row.channel or ""),
        ts=row.thread_ts,
        approval_id=row.approval_id,
        **base,
    )


def _approval_message(session: Session, approval_id: int) -> tuple[str | None, str | None]:
    """Where the approval DM landed; NotYetDeliverable while it is on its way."""
    approval = session.get(Approval, approval_id)
    if approval is not None and approval.slack_channel and approval.slack_ts:
        return approval.slack_channel, approval.slack_ts
    original = approval_request_row(session, approval_id)
    if original is None:
        return None, None
    if original.status == SENT and original.slack_channel and original.slack_ts:
        return original.slack_channel, original.slack_ts
    if original.status in (QUEUED, SENDING):
        raise NotYetDeliverable(f"approval message #{original.id} is still {original.status}")
    return None, None


def _channel_ref(channel: str) -> str:
    """Ids go as they are; names get the `#` Slack expects."""
    channel = channel.strip()
    return channel if is_slack_id(channel) else "#" + channel.lstrip("#")


def _dm_channel(database_url: str, client: SlackClient, user_id: int) -> str:
    with session_scope(database_url) as session:
        user = session.get(User, user_id)
        if user is None:
            raise PermanentDeliveryError("user_not_found", f"app user #{user_id} does not exist")
        if user.slack_user_id:
            return user.slack_user_id
        email = user.email
    slack_id = client.lookup_user_id_by_email(email)
    if slack_id is None:
        raise PermanentDeliveryError(
            "users_not_found", f"no Slack user has the email of app user #{user_id}"
        )
    with session_scope(database_url) as session:
        taken = session.scalars(select(User.id).where(User.slack_user_id == slack_id)).first()
        user = session.get(User, user_id)
        if user is not None and user.slack_user_id is None and taken is None:
            user.slack_user_id = slack_id
    return slack_id


def _perform(database_url: str, client: SlackClient, plan: _Plan) -> tuple[str | None, str | None]:
    if plan.method == "respond":
        client.respond(plan.response_url or "", plan.text, plan.blocks)
        return None, None
    if plan.method == "update":
        ts = client.update_message(plan.channel or "", plan.ts or "", plan.text, plan.blocks)
        return plan.channel, ts
    if plan.method == "ephemeral":
        ts = client.post_ephemeral(
            plan.channel or "", plan.user or "", plan.text, plan.blocks, thread_ts=plan.ts
        )
        return plan.channel, ts
    channel = plan.channel
    if plan.dm_user_id is not None:
        channel = _dm_channel(database_url, client, plan.dm_user_id)
    return client.post_message(channel or "", plan.text, plan.blocks, thread_ts=plan.ts)


def _record_sent(
    database_url: str, plan: _Plan, channel: str | None, ts: str | None, now: datetime
) -> None:
    with session_scope(database_url) as session:
        row = session.get(OutboxMessage, plan.id)
        assert row is not None
        row.status = SENT
        row.slack_channel = channel
        row.slack_ts = ts
        row.sent_at = now
        row.next_attempt_at = None
        row.last_error = None
        # The approval DM: remember where it is, so the decision can edit it in place.
        if plan.method == "post" and plan.approval_id is not None and channel and ts:
            approval = session.get(Approval, plan.approval_id)
            if approval is not None and approval.slack_ts is None:
                approval.slack_channel = channel
                approval.slack_ts = ts


def _record_failure(
    database_url: str,
    message_id: int,
    failure: SlackFailure,
    detail: str,
    now: datetime,
) -> str:
    """Returns the new status."""
    with session_scope(database_url) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        row.last_error = detail[:1000]
        if failure.permanent:
            row.status = FAILED
            row.next_attempt_at = None
        elif row.attempts >= MAX_ATTEMPTS:
            row.status = FAILED
            row.next_attempt_at = None
            row.last_error = f"gave up after {row.attempts} attempts: {detail}"[:1000]
        else:
            wait = backoff(row.attempts)
            if failure.retry_after is not None:
                wait = max(wait, timedelta(seconds=failure.retry_after))
            row.status = QUEUED
            row.next_attempt_at = now + wait
        return row.status


def _defer_queue(database_url: str, now: datetime, until: datetime) -> None:
    with session_scope(database_url) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == QUEUED, *due_filter(now)[1:])
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )


def _cancel(database_url: str, message_id: int, reason: str) -> None:
    with session_scope(database_url) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        row.status = CANCELLED
        row.next_attempt_at = None
        row.last_error = reason[:1000]


def deliver_outbox(
    database_url: str,
    client: SlackClient | None,
    limit: int = 200,
    ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """Sends the due messages (all, or only `ids`), oldest first, each on its own.

    Per message: claim it (status `sending`, attempts+1, a lease in `next_attempt_at`) and
    commit; call Slack; record `slack_ts`/`sent_at` and commit. A transient error (429 after the
    client's own Retry-After retries, 5xx, network) puts it back with an exponential backoff; a
    permanent one (unknown channel/user, archived, not in channel, bad request, ...) marks it
    `failed` with the reason and the pass goes on with the next message. A token-wide error
    (invalid_auth, account_inactive, ...) fails that message and stops the pass; the rest of
    the queue is deferred, not burnt.

    Delivery is at-least-once, with the duplicate window kept as small as it can be: if the
    process dies after Slack accepted a message but before the `sent` commit, the row stays
    `sending`; once its lease expires the next pass sends it again (Slack has no idempotency
    key for chat.postMessage). A crash before the call costs nothing but an attempt. Edits
    (`chat.update`) and ephemerals are harmless to repeat.
    """
    report = DeliveryReport()
    now = now or utcnow()
    with session_scope(database_url) as session:
        candidates = due_ids(session, now, limit, ids)
    if client is None:
        report.waiting = len(candidates)
        return report
    for message_id in candidates:
        with session_scope(database_url) as session:
            claimed = _claim(session, message_id, now)
        if not claimed:
            report.skipped.append(message_id)
            continue
        try:
            with session_scope(database_url) as session:
                plan = _plan(session, message_id)
            channel, ts = _perform(database_url, client, plan)
        except NotYetDeliverable as exc:
            failure = SlackFailure("waiting_for_original", permanent=False)
            status = _record_failure(database_url, message_id, failure, str(exc), now)
            (report.failed if status == FAILED else report.retrying).append(message_id)
            continue
        except PermanentDeliveryError as exc:
            _record_failure(
                database_url, message_id, SlackFailure(exc.code, True), client.redact(str(exc)), now
            )
            report.failed.append(message_id)
            report.errors[message_id] = exc.code
            continue
        except Exception as exc:  # classified below; database errors propagate
            if _is_database_error(exc):
                raise
            failure = classify_error(exc)
            detail = client.redact(f"{failure.code}: {_short(exc)}")
            status = _record_failure(database_url, message_id, failure, detail, now)
            (report.failed if status == FAILED else report.retrying).append(message_id)
            report.errors[message_id] = failure.code
            if failure.token_wide:
                report.aborted = failure.code
                _defer_queue(database_url, now, now + TOKEN_ERROR_DEFER)
                break
            continue
        _record_sent(database_url, plan, channel, ts, now)
        report.sent.append(message_id)
    return report


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError)


def _short(exc: BaseException) -> str:
    """The useful part of an error: Slack's answer, not the request URL and headers."""
    response = getattr(exc, "response", None)
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        detail = str(data.get("error"))
        needed = data.get("needed")
        return f"{detail} (needs scope {needed})" if needed else detail
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
