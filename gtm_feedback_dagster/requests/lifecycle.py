"""Request lifecycle: create by hand, change status (ship, deprioritize, reopen), follow.

Shipping only sets `status`/`shipped_at`; the shipped notifications are sent by the shipped
sensor, which picks up shipped requests whose `shipped_notified_at` is NULL. Reopening keeps
`shipped_notified_at`, so flipping a request back and forth never announces the same ship twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.validation import DEFAULT_MAX_TEXT_CHARS, ValidationError, clean_text
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import ProductArea, Request, User, utcnow


def create_request(
    session: Session,
    title: str,
    description: str,
    areas: list[str],
    creator: str,
) -> Request:
    problems: list[str] = []
    try:
        title = clean_text(title, 200, what="title")
    except ValidationError as exc:
        problems.extend(exc.problems)
    try:
        description = clean_text(description, DEFAULT_MAX_TEXT_CHARS, what="description")
    except ValidationError as exc:
        problems.extend(exc.problems)
    if not areas:
        problems.append("at least one --area is required")
    resolved: list[ProductArea] = []
    for ref in areas:
        try:
            resolved.append(repo.resolve_area(session, ref))
        except repo.NotFoundError as exc:
            problems.append(str(exc))
    creator_user: User | None = None
    try:
        creator_user = repo.resolve_user(session, creator)
    except repo.NotFoundError as exc:
        problems.append(str(exc))
    if problems or creator_user is None:
        raise ValidationError(problems)
    request = repo.create_request(session, title, description, resolved, creator_user.id)
    # The creator hears about the request's ship like anyone who added feedback to it.
    repo.follow(session, creator_user.id, request.id)
    return request


@dataclass(frozen=True)
class StatusChange:
    request: Request
    changed: bool
    message: str


def set_request_status(session: Session, ref: str, status: str) -> StatusChange:
    """`shipped`, `deprioritized` or `open` (reopen). Idempotent: a request already in that
    status is left as it is and the message says so."""
    if status not in ("shipped", "deprioritized", "open"):
        raise ValueError(f"cannot set status {status!r}")
    request = repo.resolve_request(session, ref)
    if request.status == status:
        already = {"shipped": "shipped", "deprioritized": "deprioritized", "open": "open"}[status]
        return StatusChange(request, False, f"{request.title!r} is already {already}")
    now = utcnow()
    previous = request.status
    request.status = status
    request.updated_at = now
    if status == "shipped":
        request.shipped_at = now
        message = f"{request.title!r} marked as shipped; its followers will be notified"
    elif status == "deprioritized":
        message = f"{request.title!r} deprioritized (was {previous})"
    else:
        request.shipped_at = None
        message = f"{request.title!r} reopened (was {previous})"
    session.flush()
    return StatusChange(request, True, message)


def follow(session: Session, request_ref: str, user_ref: str, on: bool) -> str:
    request = repo.resolve_request(session, request_ref)
    user = repo.resolve_user(session, user_ref)
    if on:
        added = repo.follow(session, user.id, request.id)
        return (
            f"{user.email} now follows {request.slug}"
            if added
            else f"{user.email} already follows {request.slug}"
        )
    removed = repo.unfollow(session, user.id, request.id)
    return (
        f"{user.email} no longer follows {request.slug}"
        if removed
        else f"{user.email} was not following {request.slug}"
    )


def keep_both(session: Session, a_id: int, b_id: int) -> bool:
    """Marks two requests as distinct (not duplicates); idempotent. True when newly marked.
    Recorded in both requests' `meta["distinct_from"]` (no table needed); the triage queue and
    the likely duplicates of a request leave such a pair out."""
    changed = False
    for me, other in ((a_id, b_id), (b_id, a_id)):
        request = session.get(Request, me)
        if request is None:
            raise LookupError(f"unknown request #{me}")
        meta = dict(request.meta or {})
        marks = list(meta.get("distinct_from", []))
        if other not in marks:
            marks.append(other)
            meta["distinct_from"] = marks
            request.meta = meta
            changed = True
    session.flush()
    return changed
