"""The feedback phase of a reference import. Entries are validated by the shared validator
(`feedback.validate.prepare_feedback`) against the id maps the earlier phases built, keyed by
(source "reference", id or content hash), and inserted in chunks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gtm_feedback_dagster.core.validation import (
    json_safe,
    normalize_keys,
    stable_hash,
    text_or_none,
)
from gtm_feedback_dagster.feedback.reference_import.context import ImportContext
from gtm_feedback_dagster.feedback.submission import entry_columns, revive
from gtm_feedback_dagster.feedback.validate import (
    REFERENCE_NAMES,
    PreparedFeedback,
    prepare_feedback,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import Feedback

REFERENCE_SOURCE = "reference"
FEEDBACK_CHUNK = 5000


class MapResolver:
    """The validator's `Resolver` over the import's id maps: references are the export's ids
    (users also by email); nothing is queried per row."""

    def __init__(self, ctx: ImportContext) -> None:
        self.ctx = ctx

    def account(self, ref: str) -> int:
        found = self.ctx.accounts.get(ref)
        if found is None:
            raise repo.NotFoundError(f"unknown account {ref!r}")
        return found

    def user(self, ref: str) -> int:
        found = self.ctx.user_id(ref)
        if found is None:
            raise repo.NotFoundError(f"unknown user {ref!r}")
        return found

    def opportunity(self, ref: str, account_id: int | None) -> int:
        found = self.ctx.opportunities.get(ref)
        if found is None:
            raise repo.NotFoundError(f"unknown opportunity {ref!r}")
        if account_id is not None and found[1] != account_id:
            raise repo.NotFoundError(f"opportunity {ref!r} belongs to another account")
        return found[0]

    def request(self, ref: str) -> int:
        found = self.ctx.requests.get(ref)
        if found is None:
            raise repo.NotFoundError(f"unknown request {ref!r}")
        return found


def reference_record(row: dict[str, Any]) -> dict[str, Any]:
    """An export entry (keys normalised) as the validator's canonical record."""
    return {
        "customer_pain": row.get("description", row.get("customer_pain")),
        "severity": row.get("severity"),
        "account": row.get("account_id"),
        "submitter": row.get("creator"),
        "opportunity": row.get("opportunity_id"),
        "links": row.get("external_links"),
        "created_at": row.get("created_at"),
        "request": row.get("request_id"),
    }


def prepare_entry(ctx: ImportContext, row: dict[str, Any]) -> PreparedFeedback:
    return prepare_feedback(
        reference_record(row),
        MapResolver(ctx),
        max_chars=ctx.max_chars,
        use_request=not ctx.route,
        names=REFERENCE_NAMES,
    )


def import_feedback(ctx: ImportContext, rows: list[dict[str, Any]]) -> None:
    counts = ctx.summary.counts["feedback"]
    with ctx.tx() as session:
        existing: dict[str, tuple[int, str]] = {
            ext: (entry_id, status)
            for ext, entry_id, status in session.execute(
                select(Feedback.external_id, Feedback.id, Feedback.status).where(
                    Feedback.source == REFERENCE_SOURCE
                )
            )
        }
    seen: set[str] = set()
    for start in range(0, len(rows), FEEDBACK_CHUNK):
        chunk = rows[start : start + FEEDBACK_CHUNK]
        new_rows: list[dict[str, Any]] = []
        revived: list[tuple[int, PreparedFeedback]] = []
        for offset, raw in enumerate(chunk):
            index = start + offset
            if not isinstance(raw, dict):
                counts.invalid += 1
                ctx.summary.problem("feedback", index, None, "an entry must be an object")
                continue
            row = normalize_keys(raw)
            ref = text_or_none(row.get("id"), 300)
            key = ref or "hash:" + stable_hash(row)
            if key in seen:
                counts.existing += 1
                continue
            seen.add(key)
            found = existing.get(key)
            if found is not None and found[1] != "invalid":
                counts.existing += 1  # stored before; routing may have moved it since
                continue
            prepared = prepare_entry(ctx, row)
            if found is not None:
                if prepared.valid:
                    revived.append((found[0], prepared))
                    counts.updated += 1
                else:
                    counts.invalid += 1
                    ctx.summary.problem("feedback", index, ref, "; ".join(prepared.problems), True)
                continue
            meta = json_safe(row["metadata"]) if isinstance(row.get("metadata"), dict) else {}
            request_ref = text_or_none(row.get("request_id"))
            if request_ref is not None:
                # Kept even when routing decides (--route), to compare against afterwards.
                meta.setdefault("referenceRequestId", request_ref)
            columns = entry_columns(prepared, raw, ctx.now)
            if prepared.request_id is not None:
                columns["reason"] = "attached in the reference system"
                columns["routed_at"] = columns["created_at"]
            columns.update(source=REFERENCE_SOURCE, external_id=key, meta=meta, attempts=0)
            new_rows.append(columns)
            if prepared.valid:
                counts.created += 1
            else:
                counts.invalid += 1
                ctx.summary.problem("feedback", index, ref, "; ".join(prepared.problems), True)
        with ctx.tx() as session:
            repo.bulk_insert_ignore(session, Feedback, new_rows, ["source", "external_id"])
            for entry_id, prepared in revived:
                entry = session.get(Feedback, entry_id)
                if entry is not None:
                    revive(entry, prepared)
        ctx.progress(len(chunk))
