"""Acting on the Slack inbox (plain Python; `resolve_slack_responses_job` is its Dagster shell).

Row kinds and what they do:
- Approve / Not a match on a medium-confidence DM (or `gtm-feedback approvals approve|reject`):
  approve attaches the entry to the suggested request (status routed, match type approved),
  follows it and confirms; not a match takes routing's new-request path. The DM is edited in
  place (buttons gone, the decision shown). Only the submitter may decide from Slack.
- `:gtm-feedback:` reaction: the message or its whole thread becomes a pending entry (source
  "reaction", one per thread), with an ephemeral "Taking a look..." in the thread.
- "Add Feedback" modal submission: a pending entry (source "slack", one per view), or an invalid
  one (kept, with the reason) and a DM saying why.
- `/shipped <request>`: the request is marked shipped, its followers and firehose channels are
  notified, and the command is answered with "Notified N of M followers".
Unanswered approvals expire after `approval_expiry_days` and take the new-request path.

Every row is claimed (attempt counted, lease set), handled, and closed in the transaction that
writes its effect, so a rerun never applies a row twice. A permanent problem closes the row with
the error (and tells the user when it can); a transient one (Slack 429/5xx, network, database
hiccup) leaves it for a later run with a backoff, up to `inbox.MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackClientError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import (
    Embedder,
    EmbeddingError,
    build_embedder,
    request_text,
)
from gtm_feedback_dagster.ai.llm import ChatLLM, summarize_thread
from gtm_feedback_dagster.config import Settings, load_settings
from gtm_feedback_dagster.feedback.submission import RefResolver, prepare_feedback, store_feedback
from gtm_feedback_dagster.feedback.summarize import (
    MAX_SUMMARY_CHARS,
    clean_slack_text,
    extractive_summary,
)
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import (
    KIND_APPROVAL_UPDATE,
    QUEUED,
    SENT,
    cancel_queued,
    deliver_outbox,
    enqueue,
    ids_for_keys,
)
from gtm_feedback_dagster.messaging.slack_client import SlackClient, classify_error, redact
from gtm_feedback_dagster.notifications.notices import queue_shipped_notices, shipped_keys
from gtm_feedback_dagster.routing.apply import EntrySnapshot, apply_new_request
from gtm_feedback_dagster.routing.candidates import ScoredCandidate, load_request_infos
from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.routing.drafting import draft_new_request
from gtm_feedback_dagster.routing.engine import is_transient as routing_is_transient
from gtm_feedback_dagster.routing.search import open_index
from gtm_feedback_dagster.slack import inbox
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Account,
    Approval,
    Feedback,
    OutboxMessage,
    ProductArea,
    Request,
    SlackInbox,
    User,
    utcnow,
)
from gtm_feedback_dagster.vectors.base import VectorIndex, VectorIndexError

log = logging.getLogger(__name__)

UNKNOWN_ACCOUNT_EXTERNAL_ID = "gtm-feedback:unknown-account"
UNKNOWN_ACCOUNT_NAME = "Unknown account"
REACTION_SEVERITY = "medium"
MAX_THREAD_MESSAGES = 200
_TXN_RETRIES = 3
_IGNORED_SUBTYPES = frozenset({"channel_join", "channel_leave", "channel_topic", "channel_purpose"})


# ---------------------------------------------------------------------------- plumbing


@dataclass(frozen=True)
class Reply:
    """A message to the person who acted: ephemeral through a response URL, ephemeral in a
    channel, or a DM to a Slack user."""

    text: str
    response_url: str | None = None
    channel: str | None = None
    user: str | None = None
    thread_ts: str | None = None


class InboxError(Exception):
    """A permanent problem with one row: it is closed with this message."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


@dataclass
class ResolveEnv:
    """What resolving needs. The embedder and index are only built when an approval takes the
    new-request path (loading the local model costs seconds)."""

    settings: Settings
    database_url: str
    client: SlackClient | None = None
    llm: ChatLLM | None = None
    embedder_factory: Callable[[], Embedder] | None = None
    index_opener: Callable[[Session, str, int], VectorIndex] | None = None
    _embedder: Embedder | None = field(default=None, repr=False)

    def embedder(self) -> Embedder:
        if self._embedder is None:
            factory = self.embedder_factory or (lambda: build_embedder(self.settings))
            self._embedder = factory()
        return self._embedder

    def open_index(self, session: Session, model_id: str, dim: int) -> VectorIndex:
        if self.index_opener is not None:
            return self.index_opener(session, model_id, dim)
        return open_index(self.settings, session, model_id, dim)

    def redact(self, text: str) -> str:
        return self.client.redact(text) if self.client is not None else redact(text)


