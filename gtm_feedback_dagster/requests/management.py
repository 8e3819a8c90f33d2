"""What the management commands do, as plain functions over a session: listings and details as
plain dicts (printed as tables or JSON by the CLI), request lifecycle changes, entry retries.

Lifecycle notes: shipping only sets `status`/`shipped_at`; the shipped notifications are sent by
the shipped sensor, which picks up shipped requests whose `shipped_notified_at` is NULL.
Reopening keeps `shipped_notified_at`, so flipping a request back and forth never announces the
same ship twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.catalog.entities import upsert_area
from gtm_feedback_dagster.core.validation import (
    DEFAULT_MAX_TEXT_CHARS,
    ValidationError,
    clean_text,
    severity_label,
    slugify,
)
from gtm_feedback_dagster.feedback.records import canonical_feedback
from gtm_feedback_dagster.feedback.submission import (
    RefResolver,
    prepare_feedback,
    record_from_entry,
    revive,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    FEEDBACK_STATUSES,
    REQUEST_STATUSES,
    Account,
    Feedback,
    Follower,
    Opportunity,
    ProductArea,
    Request,
    RequestArea,
    User,
    utcnow,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def request_url(app_url: str, slug: str) -> str:
    return f"{app_url.rstrip('/')}/requests/{slug}"


# ---------------------------------------------------------------------------- requests


def _demand(session: Session, request_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Per request: entries, distinct accounts and the ARR of those distinct accounts (an
    account that asked five times counts once)."""
    ids = list(request_ids)
    out: dict[int, dict[str, Any]] = {i: {"entries": 0, "accounts": 0, "arr": 0.0} for i in ids}
    if not ids:
        return out
    for request_id, entries in session.execute(
        select(Feedback.request_id, func.count(Feedback.id))
        .where(Feedback.request_id.in_(ids))
        .group_by(Feedback.request_id)
    ):
        out[request_id]["entries"] = int(entries)
    pairs = (
        select(Feedback.request_id.label("request_id"), Feedback.account_id.label("account_id"))
        .where(Feedback.request_id.in_(ids), Feedback.account_id.is_not(None))
        .distinct()
        .subquery()
    )
    for request_id, accounts, arr in session.execute(
        select(pairs.c.request_id, func.count(pairs.c.account_id), func.sum(Account.arr))
        .join(Account, Account.id == pairs.c.account_id)
        .group_by(pairs.c.request_id)
    ):
        out[request_id]["accounts"] = int(accounts)
        out[request_id]["arr"] = float(arr or 0.0)
    return out


