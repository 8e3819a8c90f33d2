"""Turning one submitted feedback record into a stored entry, the same way for every intake
(CLI `submit`, CSV import, reference migration, HTTP API, `entries retry`).

`prepare_feedback` (the one validator, in `feedback.validate`) validates and resolves references
through a resolver and never raises for bad input: it returns the column values it could work
out plus the list of problems. `store_feedback` then writes a
`pending` entry (or `routed`, when the record names its request and routing is not asked for), or
an `invalid` entry holding the reason and the original record, so nothing a user sent is lost.
Idempotency: an entry is stored once per (source, external_id); re-sending a record whose stored
entry is `invalid` with now-valid content revives that entry as `pending`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.catalog.resolver import RefResolver, Resolver
from gtm_feedback_dagster.core.validation import ValidationError, json_safe
from gtm_feedback_dagster.feedback.validate import PreparedFeedback, prepare_feedback
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import Account, Feedback, User, utcnow

__all__ = [
    "PreparedFeedback",
    "RefResolver",
    "Resolver",
    "StoredFeedback",
    "differs",
    "entry_columns",
    "prepare_feedback",
    "record_from_entry",
    "revive",
    "store_feedback",
]

Outcome = Literal["created", "existing", "revived", "invalid", "conflict"]
# What an entry's content is compared on when its (source, external_id) comes again.
CONTENT_COLUMNS = (
    "customer_pain",
    "severity",
    "account_id",
    "submitter_id",
    "opportunity_id",
    "links",
)


def entry_columns(
    prepared: PreparedFeedback, raw: dict[str, Any] | None, now: Any = None
) -> dict[str, Any]:
    """The full column set of a new or revived entry (the same keys for every row, so rows can
    be inserted in bulk)."""
    now = now or utcnow()
    values = dict(prepared.values)
    created_at = values.pop("created_at", None) or now
    routed = prepared.valid and prepared.request_id is not None
    if not prepared.valid:
        status = "invalid"
    elif routed:
        status = "routed"
    else:
        status = "pending"
    return {
        **values,
        "status": status,
        "request_id": prepared.request_id if routed else None,
        "match_type": "manual" if routed else None,
        "confidence": None,
        "reason": "named in the imported record" if routed else None,
        "error": "; ".join(prepared.problems) if prepared.problems else None,
        # The original record: kept for invalid entries (to fix and retry) and for entries whose
        # text was cleaned of control characters; standard JSON (no NaN) for every database.
        "raw": json_safe(raw) if not prepared.valid or prepared.cleaned else None,
        "created_at": created_at,
        "updated_at": now,
        "routed_at": now if routed else None,
    }


@dataclass(frozen=True)
class StoredFeedback:
    id: int
    status: str
    outcome: Outcome
    problems: tuple[str, ...] = ()


def revive(entry: Feedback, prepared: PreparedFeedback, raw: dict[str, Any] | None = None) -> None:
    """An `invalid` entry whose record is now valid becomes a normal entry (its original record
    stays in `raw` only when its text had to be cleaned)."""
    columns = entry_columns(prepared, raw if raw is not None else entry.raw)
    columns.pop("created_at")
    for key, value in columns.items():
        setattr(entry, key, value)
    entry.attempts = 0


def store_feedback(
    session: Session,
    prepared: PreparedFeedback,
    *,
    source: str,
    external_id: str | None,
    raw: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    store_invalid: bool = True,
    report_conflicts: bool = False,
) -> StoredFeedback:
    """Stores one entry in the caller's transaction (see the module docstring). With
    `report_conflicts`, a valid record whose external id is already stored with other content
    is not dropped silently: the outcome is `conflict` (nothing changes; the id is the stored
    entry's)."""
    raw = json_safe(raw) if raw is not None else None
    if external_id is not None:
        existing = session.scalars(
            select(Feedback).where(Feedback.source == source, Feedback.external_id == external_id)
        ).first()
        if existing is not None:
            if existing.status == "invalid" and prepared.valid:
                revive(existing, prepared)
                session.flush()
                return StoredFeedback(existing.id, existing.status, "revived")
            if existing.status == "invalid":
                existing.error = "; ".join(prepared.problems)
                existing.raw = raw
            elif report_conflicts and prepared.valid and differs(existing, prepared):
                return StoredFeedback(existing.id, existing.status, "conflict")
            return StoredFeedback(
                existing.id, existing.status, "existing", tuple(prepared.problems)
            )
    if not prepared.valid and not store_invalid:
        raise ValidationError(prepared.problems)
    columns = entry_columns(prepared, raw)
    columns.update(source=source, external_id=external_id, meta=json_safe(meta or {}), attempts=0)
    entry, created = repo.add_feedback(session, columns)
    if created and entry.status == "routed" and entry.submitter_id and entry.request_id:
        repo.follow(session, entry.submitter_id, entry.request_id)
    outcome: Outcome = "invalid" if not prepared.valid else ("created" if created else "existing")
    return StoredFeedback(entry.id, entry.status, outcome, tuple(prepared.problems))


def differs(entry: Feedback, prepared: PreparedFeedback) -> bool:
    """Whether a stored entry says something else than a newly prepared record."""
    for column in CONTENT_COLUMNS:
        stored, given = getattr(entry, column), prepared.values.get(column)
        if column == "links":
            stored, given = list(stored or []), list(given or [])
        if stored != given:
            return True
    return False


def record_from_entry(entry: Feedback) -> dict[str, Any]:
    """The canonical record of a stored entry, for re-validation of `failed` entries."""
    session = Session.object_session(entry)
    assert session is not None
    account = session.get(Account, entry.account_id) if entry.account_id else None
    submitter = session.get(User, entry.submitter_id) if entry.submitter_id else None
    return {
        "customer_pain": entry.customer_pain,
        "severity": entry.severity,
        "account": str(account.id) if account else None,
        "submitter": str(submitter.id) if submitter else None,
        "opportunity": str(entry.opportunity_id) if entry.opportunity_id else None,
        "links": list(entry.links or []),
    }