@dataclass
class ResolveReport:
    processed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # closed with an error
    retrying: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # claimed elsewhere / not due
    expired: list[int] = field(default_factory=list)  # approval ids
    outcomes: dict[int, str] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return {
            "processed": len(self.processed),
            "failed": len(self.failed),
            "retrying": len(self.retrying),
            "skipped": len(self.skipped),
            "approvals_expired": len(self.expired),
            "outcomes": counts,
        }


def _queue_reply(session: Session, key: str, reply: Reply) -> None:
    if reply.response_url:
        enqueue(session, "reply", key, reply.text, response_url=reply.response_url)
    elif reply.channel and reply.user:
        enqueue(
            session,
            "reply",
            key,
            reply.text,
            channel=reply.channel,
            ephemeral_user=reply.user,
            thread_ts=reply.thread_ts,
        )
    elif reply.user:
        enqueue(session, "reply", key, reply.text, channel=reply.user)  # a DM by Slack user id


def _is_transient(exc: BaseException) -> bool:
    """Worth another attempt later: Slack rate limits/5xx/network, a database hiccup, an
    embedding or index service that is down. Everything else closes the row."""
    if isinstance(exc, InboxError | IntegrityError):
        return False
    if isinstance(exc, SQLAlchemyError):
        return routing_is_transient(exc)
    if isinstance(exc, EmbeddingError | VectorIndexError):
        return bool(getattr(exc, "retryable", False))
    if isinstance(exc, SlackClientError | OSError | TimeoutError):
        return not classify_error(exc).permanent
    return False


def _describe(exc: BaseException) -> str:
    module = type(exc).__module__ or ""
    if module.startswith("slack_sdk") or isinstance(exc, OSError):
        return f"Slack call failed: {classify_error(exc).code}"
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------- entry point


def resolve_inbox(
    env: ResolveEnv, inbox_ids: Sequence[int], now: datetime | None = None
) -> ResolveReport:
    """Processes the given inbox rows, each on its own (see the module docstring)."""
    report = ResolveReport()
    for inbox_id in sorted({int(i) for i in inbox_ids}):
        at = now or utcnow()
        with session_scope(env.database_url) as session:
            claimed = inbox.claim(session, inbox_id, at)
            row = session.get(SlackInbox, inbox_id) if claimed else None
            kind, payload = (row.kind, dict(row.payload or {})) if row else ("", {})
        if not claimed:
            report.skipped.append(inbox_id)
            continue
        try:
            outcome = _dispatch(env, inbox_id, kind, payload, at)
        except Exception as exc:
            message = env.redact(str(exc) if isinstance(exc, InboxError) else _describe(exc))
            transient = _is_transient(exc)
            if not transient and not isinstance(exc, InboxError):
                log.exception("inbox row %s failed", inbox_id)
            with session_scope(env.database_url) as session:
                retrying = transient and inbox.mark_retry(session, inbox_id, message, at)
                if not retrying:
                    if not transient:
                        inbox.mark_processed(session, inbox_id, error=message)
                    reply = exc.reply if isinstance(exc, InboxError) else None
                    if reply is None and payload.get("type") == "block_actions":
                        reply = _slack_reply(payload, blocks.APPROVAL_FAILED_TEXT)
                    if reply is not None:
                        _queue_reply(session, f"inbox-reply:{inbox_id}", reply)
            (report.retrying if retrying else report.failed).append(inbox_id)
            report.errors[inbox_id] = message
            continue
        report.processed.append(inbox_id)
        report.outcomes[inbox_id] = outcome
    return report


def _dispatch(
    env: ResolveEnv, inbox_id: int, kind: str, payload: dict[str, Any], now: datetime
) -> str:
    kind_of_payload = payload.get("type")
    if kind_of_payload == "block_actions":
        return _decide(env, inbox_id, payload, now)
    if kind_of_payload == "reaction_added":
        return _reaction(env, inbox_id, payload)
    if kind_of_payload == "view_submission":
        return _modal(env, inbox_id, payload)
    if kind_of_payload == "command":
        return _shipped(env, inbox_id, payload, now)
    if kind_of_payload == "shortcut":
        with session_scope(env.database_url) as session:
            inbox.mark_processed(session, inbox_id)
        return "shortcut"
    raise InboxError(f"unknown {kind} payload type {str(kind_of_payload)[:40]!r}")