def list_requests(
    session: Session,
    area: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    query = select(Request).order_by(Request.id.desc()).limit(max(1, limit))
    if status is not None:
        if status not in REQUEST_STATUSES:
            raise ValidationError([f"unknown status {status!r}: use {'|'.join(REQUEST_STATUSES)}"])
        query = query.where(Request.status == status)
    if area is not None:
        area_id = repo.resolve_area(session, area).id
        query = query.where(
            Request.id.in_(select(RequestArea.request_id).where(RequestArea.area_id == area_id))
        )
    requests = list(session.scalars(query))
    demand = _demand(session, [r.id for r in requests])
    followers = dict(
        session.execute(
            select(Follower.request_id, func.count(Follower.id))
            .where(Follower.request_id.in_([r.id for r in requests]))
            .group_by(Follower.request_id)
        ).all()
    )
    return [
        {
            "id": r.id,
            "slug": r.slug,
            "title": r.title,
            "status": r.status,
            "areas": [a.slug for a in r.areas],
            "entries": demand[r.id]["entries"],
            "accounts": demand[r.id]["accounts"],
            "arr": demand[r.id]["arr"],
            "followers": int(followers.get(r.id, 0)),
            "created_at": _iso(r.created_at),
        }
        for r in requests
    ]


def request_detail(session: Session, ref: str, app_url: str) -> dict[str, Any]:
    request = repo.resolve_request(session, ref)
    demand = _demand(session, [request.id])[request.id]
    followers = session.scalars(
        select(User)
        .join(Follower, Follower.user_id == User.id)
        .where(Follower.request_id == request.id)
        .order_by(Follower.id)
    ).all()
    by_severity = dict(
        session.execute(
            select(Feedback.severity, func.count(Feedback.id))
            .where(Feedback.request_id == request.id)
            .group_by(Feedback.severity)
        ).all()
    )
    related = (
        session.get(Request, request.related_request_id) if request.related_request_id else None
    )
    creator = request.creator
    return {
        "id": request.id,
        "slug": request.slug,
        "url": request_url(app_url, request.slug),
        "title": request.title,
        "description": request.description,
        "status": request.status,
        "areas": [{"slug": a.slug, "name": a.name} for a in request.areas],
        "creator": {"id": creator.id, "name": creator.name, "email": creator.email}
        if creator
        else None,
        "followers": [{"id": u.id, "name": u.name, "email": u.email} for u in followers],
        "entries": demand["entries"],
        "entries_by_severity": {str(k): int(v) for k, v in by_severity.items()},
        "accounts": demand["accounts"],
        "arr": demand["arr"],
        "related_request": {"id": related.id, "slug": related.slug, "title": related.title}
        if related
        else None,
        "external_id": request.external_id,
        "created_at": _iso(request.created_at),
        "shipped_at": _iso(request.shipped_at),
        "shipped_notified_at": _iso(request.shipped_notified_at),
    }


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


# ---------------------------------------------------------------------------- entries


def _entry_row(entry: Feedback) -> dict[str, Any]:
    return {
        "id": entry.id,
        "status": entry.status,
        "severity": entry.severity,
        "account": entry.account.name if entry.account else None,
        "submitter": entry.submitter.email if entry.submitter else None,
        "request": entry.request.slug if entry.request else None,
        "source": entry.source,
        "created_at": _iso(entry.created_at),
        "text": entry.customer_pain,
    }


def list_entries(
    session: Session,
    status: str | None = None,
    request: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    query = select(Feedback).order_by(Feedback.id.desc()).limit(max(1, limit))
    if status is not None:
        if status not in FEEDBACK_STATUSES:
            raise ValidationError([f"unknown status {status!r}: use {'|'.join(FEEDBACK_STATUSES)}"])
        query = query.where(Feedback.status == status)
    if request is not None:
        query = query.where(Feedback.request_id == repo.resolve_request(session, request).id)
    return [_entry_row(e) for e in session.scalars(query)]


def get_entry(session: Session, entry_id: int) -> Feedback:
    entry = session.get(Feedback, entry_id)
    if entry is None:
        raise repo.NotFoundError(f"unknown entry {entry_id}")
    return entry


def entry_detail(session: Session, entry_id: int, app_url: str) -> dict[str, Any]:
    entry = get_entry(session, entry_id)
    request = entry.request
    return {
        "id": entry.id,
        "status": entry.status,
        "source": entry.source,
        "external_id": entry.external_id,
        "customer_pain": entry.customer_pain,
        "severity": entry.severity,
        "severity_label": severity_label(entry.severity) if entry.severity else None,
        "account": {"id": entry.account.id, "name": entry.account.name} if entry.account else None,
        "opportunity": {"id": entry.opportunity.id, "name": entry.opportunity.name}
        if entry.opportunity
        else None,
        "submitter": {
            "id": entry.submitter.id,
            "name": entry.submitter.name,
            "email": entry.submitter.email,
        }
        if entry.submitter
        else None,
        "links": list(entry.links or []),
        "request": {
            "id": request.id,
            "slug": request.slug,
            "title": request.title,
            "url": request_url(app_url, request.slug),
        }
        if request
        else None,
        "match_type": entry.match_type,
        "confidence": entry.confidence,
        "reason": entry.reason,
        "error": entry.error,
        "raw": entry.raw,
        "attempts": entry.attempts,
        "meta": entry.meta or {},
        "created_at": _iso(entry.created_at),
        "updated_at": _iso(entry.updated_at),
        "routed_at": _iso(entry.routed_at),
    }


@dataclass(frozen=True)
class RetryResult:
    entry_id: int
    status: str
    message: str


def retry_entry(
    session: Session, entry: Feedback, max_chars: int = DEFAULT_MAX_TEXT_CHARS
) -> RetryResult:
    """A `failed` or `invalid` entry goes back to `pending` once it passes validation again.
    Invalid entries are re-read from their original record, so references that were unknown at
    intake (an account imported since) now resolve."""
    if entry.status not in ("failed", "invalid"):
        return RetryResult(
            entry.id, entry.status, f"entry {entry.id} is {entry.status}: nothing to retry"
        )
    raw = entry.raw or {}
    if entry.status == "invalid" and raw.get("parse_error"):
        # The row itself was unreadable (quoting, encoding): only a corrected file can fix it.
        return RetryResult(
            entry.id,
            entry.status,
            f"entry {entry.id} is still invalid: {raw['parse_error']} (fix the row and import "
            "the file again)",
        )
    if entry.status == "invalid" and raw:
        source_record = raw.get("values") if isinstance(raw.get("values"), dict) else raw
        record = canonical_feedback(source_record)
        resolver = RefResolver(session, external_ids_only=entry.source == "reference")
    else:
        record = record_from_entry(entry)
        resolver = RefResolver(session)
    # Routing decides where a retried entry goes, whatever request the record named.
    record.pop("request", None)
    prepared = prepare_feedback(record, resolver, max_chars=max_chars)
    if not prepared.valid:
        entry.error = "; ".join(prepared.problems)
        entry.updated_at = utcnow()
        return RetryResult(
            entry.id, entry.status, f"entry {entry.id} is still invalid: {entry.error}"
        )
    was = entry.status
    if "created_at" in prepared.values and entry.status == "invalid":
        entry.created_at = prepared.values["created_at"]
    revive(entry, prepared)
    session.flush()
    return RetryResult(entry.id, entry.status, f"entry {entry.id}: {was} -> pending")


def retry_entries(
    session: Session,
    entry_id: int | None = None,
    all_failed: bool = False,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> list[RetryResult]:
    if (entry_id is None) == (not all_failed):
        raise ValueError("give an entry id or --all-failed")
    if entry_id is not None:
        return [retry_entry(session, get_entry(session, entry_id), max_chars)]
    entries = session.scalars(
        select(Feedback).where(Feedback.status.in_(("failed", "invalid"))).order_by(Feedback.id)
    ).all()
    return [retry_entry(session, entry, max_chars) for entry in entries]


# ---------------------------------------------------------------------------- areas, accounts, users


def list_areas(session: Session) -> list[dict[str, Any]]:
    counts = dict(
        session.execute(
            select(RequestArea.area_id, func.count(RequestArea.request_id))
            .join(Request, Request.id == RequestArea.request_id)
            .where(Request.status == "open")
            .group_by(RequestArea.area_id)
        ).all()
    )
    return [
        {
            "id": a.id,
            "slug": a.slug,
            "name": a.name,
            "firehose_channel": a.firehose_channel,
            "open_requests": int(counts.get(a.id, 0)),
            "description": a.description,
        }
        for a in session.scalars(select(ProductArea).order_by(ProductArea.slug))
    ]


def create_area(
    session: Session,
    name: str,
    slug: str | None = None,
    description: str = "",
    firehose_channel: str | None = None,
) -> tuple[ProductArea, bool]:
    """Idempotent by slug: returns (area, created); an existing area is left unchanged."""
    name = clean_text(name, 100, what="name")
    area_slug = slugify(slug or name)
    existing = session.scalars(select(ProductArea).where(ProductArea.slug == area_slug)).first()
    if existing is not None:
        return existing, False
    # The upsert checks what a new area must satisfy (unique name, description length).
    upsert_area(
        session,
        None,
        {
            "name": name,
            "slug": area_slug,
            "description": description,
            "firehose_channel": firehose_channel,
        },
    )
    return session.scalars(select(ProductArea).where(ProductArea.slug == area_slug)).one(), True


def list_accounts(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    entries = dict(
        session.execute(
            select(Feedback.account_id, func.count(Feedback.id)).group_by(Feedback.account_id)
        ).all()
    )
    requests = dict(
        session.execute(
            select(Feedback.account_id, func.count(distinct(Feedback.request_id)))
            .where(Feedback.request_id.is_not(None))
            .group_by(Feedback.account_id)
        ).all()
    )
    return [
        {
            "id": a.id,
            "external_id": a.external_id,
            "name": a.name,
            "arr": a.arr,
            "enterprise": a.is_enterprise,
            "region": a.region,
            "entries": int(entries.get(a.id, 0)),
            "requests": int(requests.get(a.id, 0)),
        }
        for a in session.scalars(
            select(Account).order_by(Account.arr.desc(), Account.name).limit(max(1, limit))
        )
    ]


def account_detail(session: Session, ref: str, app_url: str) -> dict[str, Any]:
    account = repo.resolve_account(session, ref)
    opportunities = session.scalars(
        select(Opportunity).where(Opportunity.account_id == account.id).order_by(Opportunity.id)
    ).all()
    requests = session.execute(
        select(Request, func.count(Feedback.id), func.max(Feedback.severity))
        .join(Feedback, Feedback.request_id == Request.id)
        .where(Feedback.account_id == account.id)
        .group_by(Request.id)
        .order_by(func.count(Feedback.id).desc(), Request.id)
    ).all()
    by_status = dict(
        session.execute(
            select(Feedback.status, func.count(Feedback.id))
            .where(Feedback.account_id == account.id)
            .group_by(Feedback.status)
        ).all()
    )
    return {
        "id": account.id,
        "external_id": account.external_id,
        "name": account.name,
        "domain": account.domain,
        "type": account.type,
        "arr": account.arr,
        "enterprise": account.is_enterprise,
        "region": account.region,
        "industry": account.industry,
        "territory": account.territory,
        "segment": account.segment,
        "sub_segment": account.sub_segment,
        "opportunities": [
            {
                "id": o.id,
                "external_id": o.external_id,
                "name": o.name,
                "arr": o.arr,
                "stage": o.stage,
                "close_date": o.close_date.isoformat() if o.close_date else None,
            }
            for o in opportunities
        ],
        "entries_by_status": {str(k): int(v) for k, v in by_status.items()},
        "requests": [
            {
                "id": r.id,
                "slug": r.slug,
                "title": r.title,
                "status": r.status,
                "entries": int(n),
                "url": request_url(app_url, r.slug),
            }
            for r, n, _ in requests
        ],
    }


def list_users(session: Session) -> list[dict[str, Any]]:
    entries = dict(
        session.execute(
            select(Feedback.submitter_id, func.count(Feedback.id)).group_by(Feedback.submitter_id)
        ).all()
    )
    return [
        {
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "slack_user_id": u.slack_user_id,
            "admin": u.is_admin,
            "entries": int(entries.get(u.id, 0)),
        }
        for u in session.scalars(select(User).order_by(User.id))
    ]


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
