"""The triage queue of the web pages (web/): what waits for a product owner — approvals nobody
answered, "Not a match" answers that became a new request, likely-duplicate pairs.

Pairs a product owner kept apart (`lifecycle.keep_both`, stored in both requests'
`meta["distinct_from"]`) and merged requests are left out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from gtm_feedback_dagster.core.request_graph import DEFAULT_DUPLICATE_THRESHOLD
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    Request,
    RequestRelation,
    User,
    utcnow,
)

TRIAGE_ASK_AGE = timedelta(days=1)


def _pair_kept(meta_a: dict[str, Any] | None, b_id: int) -> bool:
    return b_id in set((meta_a or {}).get("distinct_from", []))


def triage_items(
    session: Session,
    now: datetime | None = None,
    limit: int = 50,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
) -> dict[str, list[dict[str, Any]]]:
    """What waits for a product owner:
    - `entries`: entries in triage (`waiting_entries`);
    - `asks`: approvals still pending after a day (the submitter did not answer);
    - `declined`: "Not a match" answers whose entry now sits in another (new) request — a
      possible duplicate of the suggestion, to merge or keep;
    - `duplicates`: likely-duplicate pairs from the related-request graph.
    Pairs marked "keep both" and merged requests are left out."""
    now = now or utcnow()
    suggested = aliased(Request)
    submitter = aliased(User)
    asks = [
        {
            "approval_id": a.id,
            "confidence": float(a.confidence),
            "created_at": a.created_at,
            "pain": f.customer_pain,
            "submitter": (u.name or u.email) if u else None,
            "request": {"id": r.id, "slug": r.slug, "title": r.title},
        }
        for a, f, r, u in session.execute(
            select(Approval, Feedback, suggested, submitter)
            .join(Feedback, Feedback.id == Approval.feedback_id)
            .join(suggested, suggested.id == Approval.request_id)
            .outerjoin(submitter, submitter.id == Feedback.submitter_id)
            .where(Approval.status == "pending", Approval.created_at <= now - TRIAGE_ASK_AGE)
            .order_by(Approval.created_at)
            .limit(limit)
        ).all()
    ]
    current = aliased(Request)
    declined = []
    for a, f, r, c in session.execute(
        select(Approval, Feedback, suggested, current)
        .join(Feedback, Feedback.id == Approval.feedback_id)
        .join(suggested, suggested.id == Approval.request_id)
        .join(current, current.id == Feedback.request_id)
        .where(
            Approval.status == "rejected",
            current.id != suggested.id,
            current.status != "merged",
            suggested.status != "merged",
        )
        .order_by(Approval.decided_at.desc())
        .limit(limit * 2)
    ).all():
        if _pair_kept(c.meta, r.id):
            continue
        declined.append(
            {
                "approval_id": a.id,
                "confidence": float(a.confidence),
                "pain": f.customer_pain,
                "decided_at": a.decided_at,
                "suggested": {"id": r.id, "slug": r.slug, "title": r.title},
                "created": {"id": c.id, "slug": c.slug, "title": c.title},
            }
        )
    # One pass over the graph's strong edges, best first; each pair once whatever its direction.
    a_req = aliased(Request)
    b_req = aliased(Request)
    duplicates = []
    seen: set[tuple[int, int]] = set()
    for sim, a_id, a_slug, a_title, a_meta, b_id, b_slug, b_title in session.execute(
        select(
            RequestRelation.similarity,
            a_req.id,
            a_req.slug,
            a_req.title,
            a_req.meta,
            b_req.id,
            b_req.slug,
            b_req.title,
        )
        .join(a_req, a_req.id == RequestRelation.request_id)
        .join(b_req, b_req.id == RequestRelation.related_id)
        .where(
            RequestRelation.similarity >= threshold,
            a_req.status != "merged",
            b_req.status != "merged",
        )
        .order_by(RequestRelation.similarity.desc(), RequestRelation.id)
        .limit(limit * 4)
    ).all():
        # keep_both marks both requests, so one side's meta tells.
        pair = (min(a_id, b_id), max(a_id, b_id))
        if pair in seen or _pair_kept(a_meta, b_id):
            continue
        seen.add(pair)
        first, second = (
            ((a_id, a_slug, a_title), (b_id, b_slug, b_title))
            if a_id < b_id
            else ((b_id, b_slug, b_title), (a_id, a_slug, a_title))
        )
        duplicates.append(
            {
                "similarity": float(sim),
                "a": {"id": first[0], "slug": first[1], "title": first[2]},
                "b": {"id": second[0], "slug": second[1], "title": second[2]},
            }
        )
    duplicates.sort(key=lambda d: -d["similarity"])
    return {
        "entries": waiting_entries(session, limit),
        "asks": asks,
        "declined": declined[:limit],
        "duplicates": duplicates[:limit],
    }


def waiting_entries(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Entries a product owner must place (`routing/triage.py`): "Not a match" or no answer in
    time, with `GTM_FEEDBACK_DECLINE_TO=triage`. Awaiting approval with no pending approval left;
    the latest declined suggestion is shown, oldest entry first."""
    submitter = aliased(User)
    suggested = aliased(Request)
    open_ask, last = aliased(Approval), aliased(Approval)
    pending = (
        select(open_ask.id)
        .where(open_ask.feedback_id == Feedback.id, open_ask.status == "pending")
        .exists()
    )
    latest = select(func.max(last.id)).where(last.feedback_id == Feedback.id).scalar_subquery()
    rows = session.execute(
        select(Feedback, Approval, suggested, submitter)
        .select_from(Feedback)
        .join(Approval, Approval.id == latest)
        .join(suggested, suggested.id == Approval.request_id)
        .outerjoin(submitter, submitter.id == Feedback.submitter_id)
        .where(Feedback.status == "awaiting_approval", ~pending)
        .order_by(Feedback.id)
        .limit(limit)
    ).all()
    return [
        {
            "entry_id": f.id,
            "pain": f.customer_pain,
            "answer": a.status,  # rejected | expired
            "decided_at": a.decided_at,
            "confidence": float(a.confidence),
            "submitter": (u.name or u.email) if u else None,
            "request": {"id": r.id, "slug": r.slug, "title": r.title, "status": r.status},
        }
        for f, a, r, u in rows
    ]


__all__ = ["TRIAGE_ASK_AGE", "triage_items", "waiting_entries"]
