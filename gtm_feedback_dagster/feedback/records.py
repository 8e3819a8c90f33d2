"""Field names of feedback records, shared by the imports (CSV, reference JSON) and the HTTP API.

Other systems name the feedback fields their own way (`description`, `accountId`, `creator`);
`canonical_feedback` maps them onto the names the validator reads. The value parsers (amounts,
booleans, dates, lists, content hashes) live in `core.validation`, next to the rules, because
the catalogue upserts use them too; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gtm_feedback_dagster.core.validation import (
    blank,
    normalize_key,
    normalize_keys,
    parse_amount,
    parse_bool,
    parse_date,
    parse_datetime,
    split_list,
    stable_hash,
    text_or_none,
)

__all__ = [
    "FEEDBACK_ALIASES",
    "blank",
    "canonical_feedback",
    "normalize_key",
    "normalize_keys",
    "parse_amount",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "split_list",
    "stable_hash",
    "text_or_none",
]

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