def _slack_reply(payload: dict[str, Any], text: str) -> Reply | None:
    if payload.get("source") != "slack":
        return None
    return Reply(
        text,
        response_url=payload.get("response_url"),
        channel=payload.get("channel_id"),
        user=payload.get("user_id"),
    )


def _close(session: Session, inbox_id: int | None) -> None:
    if inbox_id is not None:
        inbox.mark_processed(session, inbox_id)


# ---------------------------------------------------------------------------- approvals


@dataclass(frozen=True)
class _ApprovalInfo:
    id: int
    status: str
    feedback_id: int
    request_id: int
    confidence: float
    reason: str | None
    entry_status: str
    submitter_id: int | None
    submitter_email: str | None
    submitter_slack_id: str | None


def _approval_info(session: Session, approval_id: int) -> _ApprovalInfo | None:
    row = session.execute(
        select(Approval, Feedback, User)
        .join(Feedback, Feedback.id == Approval.feedback_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Approval.id == approval_id)
    ).first()
    if row is None:
        return None
    approval, entry, submitter = row
    return _ApprovalInfo(
        approval.id,
        approval.status,
        entry.id,
        approval.request_id,
        float(approval.confidence),
        approval.reason,
        entry.status,
        entry.submitter_id,
        submitter.email if submitter else None,
        submitter.slack_user_id if submitter else None,
    )


def _check_submitter(env: ResolveEnv, info: _ApprovalInfo, payload: dict[str, Any]) -> str | None:
    """The clicking Slack user must be the entry's submitter (matched by cached Slack id, else
    by email through users.info). Returns a Slack id to cache on the submitter, if any."""
    clicker = payload.get("user_id")
    refuse = InboxError(
        f"Slack user {clicker} is not the submitter of approval #{info.id}",
        reply=_slack_reply(payload, blocks.NOT_SUBMITTER_TEXT),
    )
    if not clicker:
        raise refuse
    if info.submitter_slack_id:
        if info.submitter_slack_id != clicker:
            raise refuse
        return None
    if env.client is None or not info.submitter_email:
        raise refuse
    profile = env.client.user_profile(clicker)
    if profile.email is None or profile.email != info.submitter_email.lower():
        raise refuse
    return clicker


def _cas_approval(
    session: Session, approval_id: int, status: str, actor: str | None, now: datetime
) -> bool:
    result = session.execute(
        update(Approval)
        .where(Approval.id == approval_id, Approval.status == "pending")
        .values(status=status, decided_by=(actor or "")[:200] or None, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _queue_decision_update(
    session: Session,
    approval_id: int,
    status_line: str,
    channel: str | None,
    message_ts: str | None,
) -> None:
    """Edits the approval DM in place: its question plus the decision, buttons removed. A DM
    still waiting in the outbox is cancelled instead (its buttons would be stale)."""
    original = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.approval_id == approval_id,
            OutboxMessage.kind != KIND_APPROVAL_UPDATE,
            OutboxMessage.user_id.is_not(None),
            OutboxMessage.target_ts.is_(None),
        )
        .order_by(OutboxMessage.id)
    ).first()
    if original is not None and original.status == QUEUED:
        cancelled = cancel_queued(
            session,
            OutboxMessage.id == original.id,
            "superseded: the approval was decided before this message was delivered",
        )
        if cancelled:
            return
        session.refresh(original)
    approval = session.get(Approval, approval_id)
    assert approval is not None
    request = session.get(Request, approval.request_id)
    fallback = f"Add your feedback to {request.title if request else 'the suggested request'}?"
    question = blocks.first_section_text(original.blocks if original is not None else None)
    text, message_blocks = blocks.approval_decision_message(question, status_line, fallback)
    channel = channel or approval.slack_channel
    message_ts = message_ts or approval.slack_ts
    if not (channel and message_ts) and (
        original is None or original.status not in ("sending", SENT)
    ):
        return  # the DM never reached Slack: nothing to edit
    enqueue(
        session,
        KIND_APPROVAL_UPDATE,
        f"approval-update:{approval_id}",
        text,
        channel=channel,
        target_ts=message_ts if channel else None,
        blocks=message_blocks,
        approval_id=approval_id,
    )


