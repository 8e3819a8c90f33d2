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
# Ids are 64-bit integers (BIGINT on PostgreSQL, INTEGER on SQLite); a bigger number is no id.
MAX_DB_INT = 2**63 - 1
# C0/C1 control characters (tab, newline and carriage return excepted) and the bidirectional
# embeddings, overrides and isolates that make text display differently from what it says.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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


def as_db_id(value: Any) -> int | None:
    """`value` as a primary key when it is a whole number the database can hold (digits only,
    at most 2^63 - 1), else None: a bigger number is looked up as a name, never sent to the
    database as an integer (SQLite raises OverflowError on it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -MAX_DB_INT - 1 <= value <= MAX_DB_INT else None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_DB_INT)):
        return None
    number = int(text)
    return number if number <= MAX_DB_INT else None


def parse_limit(value: Any, *, default: int, maximum: int, what: str = "limit") -> int:
    """A `limit`-style count from a query string or option: 1..`maximum`, `default` when blank.
    Checked as text first, so 5,000 digits are refused without converting them."""
    problem = ValidationError([f"{what} must be a whole number from 1 to {maximum}"])
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise problem
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        raise problem
    number = int(text)
    if not 1 <= number <= maximum:
        raise problem
    return number


def clamp_limit(limit: int) -> int:
    """A listing's LIMIT within what the database takes (1 .. 2^63 - 1)."""
    return max(1, min(int(limit), MAX_DB_INT))


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities (which Python's json reads and writes, but standard JSON
    and PostgreSQL refuse) replaced by their names as strings, at any depth."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


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


def strip_controls(text: str) -> str:
    """`text` without control characters and bidirectional overrides (see `_CONTROL_RE`): what
    is stored and printed; intakes keep the original in the entry's `raw`."""
    return _CONTROL_RE.sub("", text)


def clean_text(value: Any, max_chars: int = DEFAULT_MAX_TEXT_CHARS, what: str = "text") -> str:
    if value is None:
        raise ValidationError([f"{what} is required"])
    if not isinstance(value, str):
        raise ValidationError([f"{what} must be a string"])
    text = strip_controls(value).strip()
    if not text:
        raise ValidationError([f"{what} is empty"])
    if len(text) > max_chars:
        raise ValidationError([f"{what} is too long ({len(text)} > {max_chars} characters)"])
    return text


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


# Commas are accepted only between groups of three digits (`1,200,000.50`): `1,5` or
# `€1.200,50` use a comma as the decimal separator, and guessing which one was meant is wrong
# a thousand times over as often as not.
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?[kKmM]?")


def parse_amount(value: Any, what: str) -> float:
    """`420000`, `420,000.50`, `$420k` are accepted; empty means 0. An amount whose decimal
    separator is ambiguous (`1,5`, `€1.200,50`) is refused rather than misread."""
    if blank(value):
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = float("inf")
    else:
        text = str(value).strip().replace("$", "").replace("€", "").strip()
        if "," in text:
            if not _THOUSANDS_RE.fullmatch(text):
                raise ValidationError(
                    [
                        f"{what} {str(value)[:40]!r} has an ambiguous decimal separator: write "
                        "digits with a dot for decimals (commas only between thousands)"
                    ]
                )
            text = text.replace(",", "")
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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last representable day
        raise ValidationError([f"{what} is out of range, got {str(value)[:40]!r}"]) from None


def parse_date(value: Any, what: str) -> date | None:
    """An ISO date (`2024-03-01`), or the date of an ISO date-time; nothing may follow it."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
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
