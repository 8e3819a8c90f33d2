"""Migration from the reference system: loads an export in its seed shape
(users / areas / sfdcAccounts / sfdcOpportunities / requests / feedback, camelCase or snake_case
keys) into the app database.

Built for size (the benchmark file holds 30k requests and 300k entries): every table is read once
into dicts, new rows go in with many-row inserts, and nothing queries per row. Idempotent:
entities are keyed by their reference ids (kept in `external_id` columns; areas by slug), entries
by (source "reference", id or content hash), so a re-run stores nothing twice and changes only
what the export changed. Invalid entries are stored `invalid` with the reason and the original
record; invalid entities (which have nowhere to be stored) are reported.

One module per phase: `parse` (the export's sections), `entities` (users, areas, accounts,
opportunities), `requests` (requests, their areas, followers, related requests), `feedback`
(entries, through the shared validator), `report` (the summary); `context` holds what the
phases share.

`import_reference(session_or_url, data, route)` is the entry point for the CLI, the demo and the
benchmarks. Given a URL it commits phase by phase (and every few thousand entries), so an
interrupted run keeps its progress and a re-run finishes it; given a session it only flushes and
leaves the transaction to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.validation import DEFAULT_MAX_TEXT_CHARS
from gtm_feedback_dagster.feedback.reference_import.context import ImportContext
from gtm_feedback_dagster.feedback.reference_import.entities import (
    import_accounts,
    import_areas,
    import_opportunities,
    import_users,
)
from gtm_feedback_dagster.feedback.reference_import.feedback import (
    FEEDBACK_CHUNK,
    REFERENCE_SOURCE,
    import_feedback,
)
from gtm_feedback_dagster.feedback.reference_import.parse import (
    SECTION_KEYS,
    count_items,
    sections,
)
from gtm_feedback_dagster.feedback.reference_import.report import (
    KINDS,
    PROBLEM_LIMIT,
    ImportProblem,
    ImportSummary,
    KindCounts,
)
from gtm_feedback_dagster.feedback.reference_import.requests import import_requests

__all__ = [
    "FEEDBACK_CHUNK",
    "KINDS",
    "PROBLEM_LIMIT",
    "REFERENCE_SOURCE",
    "SECTION_KEYS",
    "ImportProblem",
    "ImportSummary",
    "KindCounts",
    "count_items",
    "import_reference",
]


def import_reference(
    session_or_url: Session | str,
    data: dict[str, Any],
    route: bool = False,
    *,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Loads a reference-system export (see the module docstring). With `route`, entries that
    name their request are stored `pending` so routing decides; otherwise they are stored
    `routed` (match type `manual`) on that request. `progress(n)` is called as items are done;
    `count_items(data)` is the total."""
    started = time.perf_counter()
    parts = sections(data)
    ctx = ImportContext(session_or_url, route, max_chars, progress)
    import_users(ctx, parts["users"])
    import_areas(ctx, parts["areas"])
    import_accounts(ctx, parts["accounts"])
    import_opportunities(ctx, parts["opportunities"])
    import_requests(ctx, parts["requests"])
    import_feedback(ctx, parts["feedback"])
    ctx.summary.seconds = time.perf_counter() - started
    return ctx.summary