def _decide(env: ResolveEnv, inbox_id: int, payload: dict[str, Any], now: datetime) -> str:
    try:
        approval_id = int(payload["approval_id"])
    except (KeyError, TypeError, ValueError):
        raise InboxError("approval payload without an approval id") from None
    decision = payload.get("decision")
    if decision not in ("approve", "decline"):
        raise InboxError(f"unknown approval decision {str(decision)[:20]!r}")
    with session_scope(env.database_url) as session:
        info = _approval_info(session, approval_id)
    if info is None:
        raise InboxError(f"unknown approval #{approval_id}")
    if info.status != "pending":
        with session_scope(env.database_url) as session:
            reply = _slack_reply(payload, blocks.APPROVAL_ALREADY_DECIDED_TEXT)
            if reply is not None:
                _queue_reply(session, f"inbox-reply:{inbox_id}", reply)
            _close(session, inbox_id)
        return "already_decided"
    slack_id_to_cache = None
    if payload.get("source") == "slack":
        slack_id_to_cache = _check_submitter(env, info, payload)
    actor = payload.get("user_id") or payload.get("actor") or payload.get("source")
    if decision == "approve":
        return _approve(env, inbox_id, info, actor, payload, now, slack_id_to_cache)
    return to_new_request(
        env,
        approval_id,
        "rejected",
        actor,
        blocks.DECLINED_STATUS_TEXT,
        now,
        inbox_id=inbox_id,
        channel=payload.get("channel_id"),
        message_ts=payload.get("message_ts"),
    )


def _cache_slack_id(session: Session, user_id: int | None, slack_id: str | None) -> None:
    if user_id is None or not slack_id:
        return
    taken = session.scalar(select(User.id).where(User.slack_user_id == slack_id))
    user = session.get(User, user_id)
    if user is not None and user.slack_user_id is None and taken is None:
        user.slack_user_id = slack_id


