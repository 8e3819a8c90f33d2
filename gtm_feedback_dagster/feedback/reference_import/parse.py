"""Reading the export: which key holds each kind's list (seed shape, camelCase or snake_case)."""

from __future__ import annotations

from typing import Any

SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("users",),
    "areas": ("areas", "product_areas", "productAreas"),
    "accounts": ("sfdcAccounts", "sfdc_accounts", "accounts"),
    "opportunities": ("sfdcOpportunities", "sfdc_opportunities", "opportunities"),
    "requests": ("requests",),
    "feedback": ("feedback",),
}


def section(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The export's list of `kind` items (empty when absent)."""
    for key in SECTION_KEYS[kind]:
        if key in data and data[key] is not None:
            value = data[key]
            if not isinstance(value, list):
                raise ValueError(f"{key!r} must be a list, got {type(value).__name__}")
            return value
    return []


def sections(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(data, dict):
        raise ValueError("the export must be a JSON object with users, areas, requests, ...")
    return {kind: section(data, kind) for kind in SECTION_KEYS}


def count_items(data: dict[str, Any]) -> int:
    """How many items the export holds (the progress total)."""
    return sum(len(section(data, kind)) for kind in SECTION_KEYS) if isinstance(data, dict) else 0
