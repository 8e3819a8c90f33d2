"""Request lifecycle: create by hand, edit, change status (ship, deprioritize, reopen), follow.

A slug change keeps the old slug in `meta["old_slugs"]` (no table, no migration), and
`resolve_request` here finds a request by any of its old slugs, so old links and scripts keep
working.

Shipping here only sets `status`/`shipped_at`; `gtm-feedback requests ship` then queues the
shipped notices itself (notifications/shipped.py, claimed through `shipped_notified_at`), and the
shipped sensor picks up any shipped request whose `shipped_notified_at` is still NULL (Slack's
`/shipped`, the web page). Reopening keeps
`shipped_notified_at`, so flipping a request back and forth never announces the same ship twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import DEFAULT_MAX_TEXT_CHARS, ValidationError, clean_text
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import ProductArea, Request, RequestArea, User, utcnow


def resolve_request(session: Session, ref: str | int) -> Request:
    """By id, slug, external id, request URL, or a slug the request had before an edit."""
    try:
        return repo.resolve_request(session, ref)
    except repo.NotFoundError:
        old = str(ref).strip().rstrip("/").split("?")[0].rsplit("/", 1)[-1]
        for request in session.scalars(
            select(Request).where(cast(Request.meta, String).like(f'%"{old}"%'))
        ):
            if old in (request.meta or {}).get("old_slugs", []):
                return request
        raise


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
    request = resolve_request(session, ref)
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


def edit_request(
    session: Session,
    ref: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    description: str | None = None,
    add_areas: tuple[str, ...] = (),
    remove_areas: tuple[str, ...] = (),
) -> tuple[Request, list[str]]:
    """Changes what was given; returns the request and one line per change. A request keeps at
    least one area. All problems are reported together and nothing changes then."""
    request = resolve_request(session, ref)
    problems: list[str] = []
    changes: list[str] = []
    new_title = new_description = new_slug = None
    if title is not None:
        try:
            new_title = clean_text(title, 200, what="title")
        except ValidationError as exc:
            problems.extend(exc.problems)
    if description is not None:
        try:
            new_description = clean_text(description, DEFAULT_MAX_TEXT_CHARS, what="description")
        except ValidationError as exc:
            problems.extend(exc.problems)
    if slug is not None:
        new_slug = slugify(slug)
        if not any(c.isalnum() for c in slug):
            problems.append(f"slug {slug!r} has no letters or digits")
        elif new_slug != request.slug:
            taken = session.scalar(select(Request.id).where(Request.slug == new_slug))
            if taken is not None:
                problems.append(f"slug {new_slug!r} is taken by request {taken}")
    adding: list[ProductArea] = []
    removing: list[ProductArea] = []
    for refs, into in ((add_areas, adding), (remove_areas, removing)):
        for area_ref in refs:
            try:
                into.append(repo.resolve_area(session, area_ref))
            except repo.NotFoundError as exc:
                problems.append(str(exc))
    current = {a.id for a in request.areas}
    after = (current | {a.id for a in adding}) - {a.id for a in removing}
    if not after:
        problems.append("a request keeps at least one area")
    if problems:
        raise ValidationError(problems)
    if new_title is not None and new_title != request.title:
        changes.append(f"title: {request.title!r} -> {new_title!r}")
        request.title = new_title
    if new_description is not None and new_description != request.description:
        changes.append("description changed")
        request.description = new_description
    if new_slug is not None and new_slug != request.slug:
        meta = dict(request.meta or {})
        old = [s for s in meta.get("old_slugs", []) if s != new_slug]
        old.append(request.slug)
        meta["old_slugs"] = old
        request.meta = meta
        changes.append(f"slug: {request.slug} -> {new_slug} (the old slug still finds it)")
        request.slug = new_slug
    for area in adding:
        if area.id not in current:
            session.add(RequestArea(request_id=request.id, area_id=area.id))
            current.add(area.id)
            changes.append(f"area added: {area.slug}")
    for area in removing:
        if area.id in current:
            session.query(RequestArea).filter_by(request_id=request.id, area_id=area.id).delete()
            current.discard(area.id)
            changes.append(f"area removed: {area.slug}")
    if changes:
        request.updated_at = utcnow()
    session.flush()
    session.expire(request, ["areas"])
    return request, changes


def follow(session: Session, request_ref: str, user_ref: str, on: bool) -> str:
    request = resolve_request(session, request_ref)
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