def _approve(
    env: ResolveEnv,
    inbox_id: int,
    info: _ApprovalInfo,
    actor: str | None,
    payload: dict[str, Any],
    now: datetime,
    slack_id_to_cache: str | None,
) -> str:
    with session_scope(env.database_url) as session:
        if not _cas_approval(session, info.id, "approved", actor, now):
            _close(session, inbox_id)
            return "already_decided"
        _cache_slack_id(session, info.submitter_id, slack_id_to_cache)
        attached = session.execute(
            update(Feedback)
            .where(Feedback.id == info.feedback_id, Feedback.status == "awaiting_approval")
            .values(
                status="routed",
                request_id=info.request_id,
                match_type="approved",
                confidence=info.confidence,
                reason=info.reason,
                routed_at=now,
                updated_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        if (attached.rowcount or 0) == 1 and info.submitter_id is not None:  # type: ignore[attr-defined]
            repo.follow(session, info.submitter_id, info.request_id)
            request = session.get(Request, info.request_id)
            entry = session.get(Feedback, info.feedback_id)
            assert request is not None and entry is not None
            text, message_blocks = blocks.approved_confirmation_message(
                env.settings.app_url,
                request.title,
                request.slug,
                entry.customer_pain,
                entry.severity,
            )
            enqueue(
                session,
                "approval_confirmation",
                f"approved:{info.id}",
                text,
                user_id=info.submitter_id,
                blocks=message_blocks,
                feedback_id=info.feedback_id,
                request_id=info.request_id,
            )
        _queue_decision_update(
            session,
            info.id,
            blocks.APPROVED_STATUS_TEXT,
            payload.get("channel_id"),
            payload.get("message_ts"),
        )
        _close(session, inbox_id)
    return "approved"


def _areas(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(ProductArea.slug, ProductArea.name, ProductArea.description).order_by(ProductArea.id)
    ).all()
    return [(slug, name, description or "") for slug, name, description in rows]


def to_new_request(
    env: ResolveEnv,
    approval_id: int,
    new_status: str,
    actor: str | None,
    status_line: str,
    now: datetime,
    *,
    inbox_id: int | None = None,
    channel: str | None = None,
    message_ts: str | None = None,
) -> str:
    """Not a match (or no answer in time): routing's new-request path for the entry, the approval
    closed and its DM edited — all in one transaction."""
    with session_scope(env.database_url) as session:
        info = _approval_info(session, approval_id)
        if info is None:
            raise InboxError(f"unknown approval #{approval_id}")
        entry = session.get(Feedback, info.feedback_id)
        assert entry is not None
        snapshot = EntrySnapshot(
            entry.id, entry.customer_pain or "", entry.severity, entry.submitter_id, entry.attempts
        )
        declined = load_request_infos(session, [info.request_id]).get(info.request_id)
        areas = _areas(session)
    if info.status != "pending":
        with session_scope(env.database_url) as session:
            _close(session, inbox_id)
        return "already_decided"
    needs_request = info.entry_status == "awaiting_approval" and bool(snapshot.pain.strip())
    draft = vector = embedder = None
    if needs_request:
        neighbours = [ScoredCandidate(declined, info.confidence)] if declined else []
        draft = draft_new_request(snapshot.pain, neighbours, areas, env.llm)
        embedder = env.embedder()
        vector = embedder.embed([request_text(draft.title, draft.description)])[0]
    decision = Decision(
        tier="new",
        request_id=info.request_id,
        confidence=info.confidence,
        reason=f"the submitter's answer on suggested request #{info.request_id}: {new_status}",
        method="none",
        details={"approval_id": approval_id, "approval": new_status},
    )
    for attempt in range(_TXN_RETRIES):
        try:
            with session_scope(env.database_url) as session:
                if not _cas_approval(session, approval_id, new_status, actor, now):
                    _close(session, inbox_id)
                    return "already_decided"
                if needs_request:
                    assert draft is not None and vector is not None and embedder is not None
                    # Back to pending inside this transaction, so routing's apply step (which
                    # claims pending entries) takes it; nobody else can see the interim state.
                    reopened = session.execute(
                        update(Feedback)
                        .where(Feedback.id == entry.id, Feedback.status == "awaiting_approval")
                        .values(status="pending")
                        .execution_options(synchronize_session=False)
                    )
                    if (reopened.rowcount or 0) == 1:  # type: ignore[attr-defined]
                        index = env.open_index(session, embedder.model_id, embedder.dim)
                        apply_new_request(
                            session,
                            snapshot,
                            draft,
                            decision,
                            env.settings,
                            embedder.model_id,
                            vector,
                            index,
                        )
                _queue_decision_update(session, approval_id, status_line, channel, message_ts)
                _close(session, inbox_id)
            return new_status
        except IntegrityError:
            # A concurrent run took the same request slug: redo with a fresh read.
            if attempt == _TXN_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def due_expired_approvals(
    session: Session, settings: Settings, now: datetime, limit: int = 100
) -> list[int]:
    cutoff = now - timedelta(days=settings.approval_expiry_days)
    return list(
        session.scalars(
            select(Approval.id)
            .where(
                Approval.status == "pending",
                or_(
                    Approval.expires_at <= now,
                    (Approval.expires_at.is_(None)) & (Approval.created_at <= cutoff),
                ),
            )
            .order_by(Approval.id)
            .limit(limit)
        )
    )


def expire_approvals(
    env: ResolveEnv,
    approval_ids: Sequence[int],
    now: datetime | None = None,
    report: ResolveReport | None = None,
) -> list[int]:
    """Pending approvals past their expiry take the new-request path (status expired)."""
    now = now or utcnow()
    expired: list[int] = []
    with session_scope(env.database_url) as session:
        due = set(due_expired_approvals(session, env.settings, now, limit=10_000))
    for approval_id in sorted(set(approval_ids) & due):
        outcome = to_new_request(
            env, approval_id, "expired", "expiry", blocks.EXPIRED_STATUS_TEXT, now
        )
        if outcome == "expired":
            expired.append(approval_id)
    if report is not None:
        report.expired.extend(expired)
    return expired


# ---------------------------------------------------------------------------- reactions


def default_account_id(session: Session) -> int:
    """The account of reaction-captured feedback (a reaction carries none): the account named
    by GTM_FEEDBACK_DEFAULT_ACCOUNT, else an "Unknown account" (ARR 0) created on demand, so
    the entry counts as demand without inventing revenue; it can be re-assigned later."""
    ref = load_settings().default_account
    if ref:
        try:
            return repo.resolve_account(session, ref).id
        except repo.NotFoundError:
            log.warning(
                "GTM_FEEDBACK_DEFAULT_ACCOUNT %r is unknown; using %r", ref, UNKNOWN_ACCOUNT_NAME
            )
    repo.insert_ignore(
        session,
        Account,
        {
            "external_id": UNKNOWN_ACCOUNT_EXTERNAL_ID,
            "name": UNKNOWN_ACCOUNT_NAME,
            "arr": 0.0,
            "is_enterprise": False,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        ["external_id"],
    )
    account_id = session.scalar(
        select(Account.id).where(Account.external_id == UNKNOWN_ACCOUNT_EXTERNAL_ID)
    )
    assert account_id is not None
    return int(account_id)


def _thread_messages(
    client: SlackClient, channel: str, ts: str
) -> tuple[list[dict[str, Any]], str]:
    """The reacted message's whole thread (or the message alone) and the thread's root ts."""
    try:
        messages = client.replies(channel, ts, MAX_THREAD_MESSAGES)
    except Exception as exc:
        if classify_error(exc).code != "not_in_channel":
            raise
        client.join_channel(channel)  # public channels: channels:join, then read
        messages = client.replies(channel, ts, MAX_THREAD_MESSAGES)
    target = next((m for m in messages if m.get("ts") == ts), messages[0] if messages else None)
    if target is None:
        raise InboxError(f"message {ts} in {channel} was not found")
    root = target.get("thread_ts") if isinstance(target.get("thread_ts"), str) else None
    root = root or ts
    if root != ts and not any(m.get("ts") == root for m in messages):
        # A reply: Slack answers with the reply only; fetch the whole thread from its root.
        messages = client.replies(channel, root, MAX_THREAD_MESSAGES)
    return messages, root


def _reaction(env: ResolveEnv, inbox_id: int, payload: dict[str, Any]) -> str:
    client = env.client
    if client is None:
        raise InboxError("SLACK_BOT_TOKEN is not set: cannot read the reacted message")
    channel, ts, user_id = payload["channel_id"], payload["message_ts"], payload["user_id"]
    messages, root = _thread_messages(client, channel, ts)
    texts = [
        m["text"]
        for m in messages
        if isinstance(m.get("text"), str) and m.get("subtype") not in _IGNORED_SUBTYPES
    ]
    pain, method = None, "extractive"
    if env.llm is not None:
        # Cleaned first: Slack markup (user ids, links, emoji codes) is noise to the model.
        pain = summarize_thread(env.llm, [clean_slack_text(t) for t in texts])
        method = "llm" if pain else method
    if not pain:
        pain = extractive_summary(texts, MAX_SUMMARY_CHARS)
    pain = (pain or "").strip()[: env.settings.max_text_chars]
    if not pain:
        raise InboxError(
            "the reacted message has no text to take as feedback",
            reply=Reply(
                "There is no text in that message to file as feedback.",
                channel=channel,
                user=user_id,
                thread_ts=root,
            ),
        )
    profile = client.user_profile(user_id)
    if profile.email is None:
        raise InboxError(
            f"Slack user {user_id} has no visible email (the app needs users:read.email)",
            reply=Reply(
                "I could not read your email address, so I cannot file this feedback for you.",
                channel=channel,
                user=user_id,
                thread_ts=root,
            ),
        )
    permalink = client.permalink(channel, root)
    with session_scope(env.database_url) as session:
        user = repo.get_or_create_user(session, profile.email, profile.name, user_id)
        _cache_slack_id(session, user.id, user_id)
        entry, created = repo.add_feedback(
            session,
            {
                "source": "reaction",
                "external_id": f"{channel}:{root}",
                "customer_pain": pain,
                "severity": REACTION_SEVERITY,
                "account_id": default_account_id(session),
                "submitter_id": user.id,
                "links": [permalink] if permalink else [],
                "meta": {
                    "slack": {
                        "channel": channel,
                        "message_ts": ts,
                        "thread_ts": root,
                        "reacted_by": user_id,
                        "messages": len(texts),
                    },
                    "summary_method": method,
                },
            },
        )
        if created:
            enqueue(
                session,
                "reaction_ack",
                f"reaction-ack:{channel}:{root}",
                blocks.REACTION_ACK_TEXT,
                channel=channel,
                ephemeral_user=user_id,
                thread_ts=root,
                feedback_id=entry.id,
            )
        else:
            enqueue(
                session,
                "reaction_ack",
                f"reaction-dup:{channel}:{root}:{user_id}",
                blocks.REACTION_DUPLICATE_TEXT,
                channel=channel,
                ephemeral_user=user_id,
                thread_ts=root,
                feedback_id=entry.id,
            )
        _close(session, inbox_id)
    return "reaction_captured" if created else "reaction_duplicate"


# ---------------------------------------------------------------------------- modal


def _modal(env: ResolveEnv, inbox_id: int, payload: dict[str, Any]) -> str:
    client = env.client
    user_id = payload["user_id"]
    if client is None:
        raise InboxError("SLACK_BOT_TOKEN is not set: cannot resolve the submitting Slack user")
    profile = client.user_profile(user_id)
    if profile.email is None:
        raise InboxError(
            f"Slack user {user_id} has no visible email (the app needs users:read.email)",
            reply=Reply(
                blocks.feedback_invalid_text("your Slack profile shows no email address"),
                user=user_id,
            ),
        )
    with session_scope(env.database_url) as session:
        user = repo.get_or_create_user(session, profile.email, profile.name, user_id)
        _cache_slack_id(session, user.id, user_id)
        record = {
            "customer_pain": payload.get("customer_pain"),
            "severity": payload.get("severity"),
            "account": payload.get("account"),
            "opportunity": payload.get("opportunity"),
            "links": payload.get("links") or [],
            "submitter": str(user.id),
        }
        prepared = prepare_feedback(
            record, RefResolver(session), max_chars=env.settings.max_text_chars
        )
        stored = store_feedback(
            session,
            prepared,
            source="slack",
            external_id=payload["view_id"],
            raw=record,
            meta={"slack": {"user_id": user_id, "view_id": payload["view_id"]}},
        )
        if stored.outcome == "invalid":
            enqueue(
                session,
                "feedback_invalid",
                f"view-invalid:{payload['view_id']}",
                blocks.feedback_invalid_text("; ".join(stored.problems)),
                user_id=user.id,
                feedback_id=stored.id,
            )
        _close(session, inbox_id)
    return "modal_invalid" if stored.outcome == "invalid" else "modal_entry"


# ---------------------------------------------------------------------------- /shipped


def _shipped(env: ResolveEnv, inbox_id: int, payload: dict[str, Any], now: datetime) -> str:
    """Marks the request shipped and queues its notices (one transaction, remembering which
    command did it), delivers them, then answers with the count of followers reached. A rerun
    after a crash resumes: the command that shipped the request is recognised and counted."""
    reply = Reply(
        "",
        response_url=payload.get("response_url"),
        channel=payload.get("channel_id"),
        user=payload.get("user_id"),
    )
    slug = payload.get("slug")
    with session_scope(env.database_url) as session:
        request = (
            session.scalars(select(Request).where(Request.slug == slug)).first() if slug else None
        )
        if request is None:
            text = blocks.invalid_shipped_url_text(env.settings.app_url)
            _queue_reply(
                session,
                f"command-response:{inbox_id}",
                Reply(text, reply.response_url, reply.channel, reply.user),
            )
            _close(session, inbox_id)
            return "shipped_unknown_request"
        meta = dict(request.meta or {})
        ours = meta.get("shipped_by_inbox_id") == inbox_id
        if request.status == "shipped" and not ours:
            text = blocks.already_shipped_text(request.title)
            _queue_reply(
                session,
                f"command-response:{inbox_id}",
                Reply(text, reply.response_url, reply.channel, reply.user),
            )
            _close(session, inbox_id)
            return "already_shipped"
        if request.status != "shipped":
            request.status = "shipped"
            request.shipped_at = now
            request.updated_at = now
            request.meta = {
                **meta,
                "shipped_by_inbox_id": inbox_id,
                "shipped_by_slack_user": payload.get("user_id"),
            }
            session.flush()
        queue_shipped_notices(session, request, env.settings, now)
        keys = shipped_keys(session, request.id)
        request_id, title = request.id, request.title
    with session_scope(env.database_url) as session:
        message_ids = ids_for_keys(session, keys.all)
    deliver_outbox(env.database_url, env.client, ids=message_ids)
    with session_scope(env.database_url) as session:
        follower_rows = session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.dedupe_key.in_(keys.follower_keys))
        ).all()
        notified = sum(1 for status in follower_rows if status == SENT)
        text = blocks.shipped_result_text(title, notified, len(keys.follower_keys))
        _queue_reply(
            session,
            f"command-response:{inbox_id}",
            Reply(text, reply.response_url, reply.channel, reply.user),
        )
        _close(session, inbox_id)
    log.info("request %s shipped via /shipped: %s", request_id, text)
    return "shipped"
