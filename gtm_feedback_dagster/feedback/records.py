"""Parsing helpers shared by the imports (CSV, reference JSON) and the HTTP API.

Imported data comes from spreadsheets and other systems: column names in any case or style
(`accountId`, `Account ID`, `account_id`), numbers with currency signs, booleans as yes/no. These
helpers turn them into plain values or raise `ValidationError` with a message a user can act on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from gtm_feedback_dagster.core.validation import ValidationError

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)  # a file repeats the same few keys on every row
def normalize_key(key: str) -> str:
    """`accountId`, `Account ID`, `account-id` and `\\ufeffaccount_id` all become `account_id`."""
    text = str(key).replace("\ufeff", "").strip()
    text = _CAMEL_BOUNDARY.sub("_", text).lower()
    return _NON_WORD.sub("_", text).strip("_")


def normalize_keys(row: Mapping[str, Any]) -> dict[str, Any]:
    return {normalize_key(k): v for k, v in row.items()}


# Canonical feedback fields and the names other systems use for them (after normalize_key).
FEEDBACK_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_pain": ("customer_pain", "text", "pain", "description", "feedback"),
    "severity": ("severity",),
    "account": ("account", "account_id", "account_name", "customer", "sfdc_account_id"),
    "submitter": ("submitter", "submitter_email", "creator", "submitted_by", "user", "email"),
    "opportunity": ("opportunity", "opportunity_id", "opportunity_name", "sfdc_opportunity_id"),
    "links": ("links", "external_links", "link", "urls"),
    "external_id": ("external_id", "id"),
    "request": ("request", "request_id", "request_slug"),
    "created_at": ("created_at", "submitted_at", "date"),
}


def canonical_feedback(row: Mapping[str, Any]) -> dict[str, Any]:
    """Maps a row with any of the known field names onto the canonical feedback fields; the
    first alias that is present wins. Unknown fields are left out."""
    keyed = normalize_keys(row)
    out: dict[str, Any] = {}
    for field, aliases in FEEDBACK_ALIASES.items():
        for alias in aliases:
            if alias in keyed:
                out[field] = keyed[alias]
                break
    return out


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def text_or_none(value: Any, max_len: int | None = None) -> str | None:
    if blank(value):
        return None
    text = str(value).strip()
    return text[:max_len] if max_len else text


def parse_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if blank(value):
        return False
    key = str(value).strip().lower()
    if key in {"1", "true", "yes", "y", "t"}:
        return True
    if key in {"0", "false", "no", "n", "f"}:
        return False
    raise ValidationError([f"{what} must be true or false, got {str(value)[:40]!r}"])


def parse_amount(value: Any, what: str) -> float:
    """`420000`, `420,000.50`, `$420k` are accepted; empty means 0."""
    if blank(value):
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("$", "").replace("€", "").strip()
        multiplier = 1.0
        if text[-1:].lower() in {"k", "m"}:
            multiplier = 1_000.0 if text[-1].lower() == "k" else 1_000_000.0
            text = text[:-1]
        try:
            number = float(text) * multiplier
        except ValueError:
            raise ValidationError([f"{what} must be a number, got {str(value)[:40]!r}"]) from None
    if number != number or number < 0 or number == float("inf"):  # NaN, negative or infinite
        raise ValidationError([f"{what} must be a non-negative number, got {str(value)[:40]!r}"])
    return number


def parse_datetime(value: Any, what: str = "created_at") -> datetime | None:
    """ISO 8601 date or date-time; naive values are taken as UTC."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            raise ValidationError(
                [f"{what} must be an ISO date or date-time, got {text[:40]!r}"]
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: Any, what: str) -> date | None:
    if blank(value):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValidationError(
            [f"{what} must be an ISO date (YYYY-MM-DD), got {text[:40]!r}"]
        ) from None


def split_list(value: Any) -> list[str]:
    """A list, or a string separated by `;`, `|` or `,`."""
    if blank(value):
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if not blank(v)]
    return [part.strip() for part in re.split(r"[;|,]", str(value)) if part.strip()]


def stable_hash(values: Mapping[str, Any] | Iterable[Any]) -> str:
    """A content hash that does not depend on key order or surrounding whitespace: the
    idempotency key of rows that carry no id of their own."""
    if isinstance(values, Mapping):
        payload: Any = sorted(
            (str(k), v.strip() if isinstance(v, str) else v) for k, v in values.items()
        )
    else:
        payload = [v.strip() if isinstance(v, str) else v for v in values]
    blob = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
