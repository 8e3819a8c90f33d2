"""What must hold after any crash and recovery, checked with SQL on the app database.

Each function returns a list of violations (empty means the invariant holds) so a failing test
names every problem at once, not just the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select

from gtm_feedback_dagster.messaging.outbox import CANCELLED, SENT
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    Follower,
    OutboxMessage,
    ProductArea,
    Request,
    RequestArea,
    RequestVector,
    SlackInbox,
)

# The one message each outcome owes the submitter.
MESSAGE_FOR = {
    "awaiting_approval": "approval_request",
    "auto": "routing_confirmation",
    "new_request": "new_request_created",
    "approved": "approval_confirmation",
}


def _dupes(pairs: Sequence[object]) -> list[object]:
    return [key for key, n in Counter(pairs).items() if n > 1]


def routing(url: str, entry_ids: Sequence[int] | None = None) -> list[str]:
    """Every entry routed exactly once, with exactly the side effects of its tier."""
    problems: list[str] = []
    with session_scope(url) as session:
        query = select(Feedback)
        if entry_ids is not None:
            query = query.where(Feedback.id.in_(list(entry_ids)))
        entries = session.scalars(query).all()
        approvals = session.execute(
            select(Approval.feedback_id, Approval.request_id, Approval.status)
        ).all()
        followers = session.execute(select(Follower.user_id, Follower.request_id)).all()
        requests = session.execute(
            select(Request.id, Request.meta, Request.created_by_routing)
        ).all()
        messages = session.execute(
            select(OutboxMessage.kind, OutboxMessage.feedback_id, OutboxMessage.dedupe_key)
        ).all()
        vectors = set(session.scalars(select(RequestVector.request_id)))
        request_areas = {r for (r,) in session.execute(select(RequestArea.request_id)).all()}

    by_feedback = Counter(a.feedback_id for a in approvals)
    problems += [f"entry {i} has {n} approvals" for i, n in by_feedback.items() if n > 1]
    problems += [f"follower {p} stored twice" for p in _dupes(list(followers))]
    problems += [f"outbox key {k} stored twice" for k in _dupes([m.dedupe_key for m in messages])]
    per_kind = Counter((m.feedback_id, m.kind) for m in messages if m.feedback_id)
    created_from = Counter(
        (meta or {}).get("from_feedback_id") for _, meta, by_routing in requests if by_routing
    )
    problems += [f"entry {i} created {n} requests" for i, n in created_from.items() if i and n > 1]
    pending_approval = {a.feedback_id for a in approvals if a.status == "pending"}
    decided_approval = {a.feedback_id for a in approvals if a.status in ("rejected", "expired")}
    follower_pairs = set(followers)
    request_ids = {r.id for r in requests}
    for entry in entries:
        where = f"entry {entry.id} ({entry.status}/{entry.match_type})"
        if entry.status in ("pending", "failed", "invalid"):
            problems.append(f"{where}: not routed ({entry.error or 'no error'})")
            continue
        outcome = "awaiting_approval" if entry.status == "awaiting_approval" else entry.match_type
        owed = MESSAGE_FOR.get(outcome or "")
        if entry.submitter_id and owed and per_kind[(entry.id, owed)] != 1:
            problems.append(f"{where}: {per_kind[(entry.id, owed)]} {owed} messages")
        if entry.status == "awaiting_approval":
            # In triage ("Not a match" / expired, GTM_FEEDBACK_DECLINE_TO=triage): decided.
            if entry.id not in pending_approval and entry.id not in decided_approval:
                problems.append(f"{where}: no pending approval and not in triage")
            continue
        if entry.request_id not in request_ids:
            problems.append(f"{where}: attached to missing request {entry.request_id}")
            continue
        if (
            entry.match_type in ("auto", "new_request", "approved")
            and entry.submitter_id
            and (entry.submitter_id, entry.request_id) not in follower_pairs
        ):
            problems.append(f"{where}: submitter does not follow request {entry.request_id}")
        if entry.match_type == "new_request":
            if created_from[entry.id] != 1:
                problems.append(f"{where}: created {created_from[entry.id]} requests")
            if entry.request_id not in vectors or entry.request_id not in request_areas:
                problems.append(f"{where}: its request has no vector or no area")
    # A request created by routing whose entry does not point at it is half of a double create.
    attached = {e.id: e.request_id for e in entries}
    for request_id, meta, by_routing in requests:
        origin = (meta or {}).get("from_feedback_id")
        if by_routing and origin in attached and attached[origin] != request_id:
            problems.append(f"request {request_id} created for entry {origin} is orphaned")
    return problems


def outbox_delivered(url: str) -> list[str]:
    """Nothing left queued, sending or failed."""
    with session_scope(url) as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.status.not_in((SENT, CANCELLED))
            )
        ).all()
    return [f"outbox #{i} is {status} ({error})" for i, status, error in rows]


def inbox_processed(url: str) -> list[str]:
    with session_scope(url) as session:
        rows = session.execute(
            select(SlackInbox.id, SlackInbox.processed_at, SlackInbox.error, SlackInbox.attempts)
        ).all()
    return [
        f"inbox #{i}: {'unprocessed' if done is None else 'error'} ({error}, {n} attempts)"
        for i, done, error, n in rows
        if done is None or error
    ]


def no_new_areas(url: str, before: int) -> list[str]:
    with session_scope(url) as session:
        now = int(session.scalar(select(func.count()).select_from(ProductArea)) or 0)
    return [] if now == before else [f"product areas went from {before} to {now}"]


def count(url: str, model: type, *where: object) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
