"""Approval decisions: Approve / Not a match on a medium-confidence DM (or `gtm-feedback
approvals approve|reject`), and the expiry of unanswered approvals.

Approve attaches the entry to the suggested request (status routed, match type approved),
follows it and confirms; not a match (and expiry after `approval_expiry_days`) sends the entry
to triage (`routing/triage.py`), or with `GTM_FEEDBACK_DECLINE_TO=new_request` takes routing's
new-request path. The DM is edited in place (buttons gone, the decision shown). Only the
submitter may decide from Slack. Each decision is written in one transaction, which also closes
the inbox row that asked for it (`done`), so a rerun never applies it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.text import request_text
from gtm_feedback_dagster.feedback.capture import cache_slack_id
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.blocks import DECLINED_TRIAGE_TEXT, EXPIRED_TRIAGE_TEXT
from gtm_feedback_dagster.messaging.digest import queue_digest_update
from gtm_feedback_dagster.messaging.outbox import (
    KIND_APPROVAL_UPDATE,
    QUEUED,
    SENT,
    approval_request_row,
    cancel_queued,
    enqueue,
)
from gtm_feedback_dagster.messaging.replies import Done, InboxError, queue_reply, slack_reply
from gtm_feedback_dagster.routing.apply import apply_new_request, follow_and_confirm, snapshot_of
from gtm_feedback_dagster.routing.candidates import ScoredCandidate, load_request_infos
from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.routing.drafting import draft_new_request
from gtm_feedback_dagster.routing.triage import notify_owner
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    OutboxMessage,
    ProductArea,
    Request,
    User,
    utcnow,
)

_TXN_RETRIES = 3


def _finish(session: Session, done: Done | None) -> None:
    if done is not None:
        done(session)


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


def _check_submitter(rt: Runtime, info: _ApprovalInfo, payload: dict[str, Any]) -> str | None:
    """The clicking Slack user must be the entry's submitter (matched by cached Slack id, else
    by email through users.info). Returns a Slack id to cache on the submitter, if any."""
    clicker = payload.get("user_id")
    refuse = InboxError(
        f"Slack user {clicker} is not the submitter of approval #{info.id}",
        reply=slack_reply(payload, blocks.NOT_SUBMITTER_TEXT),
    )
    if not clicker:
        raise refuse
    if info.submitter_slack_id:
        if info.submitter_slack_id != clicker:
            raise refuse
        return None
    if rt.slack is None or not info.submitter_email:
        raise refuse
    profile = rt.slack.user_profile(clicker)
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
    queue_digest_update(session, approval_id, status_line)  # asked in a digest DM, if it was
    original = approval_request_row(session, approval_id)
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


def decide(rt: Runtime, inbox_id: int, payload: dict[str, Any], now: datetime, done: Done) -> str:
    """An Approve / Not a match answer (from Slack or the CLI) on a pending approval."""
    try:
        approval_id = int(payload["approval_id"])
    except (KeyError, TypeError, ValueError):
        raise InboxError("approval payload without an approval id") from None
    decision = payload.get("decision")
    if decision not in ("approve", "decline"):
        raise InboxError(f"unknown approval decision {str(decision)[:20]!r}")
    with rt.session() as session:
        info = _approval_info(session, approval_id)
    if info is None:
        raise InboxError(f"unknown approval #{approval_id}")
    if info.status != "pending":
        with rt.session() as session:
            reply = slack_reply(payload, blocks.APPROVAL_ALREADY_DECIDED_TEXT)
            if reply is not None:
                queue_reply(session, f"inbox-reply:{inbox_id}", reply)
            done(session)
        return "already_decided"
    slack_id_to_cache = None
    if payload.get("source") == "slack":
        slack_id_to_cache = _check_submitter(rt, info, payload)
    actor = payload.get("user_id") or payload.get("actor") or payload.get("source")
    if decision == "approve":
        return _approve(rt, done, info, actor, payload, now, slack_id_to_cache)
    return to_new_request(
        rt,
        approval_id,
        "rejected",
        actor,
        blocks.DECLINED_STATUS_TEXT,
        now,
        done=done,
        channel=payload.get("channel_id"),
        message_ts=payload.get("message_ts"),
    )


def _approve(
    rt: Runtime,
    done: Done,
    info: _ApprovalInfo,
    actor: str | None,
    payload: dict[str, Any],
    now: datetime,
    slack_id_to_cache: str | None,
) -> str:
    with rt.session() as session:
        if not _cas_approval(session, info.id, "approved", actor, now):
            done(session)
            return "already_decided"
        cache_slack_id(session, info.submitter_id, slack_id_to_cache)
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
        if (attached.rowcount or 0) == 1:  # type: ignore[attr-defined]
            request = session.get(Request, info.request_id)
            entry = session.get(Feedback, info.feedback_id)
            assert request is not None and entry is not None
            follow_and_confirm(
                session,
                rt.settings.app_url,
                entry,
                request,
                "approval_confirmation",
                f"approved:{info.id}",
            )
        _queue_decision_update(
            session,
            info.id,
            blocks.APPROVED_STATUS_TEXT,
            payload.get("channel_id"),
            payload.get("message_ts"),
        )
        done(session)
    return "approved"


def _areas(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(ProductArea.slug, ProductArea.name, ProductArea.description).order_by(ProductArea.id)
    ).all()
    return [(slug, name, description or "") for slug, name, description in rows]


def to_new_request(
    rt: Runtime,
    approval_id: int,
    new_status: str,
    actor: str | None,
    status_line: str,
    now: datetime,
    *,
    done: Done | None = None,
    channel: str | None = None,
    message_ts: str | None = None,
) -> str:
    """Not a match (or no answer in time): routing's new-request path for the entry, the approval
    closed and its DM edited — all in one transaction."""
    with rt.session() as session:
        info = _approval_info(session, approval_id)
        if info is None:
            raise InboxError(f"unknown approval #{approval_id}")
        entry = session.get(Feedback, info.feedback_id)
        assert entry is not None
        snapshot = snapshot_of(session, entry)
        declined = load_request_infos(session, [info.request_id]).get(info.request_id)
        areas = _areas(session)
    if info.status != "pending":
        with rt.session() as session:
            _finish(session, done)
        return "already_decided"
    if rt.settings.decline_to == "triage":  # the area's product owner decides (routing/triage)
        with rt.session() as session:
            if _cas_approval(session, approval_id, new_status, actor, now):
                line = DECLINED_TRIAGE_TEXT if new_status == "rejected" else EXPIRED_TRIAGE_TEXT
                _queue_decision_update(session, approval_id, line, channel, message_ts)
                notify_owner(session, rt.settings, info.request_id, now)
            else:
                new_status = "already_decided"
            _finish(session, done)
        return new_status
    needs_request = info.entry_status == "awaiting_approval" and bool(snapshot.pain.strip())
    draft = vector = embedder = None
    if needs_request:
        neighbours = [ScoredCandidate(declined, info.confidence)] if declined else []
        draft = draft_new_request(snapshot.pain, neighbours, areas, rt.llm, names=snapshot.names)
        embedder = rt.embedder
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
            with rt.session() as session:
                if not _cas_approval(session, approval_id, new_status, actor, now):
                    _finish(session, done)
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
                        index = rt.vector_index(session, embedder.model_id, embedder.dim)
                        apply_new_request(
                            session,
                            snapshot,
                            draft,
                            decision,
                            rt.settings,
                            embedder.model_id,
                            vector,
                            index,
                        )
                _queue_decision_update(session, approval_id, status_line, channel, message_ts)
                _finish(session, done)
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
    rt: Runtime,
    approval_ids: Sequence[int],
    now: datetime | None = None,
) -> list[int]:
    """Pending approvals past their expiry take the new-request path (status expired)."""
    now = now or utcnow()
    expired: list[int] = []
    with rt.session() as session:
        due = set(due_expired_approvals(session, rt.settings, now, limit=10_000))
    for approval_id in sorted(set(approval_ids) & due):
        outcome = to_new_request(
            rt, approval_id, "expired", "expiry", blocks.EXPIRED_STATUS_TEXT, now
        )
        if outcome == "expired":
            expired.append(approval_id)
    return expired
