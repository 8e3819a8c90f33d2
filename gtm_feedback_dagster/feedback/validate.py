"""The one feedback validator, used by every intake: CLI `submit`, CSV import, reference
migration, HTTP API, Slack capture and `entries retry`.

`prepare_feedback` validates a canonical record (keys as in `records.FEEDBACK_ALIASES`) and
resolves its references through a `catalog.resolver.Resolver` (the database, or the id maps of
the reference import). It never raises for bad input: it returns the column values it could work
out plus every problem at once, so a user can fix a row in one go. Storing is
`feedback.submission.store_feedback`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gtm_feedback_dagster.catalog.resolver import Resolver
from gtm_feedback_dagster.core.validation import (
    DEFAULT_MAX_TEXT_CHARS,
    ValidationError,
    clean_text,
    parse_datetime,
    parse_links,
    parse_severity,
    strip_controls,
    text_or_none,
)
from gtm_feedback_dagster.store import repo


@dataclass(frozen=True)
class FieldNames:
    """How the fields are called in messages: an intake's users know its own names."""

    customer_pain: str = "customer_pain"
    account: str = "account"
    submitter: str = "submitter"
    created_at: str = "created_at"


DEFAULT_NAMES = FieldNames()
# The reference system's export calls them description / accountId / creator / createdAt.
REFERENCE_NAMES = FieldNames("description", "accountId", "creator", "createdAt")


def empty_values() -> dict[str, Any]:
    """The entry columns the validator fills, before anything is known."""
    return {
        "customer_pain": "",
        "severity": None,
        "account_id": None,
        "opportunity_id": None,
        "submitter_id": None,
        "links": [],
    }


@dataclass
class PreparedFeedback:
    """Column values for a `feedback` row and the problems that make it invalid (if any)."""

    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    request_id: int | None = None  # the request the record names, resolved
    # Control characters or bidi overrides were taken out of the text: the original is kept in
    # the entry's `raw`.
    cleaned: bool = False

    @property
    def valid(self) -> bool:
        return not self.problems


def _ref(value: Any) -> str | None:
    """A reference as looked up: control characters (a NUL, which PostgreSQL refuses in any
    query) are no part of a name or an id."""
    return text_or_none(strip_controls(str(value))) if value is not None else None


def prepare_feedback(
    record: dict[str, Any],
    resolver: Resolver,
    *,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    use_request: bool = False,
    names: FieldNames = DEFAULT_NAMES,
) -> PreparedFeedback:
    """Validates `record` and resolves its references (see the module docstring). With
    `use_request`, the request the record names is resolved too (an import keeping the
    assignment of the system it comes from)."""
    problems: list[str] = []
    values = empty_values()

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            problems.extend(exc.problems)
        except repo.NotFoundError as exc:
            problems.append(str(exc))
        return None

    pain_value = record.get("customer_pain")
    pain = attempt(clean_text, pain_value, max_chars, what=names.customer_pain)
    if pain is not None:
        values["customer_pain"] = pain
    elif isinstance(pain_value, str):
        # Kept (cut to the limit) so the entry is recognisable; the full text stays in `raw`.
        values["customer_pain"] = strip_controls(pain_value).strip()[:max_chars]
    cleaned = isinstance(pain_value, str) and strip_controls(pain_value) != pain_value
    values["severity"] = attempt(parse_severity, record.get("severity"))

    account_ref = _ref(record.get("account"))
    if account_ref is None:
        problems.append(f"{names.account} is required")
    else:
        values["account_id"] = attempt(resolver.account, account_ref)
    submitter_ref = _ref(record.get("submitter"))
    if submitter_ref is None:
        problems.append(f"{names.submitter} is required")
    else:
        values["submitter_id"] = attempt(resolver.user, submitter_ref)
    opportunity_ref = _ref(record.get("opportunity"))
    # An unknown account is the problem to report, not the opportunity checked against it.
    if opportunity_ref is not None and (values["account_id"] is not None or account_ref is None):
        values["opportunity_id"] = attempt(
            resolver.opportunity, opportunity_ref, values["account_id"]
        )
    values["links"] = attempt(parse_links, record.get("links")) or []
    created_at = attempt(parse_datetime, record.get("created_at"), names.created_at)
    if created_at is not None:
        values["created_at"] = created_at

    request_id = None
    request_ref = _ref(record.get("request"))
    if use_request and request_ref is not None:
        request_id = attempt(resolver.request, request_ref)
    return PreparedFeedback(
        values=values, problems=problems, request_id=request_id, cleaned=cleaned
    )
