"""Validation rules and value parsing shared by every intake (CLI, CSV, HTTP, Slack, reference
import) and by the catalogue upserts.

Plain Python so every intake path applies exactly the same rules and messages. Imported data
comes from spreadsheets and other systems: column names in any case or style (`accountId`,
`Account ID`, `account_id`), numbers with currency signs, booleans as yes/no. The parsers turn
them into plain values or raise `ValidationError` with a message a user can act on. The feedback
validator that combines them with reference lookups is `feedback.validate.prepare_feedback`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

SEVERITY_LABELS = {"low": "Nice to have", "medium": "Significant pain", "high": "Dealbreaker"}
SEVERITY_EMOJI = {"low": "👌", "medium": "⚠️", "high": "🚨"}

# Accept the stored value, the Slack form value and the user-facing label, case-insensitively.
_SEVERITY_ALIASES = {
    "low": "low",
    "nice_to_have": "low",
    "nice to have": "low",
    "medium": "medium",
    "significant_pain": "medium",
    "significant pain": "medium",
    "high": "high",
    "dealbreaker": "high",
    "deal breaker": "high",
}

DEFAULT_MAX_TEXT_CHARS = 5000
MAX_LINKS = 20
_URL_RE = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)


class ValidationError(ValueError):
    """Input that cannot be stored as a pending entry; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_severity(value: Any) -> str:
    if value is None or str(value).strip() == "":
        raise ValidationError(["severity is required (low|medium|high)"])
    key = str(value).strip().lower().replace("-", "_")
    if key not in _SEVERITY_ALIASES:
        key = key.replace("_", " ")
    if key not in _SEVERITY_ALIASES:
        raise ValidationError(
            [
                f"unknown severity {str(value)[:40]!r}: use low|medium|high "
                "(or Nice to have|Significant pain|Dealbreaker)"
            ]
        )
    return _SEVERITY_ALIASES[key]


def severity_label(severity: str | None) -> str:
    if severity is None:
        return "Unknown"
    return f"{SEVERITY_EMOJI.get(severity, '')} {SEVERITY_LABELS.get(severity, severity)}".strip()


def parse_links(value: Any) -> list[str]:
    """Links come as a list or a comma/whitespace separated string; empties are dropped."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value))
    links = [str(item).strip() for item in items if str(item).strip()]
    bad = [link for link in links if not _URL_RE.match(link)]
    if bad:
        raise ValidationError([f"not an http(s) link: {bad[0][:80]!r}"])
    if len(links) > MAX_LINKS:
        raise ValidationError([f"too many links ({len(links)} > {MAX_LINKS})"])
    return links


def clean_text(value: Any, max_chars: int = DEFAULT_MAX_TEXT_CHARS, what: str = "text") -> str:
    if value is None:
        raise ValidationError([f"{what} is required"])
    if not isinstance(value, str):
        raise ValidationError([f"{what} must be a string"])
    text = value.replace("\x00", "").strip()
    if not text:
        raise ValidationError([f"{what} is empty"])
    if len(text) > max_chars:
        raise ValidationError([f"{what} is too long ({len(text)} > {max_chars} characters)"])
    return text


def slugify(text: str, max_len: int = 80) -> str:
    """`"API & Developer Tools"` -> `api-developer-tools` (the reference's rule)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "item"


# ---------------------------------------------------------------------------- value parsing

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


def format_iso(value: datetime | None) -> str | None:
    """A timestamp as listings and details print it (seconds precision), or None."""
    return value.isoformat(timespec="seconds") if value else None
