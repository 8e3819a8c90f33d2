"""Plain-text tables and JSON for the command line."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any


def _cell(value: Any, width: int | None) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:,.0f}"
    elif isinstance(value, list | tuple):
        text = ",".join(str(v) for v in value) or "-"
    else:
        text = str(value)
    text = " ".join(text.split())  # one line per row, whatever the text holds
    if width is not None and len(text) > width:
        text = text[: max(1, width - 1)] + "…"
    return text


def format_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    widths: dict[str, int] | None = None,
    empty: str = "(none)",
) -> str:
    """Columns aligned with two spaces; numbers right-aligned; long text cut to `widths`."""
    if not rows:
        return empty
    widths = widths or {}
    cells = [[_cell(row.get(c), widths.get(c)) for c in columns] for row in rows]
    sizes = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(
            isinstance(row.get(c), int | float) and not isinstance(row.get(c), bool) for row in rows
        )
        for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(sizes[i]) if numeric[i] else v.ljust(sizes[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    header = line([c.upper() for c in columns])
    return "\n".join([header, *(line(r) for r in cells)])


def format_fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`key: value` lines with the keys aligned."""
    size = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(
        f"{k.ljust(size)}  {_cell(v, None) if not isinstance(v, str) else v}" for k, v in pairs
    )


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def confidence_text(confidence: float | None) -> str:
    """`routing.decide.format_confidence` (two decimals rounded down: 0.8999 reads "0.89"),
    without importing routing, its LLM client and openai (~1 s of a `search` answered by the
    service on a loaded machine); a test keeps the two equal."""
    if confidence is None:
        return "-"
    return f"{math.floor(float(confidence) * 100 + 1e-6) / 100:.2f}"
