"""Validation of feedback entries coming from any intake (CLI, CSV, HTTP, Slack).

Plain Python so every intake path applies exactly the same rules and messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class FeedbackInput:
    """A validated entry; references (account, submitter, ...) are still unresolved strings."""

    customer_pain: str
    severity: str
    account: str
    submitter: str
    opportunity: str | None = None
    links: list[str] = field(default_factory=list)


def validate_feedback(
    data: dict[str, Any], max_chars: int = DEFAULT_MAX_TEXT_CHARS
) -> FeedbackInput:
    """Collects every problem at once, so a user fixes a row in one go."""
    problems: list[str] = []

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            problems.extend(exc.problems)
            return None

    pain = attempt(
        clean_text,
        data.get("customer_pain", data.get("text")),
        max_chars,
        what="customer_pain",
    )
    severity = attempt(parse_severity, data.get("severity"))
    account = _ref(data.get("account"))
    if account is None:
        problems.append("account is required")
    submitter = _ref(data.get("submitter"))
    if submitter is None:
        problems.append("submitter is required")
    links = attempt(parse_links, data.get("links"))
    if problems:
        raise ValidationError(problems)
    return FeedbackInput(
        customer_pain=pain,
        severity=severity,
        account=account or "",
        submitter=submitter or "",
        opportunity=_ref(data.get("opportunity")),
        links=links or [],
    )


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def slugify(text: str, max_len: int = 80) -> str:
    """`"API & Developer Tools"` -> `api-developer-tools` (the reference's rule)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "item"
