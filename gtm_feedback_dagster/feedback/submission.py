"""Turning one submitted feedback record into a stored entry, the same way for every intake
(CLI `submit`, CSV import, reference migration, HTTP API, `entries retry`).

`prepare_feedback` validates and resolves references and never raises for bad input: it returns
the column values it could work out plus the list of problems. `store_feedback` then writes a
`pending` entry (or `routed`, when the record names its request and routing is not asked for), or
an `invalid` entry holding the reason and the original record, so nothing a user sent is lost.
Idempotency: an entry is stored once per (source, external_id); re-sending a record whose stored
entry is `invalid` with now-valid content revives that entry as `pending`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.validation import (
    DEFAULT_MAX_TEXT_CHARS,
    ValidationError,
    clean_text,
    parse_links,
    parse_severity,
)
from gtm_feedback_dagster.feedback.records import parse_datetime, text_or_none
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    Opportunity,
    Request,
    User,
    utcnow,
)

Outcome = Literal["created", "existing", "revived", "invalid"]


class RefResolver:
    """Memoised reference lookups: an import names the same few accounts and users thousands of
    times. With `external_ids_only`, references are matched on external (CRM / reference-system)
    ids only — a numeric reference id must not be mistaken for one of our primary keys."""

    def __init__(
        self,
        session: Session,
        external_ids_only: bool = False,
        memo: dict[tuple[str, str, int | None], int | repo.NotFoundError] | None = None,
    ) -> None:
        self.session = session
        self.external_ids_only = external_ids_only
        # Shared between the batches of one import: ids stay valid across transactions.
        self.memo = memo if memo is not None else {}

    def _lookup(self, kind: str, ref: str, extra: int | None, find: Any) -> int:
        key = (kind, ref, extra)
        if key not in self.memo:
            try:
                self.memo[key] = find()
            except repo.NotFoundError as exc:
                self.memo[key] = exc
        found = self.memo[key]
        if isinstance(found, repo.NotFoundError):
            raise found
        return found

    def _by_external_id(self, model: Any, ref: str, what: str) -> int:
        found = self.session.scalars(select(model.id).where(model.external_id == ref)).first()
        if found is None:
            raise repo.NotFoundError(f"unknown {what} {ref!r}")
        return int(found)

    def account(self, ref: str) -> int:
        if self.external_ids_only:
            return self._lookup(
                "account", ref, None, lambda: self._by_external_id(Account, ref, "account")
            )
        return self._lookup(
            "account", ref, None, lambda: repo.resolve_account(self.session, ref).id
        )

    def user(self, ref: str) -> int:
        if self.external_ids_only:
            return self._lookup("user", ref, None, lambda: self._by_external_id(User, ref, "user"))
        return self._lookup("user", ref, None, lambda: repo.resolve_user(self.session, ref).id)

    def opportunity(self, ref: str, account_id: int | None) -> int:
        def find() -> int:
            if self.external_ids_only:
                opp_id = self._by_external_id(Opportunity, ref, "opportunity")
                opp = self.session.get(Opportunity, opp_id)
                if account_id is not None and opp is not None and opp.account_id != account_id:
                    raise repo.NotFoundError(
                        f"opportunity {ref!r} belongs to another account than the entry's"
                    )
                return opp_id
            account = self.session.get(Account, account_id) if account_id is not None else None
            try:
                return repo.resolve_opportunity(self.session, ref, account).id
            except repo.NotFoundError:
                if account is None:
                    raise
            # Say why when the opportunity exists under another account.
            try:
                other = repo.resolve_opportunity(self.session, ref, None)
            except repo.NotFoundError:
                raise repo.NotFoundError(
                    f"unknown opportunity {ref!r} for account {account.name!r}"
                ) from None
            raise repo.NotFoundError(
                f"opportunity {ref!r} belongs to account {other.account.name!r}, "
                f"not {account.name!r}"
            )

        return self._lookup("opportunity", ref, account_id, find)

    def request(self, ref: str) -> int:
        if self.external_ids_only:
            return self._lookup(
                "request", ref, None, lambda: self._by_external_id(Request, ref, "request")
            )
        return self._lookup(
            "request", ref, None, lambda: repo.resolve_request(self.session, ref).id
        )

    def area(self, ref: str) -> int:
        return self._lookup("area", ref, None, lambda: repo.resolve_area(self.session, ref).id)

    def forget_missing(self) -> None:
        """Drops memoised misses, e.g. after rows created new accounts or users."""
        for key in [k for k, v in self.memo.items() if isinstance(v, Exception)]:
            del self.memo[key]


@dataclass
class PreparedFeedback:
    """Column values for a `feedback` row and the problems that make it invalid (if any)."""

    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    request_id: int | None = None  # the request the record names, resolved

    @property
    def valid(self) -> bool:
        return not self.problems


def prepare_feedback(
    record: dict[str, Any],
    resolver: RefResolver,
    *,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    use_request: bool = False,
) -> PreparedFeedback:
    """Validates a canonical record (keys as in `records.FEEDBACK_ALIASES`) and resolves its
    references. Collects every problem at once so a user can fix a row in one go."""
    problems: list[str] = []
    values: dict[str, Any] = {
        "customer_pain": "",
        "severity": None,
        "account_id": None,
        "opportunity_id": None,
        "submitter_id": None,
        "links": [],
    }

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            problems.extend(exc.problems)
        except repo.NotFoundError as exc:
            problems.append(str(exc))
        return None

    pain_value = record.get("customer_pain")
    pain = attempt(clean_text, pain_value, max_chars, what="customer_pain")
    if pain is not None:
        values["customer_pain"] = pain
    elif isinstance(pain_value, str):
        # Kept (cut to the limit) so the entry is recognisable; the full text stays in `raw`.
        values["customer_pain"] = pain_value.replace("\x00", "").strip()[:max_chars]
    values["severity"] = attempt(parse_severity, record.get("severity"))

    account_ref = text_or_none(record.get("account"))
    if account_ref is None:
        problems.append("account is required")
    else:
        values["account_id"] = attempt(resolver.account, account_ref)
    submitter_ref = text_or_none(record.get("submitter"))
    if submitter_ref is None:
        problems.append("submitter is required")
    else:
        values["submitter_id"] = attempt(resolver.user, submitter_ref)
    opportunity_ref = text_or_none(record.get("opportunity"))
    if opportunity_ref is not None and (values["account_id"] is not None or account_ref is None):
        values["opportunity_id"] = attempt(
            resolver.opportunity, opportunity_ref, values["account_id"]
        )
    links = attempt(parse_links, record.get("links"))
    values["links"] = links or []
    created_at = attempt(parse_datetime, record.get("created_at"))
    if created_at is not None:
        values["created_at"] = created_at

    request_id = None
    request_ref = text_or_none(record.get("request"))
    if use_request and request_ref is not None:
        request_id = attempt(resolver.request, request_ref)
    return PreparedFeedback(values=values, problems=problems, request_id=request_id)


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
        "raw": raw if not prepared.valid else None,
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


def revive(entry: Feedback, prepared: PreparedFeedback) -> None:
    """An `invalid` entry whose record is now valid becomes a normal entry."""
    columns = entry_columns(prepared, None)
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
) -> StoredFeedback:
    """Stores one entry in the caller's transaction (see the module docstring)."""
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
            return StoredFeedback(
                existing.id, existing.status, "existing", tuple(prepared.problems)
            )
    if not prepared.valid and not store_invalid:
        raise ValidationError(prepared.problems)
    columns = entry_columns(prepared, raw)
    columns.update(source=source, external_id=external_id, meta=meta or {}, attempts=0)
    entry, created = repo.add_feedback(session, columns)
    if created and entry.status == "routed" and entry.submitter_id and entry.request_id:
        repo.follow(session, entry.submitter_id, entry.request_id)
    outcome: Outcome = "invalid" if not prepared.valid else ("created" if created else "existing")
    return StoredFeedback(entry.id, entry.status, outcome, tuple(prepared.problems))


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
