"""Feedback entries for the management commands and the HTTP API: listings and details as plain
dicts, and retries of `failed` / `invalid` entries through the shared validator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.catalog.resolver import RefResolver
from gtm_feedback_dagster.core.validation import (
    DEFAULT_MAX_TEXT_CHARS,
    ValidationError,
    as_db_id,
    clamp_limit,
    format_iso,
    severity_label,
    strip_controls,
)
from gtm_feedback_dagster.feedback.records import canonical_feedback
from gtm_feedback_dagster.feedback.submission import record_from_entry, revive
from gtm_feedback_dagster.feedback.validate import prepare_feedback
from gtm_feedback_dagster.messaging.blocks import request_url
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import FEEDBACK_STATUSES, Feedback, utcnow


def _shown(text: str | None) -> str | None:
    """Stored text as listed and shown: entries stored before intake cleaned control characters
    and bidi overrides are cleaned here too (the original stays in `raw`)."""
    return strip_controls(text) if text else text


def _entry_row(entry: Feedback) -> dict[str, Any]:
    return {
        "id": entry.id,
        "status": entry.status,
        "severity": entry.severity,
        "account": entry.account.name if entry.account else None,
        "submitter": entry.submitter.email if entry.submitter else None,
        "request": entry.request.slug if entry.request else None,
        "source": entry.source,
        "created_at": format_iso(entry.created_at),
        "text": _shown(entry.customer_pain),
    }


def list_entries(
    session: Session,
    status: str | None = None,
    request: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    query = select(Feedback).order_by(Feedback.id.desc()).limit(clamp_limit(limit))
    if status is not None:
        if status not in FEEDBACK_STATUSES:
            raise ValidationError([f"unknown status {status!r}: use {'|'.join(FEEDBACK_STATUSES)}"])
        query = query.where(Feedback.status == status)
    if request is not None:
        query = query.where(Feedback.request_id == repo.resolve_request(session, request).id)
    return [_entry_row(e) for e in session.scalars(query)]


def get_entry(session: Session, entry_id: int) -> Feedback:
    key = as_db_id(entry_id)
    entry = session.get(Feedback, key) if key is not None else None
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
        "customer_pain": _shown(entry.customer_pain),
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
        "error": _shown(entry.error),
        "raw": entry.raw,
        "attempts": entry.attempts,
        "meta": entry.meta or {},
        "created_at": format_iso(entry.created_at),
        "updated_at": format_iso(entry.updated_at),
        "routed_at": format_iso(entry.routed_at),
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
