"""Merging a duplicate request into another, and listing duplicate candidates.

A merge is one transaction: entries and followers move to the surviving request (a follower of
both is kept once), the duplicate is marked `merged` with `merged_into_id`, its followers are told
once through the outbox, its vector and its own graph rows are removed, and "related" links that
pointed at it point at the survivor. Merging again reports "already merged" and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from gtm_feedback_dagster.analytics.graph_duplicates import stored_duplicate_pairs
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.request_graph import DEFAULT_DUPLICATE_THRESHOLD
from gtm_feedback_dagster.messaging.mrkdwn import link
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.store.repo import (
    follow,
    follower_ids,
    resolve_area,
    resolve_request,
)
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    Follower,
    Request,
    RequestRelation,
    RequestVector,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeResult:
    duplicate_id: int
    duplicate_title: str
    target_id: int
    target_title: str
    already_merged: bool = False
    moved_entries: int = 0
    moved_followers: int = 0  # followers newly following the target
    already_following: int = 0  # followed both: kept once
    notified: int = 0  # DMs queued (once per follower, ever)
    moved_approvals: int = 0
    relinked: int = 0  # requests whose related link now points at the target
    vector_removed: bool = False

    def summary(self) -> str:
        if self.already_merged:
            return f"#{self.duplicate_id} is already merged into #{self.target_id}; nothing to do"
        return (
            f"merged #{self.duplicate_id} {self.duplicate_title!r} into #{self.target_id} "
            f"{self.target_title!r}: moved {self.moved_entries} entries and "
            f"{self.moved_followers} followers ({self.already_following} already followed it), "
            f"queued {self.notified} follower notices"
        )


def _request_url(app_url: str, slug: str) -> str:
    return f"{app_url.rstrip('/')}/requests/{slug}"


def merge_requests(
    session: Session, duplicate_ref: str | int, target_ref: str | int, app_url: str
) -> MergeResult:
    """Merges `duplicate_ref` into `target_ref` in the caller's transaction."""
    duplicate = resolve_request(session, duplicate_ref)
    target = resolve_request(session, target_ref)
    if duplicate.id == target.id:
        raise ValueError(f"cannot merge request #{duplicate.id} into itself")
    # Lock both rows (PostgreSQL) so two concurrent merges of the same duplicate serialise; the
    # state checks below then see the winner's result.
    for request_id in sorted((duplicate.id, target.id)):
        session.execute(select(Request.id).where(Request.id == request_id).with_for_update())
    session.refresh(duplicate)
    session.refresh(target)
    if duplicate.status == "merged":
        if duplicate.merged_into_id == target.id:
            return MergeResult(duplicate.id, duplicate.title, target.id, target.title, True)
        raise ValueError(
            f"request #{duplicate.id} is already merged into #{duplicate.merged_into_id}"
        )
    if target.status == "merged":
        raise ValueError(
            f"request #{target.id} is itself merged into #{target.merged_into_id}; "
            f"merge into #{target.merged_into_id} instead"
        )

    moved_entries = session.execute(
        update(Feedback)
        .where(Feedback.request_id == duplicate.id)
        .values(request_id=target.id, updated_at=utcnow())
    ).rowcount

    # Pending approvals asking "add to the duplicate?" now ask about the survivor, unless the
    # same entry already has an approval for it (unique (feedback, request)).
    other = aliased(Approval)
    moved_approvals = session.execute(
        update(Approval)
        .where(
            Approval.request_id == duplicate.id,
            Approval.status == "pending",
            ~exists().where(
                other.feedback_id == Approval.feedback_id, other.request_id == target.id
            ),
        )
        .values(request_id=target.id)
    ).rowcount

    dup_followers = follower_ids(session, duplicate.id)
    moved_followers = sum(1 for user_id in dup_followers if follow(session, user_id, target.id))
    session.execute(delete(Follower).where(Follower.request_id == duplicate.id))

    text = (
        f"The request *{link(_request_url(app_url, duplicate.slug), duplicate.title)}* you "
        f"follow was merged into *{link(_request_url(app_url, target.slug), target.title)}*. "
        "Your feedback "
        "and your follow moved there, so you will hear when it ships."
    )
    notified = sum(
        1
        for user_id in dup_followers
        if enqueue(
            session,
            kind="merged",
            dedupe_key=f"merged:{duplicate.id}:{user_id}",
            text=text,
            user_id=user_id,
            request_id=target.id,
        )
    )

    relinked = session.execute(
        update(Request)
        .where(Request.related_request_id == duplicate.id, Request.id != target.id)
        .values(related_request_id=target.id, updated_at=Request.updated_at)
    ).rowcount
    session.execute(
        update(Request)
        .where(Request.id == target.id, Request.related_request_id == duplicate.id)
        .values(related_request_id=None, updated_at=Request.updated_at)
    )

    # The vector goes (the serving index follows: request_embeddings drops merged requests);
    # the duplicate's own neighbour rows go too. Rows of other requests that point at it stay
    # for related_request_graph, which recomputes exactly those requests on its next run.
    vector_removed = bool(
        session.execute(
            delete(RequestVector).where(RequestVector.request_id == duplicate.id)
        ).rowcount
    )
    session.execute(delete(RequestRelation).where(RequestRelation.request_id == duplicate.id))

    now = utcnow()
    duplicate.status = "merged"
    duplicate.merged_into_id = target.id
    duplicate.related_request_id = None
    duplicate.meta = {
        **(duplicate.meta or {}),
        "merged": {
            "into": target.id,
            "at": now.isoformat(),
            "entries": moved_entries,
            "followers": len(dup_followers),
        },
    }
    duplicate.updated_at = now
    session.flush()
    return MergeResult(
        duplicate_id=duplicate.id,
        duplicate_title=duplicate.title,
        target_id=target.id,
        target_title=target.title,
        moved_entries=int(moved_entries or 0),
        moved_followers=moved_followers,
        already_following=len(dup_followers) - moved_followers,
        notified=notified,
        moved_approvals=int(moved_approvals or 0),
        relinked=int(relinked or 0),
        vector_removed=vector_removed,
    )


