"""Money as people read it, the one format for Slack messages, reports and the CLI."""

from __future__ import annotations


def format_arr(value: float | int | None) -> str:
    """The reference's ARR format: `$0`, `$950`, `$12.5K`, `$1.3M`."""
    amount = float(value or 0)
    if amount <= 0:
        return "$0"
    if amount >= 1_000_000:
        return f"${amount / 1_000_000:.1f}M"
    if amount >= 1_000:
        return f"${amount / 1_000:.1f}K"
    return f"${amount:.0f}"
