"""Applying a routing decision to one entry, in one transaction.

Every function here runs inside the caller's transaction and starts by *claiming* the entry: a
conditional `UPDATE feedback SET status=… WHERE id=… AND status='pending'`. That statement is
the state check and the lock at once — on PostgreSQL it takes the row lock and re-evaluates the
condition after a concurrent writer commits; on SQLite it takes the database write lock. When it
changes no row, another run (or an earlier attempt of this one) already routed the entry, and the
function does nothing. The follower row, approval and outbox messages are written in the same
transaction, so they exist exactly when the entry's new state does: a rerun after a crash or two
overlapping runs never attach, follow, ask or message twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import blocks, outbox
from gtm_feedback_dagster.routing.candidates import RequestInfo
from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.routing.drafting import Draft
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    Account,
    Approval,
    Feedback,
    ProductArea,
    Request,
    User,
    utcnow,
)
from gtm_feedback_dagster.store.vectors import content_hash, upsert_vectors
from gtm_feedback_dagster.vectors.base import VectorIndex

ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class EntrySnapshot:
    """What routing needs of an entry, read once at the start of the batch."""

    id: int
    pain: str
    severity: str | None
    submitter_id: int | None
    attempts: int = 0
    names: tuple[str, ...] = ()  # account and submitter names: never part of a drafted title


@dataclass(frozen=True)
class Applied:
    entry_id: int
    tier: str  # attach | ask | new | skipped
    request_id: int | None = None
    approval_id: int | None = None
    created_request: RequestInfo | None = None


def _claim(session: Session, entry_id: int, status: str, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(Feedback)
        .where(Feedback.id == entry_id, Feedback.status == "pending")
        .values(status=status, updated_at=utcnow(), error=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _routing_meta(session: Session, entry_id: int, decision: Decision, **extra: Any) -> None:
    meta = dict(session.scalar(select(Feedback.meta).where(Feedback.id == entry_id)) or {})
    meta["routing"] = {
        "method": decision.method,
        "tier": decision.tier,
        "similarity": decision.similarity,
        **decision.details,
        **extra,
    }
    session.execute(
        update(Feedback)
        .where(Feedback.id == entry_id)
        .values(meta=meta)
        .execution_options(synchronize_session=False)
    )


def apply_attach(
    session: Session,
    entry: EntrySnapshot,
    request: RequestInfo,
    decision: Decision,
    settings: Settings,
) -> Applied:
    """High confidence: the entry joins the request, the submitter follows it and is told."""
    claimed = _claim(
        session,
        entry.id,
        "routed",
        {
            "request_id": request.id,
            "match_type": "auto",
            "confidence": decision.confidence,
            "reason": decision.reason,
            "routed_at": utcnow(),
        },
    )
    if not claimed:
        return Applied(entry.id, "skipped")
    _routing_meta(session, entry.id, decision)
    if entry.submitter_id is not None:
        repo.follow(session, entry.submitter_id, request.id)
        text, message_blocks = blocks.confirmation_message(
            settings.app_url, request.title, request.slug, entry.pain, entry.severity
        )
        outbox.enqueue(
            session,
            "routing_confirmation",
            f"confirm:{entry.id}",
            text,
            user_id=entry.submitter_id,
            blocks=message_blocks,
            feedback_id=entry.id,
            request_id=request.id,
        )
    return Applied(entry.id, "attach", request_id=request.id)


def apply_ask(
    session: Session,
    entry: EntrySnapshot,
    request: RequestInfo,
    decision: Decision,
    settings: Settings,
    alternatives: Sequence[RequestInfo] = (),
) -> Applied:
    """Medium confidence: a pending approval and a DM with Approve / Not a match buttons (for
    `request`; `alternatives` are listed as links when routing was unsure which request)."""
    claimed = _claim(
        session,
        entry.id,
        "awaiting_approval",
        {"confidence": decision.confidence, "reason": decision.reason},
    )
    if not claimed:
        return Applied(entry.id, "skipped")
    _routing_meta(session, entry.id, decision, candidate_request_id=request.id)
    now = utcnow()
    repo.insert_ignore(
        session,
        Approval,
        {
            "feedback_id": entry.id,
            "request_id": request.id,
            "confidence": decision.confidence,
            "reason": decision.reason,
            "status": "pending",
            "created_at": now,
            "expires_at": now + timedelta(days=settings.approval_expiry_days),
        },
        ["feedback_id", "request_id"],
    )
    approval_id = session.scalar(
        select(Approval.id).where(
            Approval.feedback_id == entry.id, Approval.request_id == request.id
        )
    )
    assert approval_id is not None
    if entry.submitter_id is not None:
        text, message_blocks = blocks.approval_request_message(
            settings.app_url,
            approval_id,
            request.title,
            request.slug,
            entry.pain,
            entry.severity,
            other_candidates=[(a.title, a.slug) for a in alternatives],
        )
        outbox.enqueue(
            session,
            "approval_request",
            f"approval:{approval_id}",
            text,
            user_id=entry.submitter_id,
            blocks=message_blocks,
            feedback_id=entry.id,
            request_id=request.id,
            approval_id=approval_id,
        )
    return Applied(entry.id, "ask", request_id=request.id, approval_id=approval_id)


def apply_new_request(
    session: Session,
    entry: EntrySnapshot,
    draft: Draft,
    decision: Decision,
    settings: Settings,
    model_id: str,
    vector: np.ndarray,
    index: VectorIndex | None,
) -> Applied:
    """Low confidence: a new request (creator = submitter) with its vector stored, the entry
    attached to it, the submitter following and told. With `index` the vector goes into the
    serving index before commit; without, the caller upserts it (routing: once per run)."""
    if not _claim(session, entry.id, "routed", {"routed_at": utcnow()}):
        return Applied(entry.id, "skipped")
    areas = list(
        session.scalars(select(ProductArea).where(ProductArea.slug.in_(list(draft.area_slugs))))
    )
    if not areas:
        raise ValueError(f"cannot create a request: unknown product areas {list(draft.area_slugs)}")
    request = repo.create_request(
        session,
        draft.title,
        draft.description,
        areas,
        creator_id=entry.submitter_id,
        created_by_routing=True,
        meta={"drafted_by": draft.method, "from_feedback_id": entry.id},
    )
    info = RequestInfo(
        request.id,
        request.title,
        request.description,
        request.slug,
        request.status,
        tuple(sorted(a.slug for a in areas)),
    )
    row = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    upsert_vectors(
        session, model_id, [(request.id, content_hash(info.title, info.description))], row
    )
    if index is not None:
        # Into the serving index before commit: if the index is unreachable the whole entry
        # rolls back and is retried, instead of committing a request the index does not know.
        metadata = {
            "title": info.title,
            "slug": info.slug,
            "status": info.status,
            "areas": list(info.area_slugs),
        }
        index.upsert([request.id], row, [metadata])
    session.execute(
        update(Feedback)
        .where(Feedback.id == entry.id)
        .values(
            request_id=request.id,
            match_type="new_request",
            confidence=decision.confidence,
            reason=decision.reason,
        )
        .execution_options(synchronize_session=False)
    )
    _routing_meta(
        session,
        entry.id,
        decision,
        closest_request_id=decision.request_id,
        drafted_by=draft.method,
    )
    if entry.submitter_id is not None:
        repo.follow(session, entry.submitter_id, request.id)
        text, message_blocks = blocks.new_request_created_message(
            settings.app_url, info.title, info.slug, entry.pain, entry.severity
        )
        outbox.enqueue(
            session,
            "new_request_created",
            f"new_request:{entry.id}",
            text,
            user_id=entry.submitter_id,
            blocks=message_blocks,
            feedback_id=entry.id,
            request_id=request.id,
        )
    return Applied(entry.id, "new", request_id=request.id, created_request=info)


def mark_failed(session: Session, entry_id: int, error: str) -> bool:
    """A permanent problem with this entry: keep it, say why, and let the batch go on."""
    result = session.execute(
        update(Feedback)
        .where(Feedback.id == entry_id, Feedback.status == "pending")
        .values(status="failed", error=error[:ERROR_MAX_CHARS], updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def count_attempts(session: Session, entry_ids: Sequence[int]) -> None:
    """One more try for each still-pending entry (how a stuck entry is eventually given up)."""
    if entry_ids:
        session.execute(
            update(Feedback)
            .where(Feedback.id.in_(sorted(entry_ids)), Feedback.status == "pending")
            .values(attempts=Feedback.attempts + 1)
            .execution_options(synchronize_session=False)
        )


def load_pending(
    session: Session, entry_ids: Sequence[int], count_attempt: bool = True
) -> list[EntrySnapshot]:
    """The still-pending entries among `entry_ids`, in id order; optionally counts this run as
    one more routing attempt for each (how a stuck entry is eventually given up on)."""
    ids = sorted({int(i) for i in entry_ids})
    if not ids:
        return []
    if count_attempt:
        session.execute(
            update(Feedback)
            .where(Feedback.id.in_(ids), Feedback.status == "pending")
            .values(attempts=Feedback.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    rows = session.execute(
        select(
            Feedback.id,
            Feedback.customer_pain,
            Feedback.severity,
            Feedback.submitter_id,
            Feedback.attempts,
            Account.name,
            User.name,
        )
        .outerjoin(Account, Account.id == Feedback.account_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Feedback.id.in_(ids), Feedback.status == "pending")
        .order_by(Feedback.id)
    ).all()
    return [
        EntrySnapshot(r[0], r[1] or "", r[2], r[3], r[4] or 0, tuple(n for n in (r[5], r[6]) if n))
        for r in rows
    ]


def snapshot_of(session: Session, entry: Feedback) -> EntrySnapshot:
    """One entry as routing reads it, with its account and submitter names (which a drafted
    title must not contain) — for the paths that create a request outside a batch: a declined
    approval, a triage decision."""
    names = session.execute(
        select(Account.name, User.name)
        .select_from(Feedback)
        .outerjoin(Account, Account.id == Feedback.account_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Feedback.id == entry.id)
    ).first()
    return EntrySnapshot(
        entry.id,
        entry.customer_pain or "",
        entry.severity,
        entry.submitter_id,
        entry.attempts,
        tuple(n for n in (names or ()) if n),
    )


def follow_and_confirm(
    session: Session,
    app_url: str,
    entry: Feedback,
    request: Request,
    kind: str,
    key: str,
) -> None:
    """A person attached `entry` to `request` (Approve, triage): its submitter follows the
    request and gets one confirmation DM (outbox `key`: once, however often this is retried)."""
    if entry.submitter_id is None:
        return
    repo.follow(session, entry.submitter_id, request.id)
    text, message_blocks = blocks.approved_confirmation_message(
        app_url, request.title, request.slug, entry.customer_pain, entry.severity
    )
    outbox.enqueue(
        session,
        kind,
        key,
        text,
        user_id=entry.submitter_id,
        blocks=message_blocks,
        feedback_id=entry.id,
        request_id=request.id,
    )