def remove_from_serving_index(settings: Settings, request_id: int) -> str | None:
    """After the merge has committed: drop the duplicate from Upstash when that is the serving
    index (the local faiss index is rebuilt from `request_vectors`, which no longer has it).
    Returns a warning when the call failed; `request_embeddings` removes it on its next run."""
    if settings.vector_index != "upstash":
        return None
    from gtm_feedback_dagster.vectors.base import build_vector_index

    try:
        build_vector_index(settings).delete([request_id])
    except Exception as exc:
        log.warning("could not remove request %s from Upstash: %s", request_id, exc)
        return (
            f"could not remove request #{request_id} from Upstash ({type(exc).__name__}); "
            "request_embeddings removes it on its next run"
        )
    return None


@dataclass(frozen=True)
class DuplicateCandidate:
    duplicate_id: int
    duplicate_title: str
    target_id: int
    target_title: str
    similarity: float
    basis: str = "titles"  # "titles" (the related-request graph) or "feedback text and titles"
    evidence: str = ""  # what linked the pair, for a person (`requests duplicates`)

    @property
    def merge_command(self) -> str:
        return f"gtm-feedback requests merge {self.duplicate_id} {self.target_id}"


def duplicate_candidates(
    session: Session,
    area_ref: str | None = None,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
    limit: int = 50,
) -> list[DuplicateCandidate]:
    """Likely duplicates from the stored graph; the suggested merge keeps the request with more
    feedback (on a tie, the older one)."""
    area_id = resolve_area(session, area_ref).id if area_ref else None
    pairs = stored_duplicate_pairs(session, threshold, area_id=area_id, limit=limit)
    ids = {p.a for p in pairs} | {p.b for p in pairs}
    if not ids:
        return []
    titles = dict(
        session.execute(select(Request.id, Request.title).where(Request.id.in_(ids))).all()
    )
    entries = dict(
        session.execute(
            select(Feedback.request_id, func.count(Feedback.id))
            .where(Feedback.request_id.in_(ids))
            .group_by(Feedback.request_id)
        ).all()
    )
    found = []
    for pair in pairs:
        # a < b: keep a (older) unless b has strictly more feedback.
        keep, drop = (
            (pair.b, pair.a)
            if entries.get(pair.b, 0) > entries.get(pair.a, 0)
            else (
                pair.a,
                pair.b,
            )
        )
        found.append(
            DuplicateCandidate(
                drop,
                titles[drop],
                keep,
                titles[keep],
                pair.similarity,
                evidence=f"titles {pair.similarity:.2f} (related-request graph)",
            )
        )
    return found
