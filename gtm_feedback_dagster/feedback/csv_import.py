"""CSV import of feedback entries and of the entities they refer to.

The file is parsed record by record (`feedback.csv_parse`) so one bad line never takes its
neighbours down: a line with bytes that are not UTF-8, a stray quote or the wrong number of
columns becomes one reported (and, for feedback, stored `invalid`) row. Rows are written in
batches (one transaction per batch, a savepoint per entity row) so a 3,000-row file takes a few
seconds while a row that the database refuses is reported instead of failing the batch.

Idempotent: feedback rows are keyed by (source "csv", external_id) where external_id is the
row's `external_id` column or a hash of its content; entity rows are upserted by their natural
key. The columns of each kind are documented in docs/import-formats.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from gtm_feedback_dagster.catalog import entities
from gtm_feedback_dagster.catalog.resolver import RefResolver
from gtm_feedback_dagster.core.validation import DEFAULT_MAX_TEXT_CHARS, ValidationError
from gtm_feedback_dagster.feedback.csv_parse import (
    DELIMITER_NAMES,
    KINDS,
    CsvRecord,
    infer_kind,
    parse_csv,
    read_csv,
)
from gtm_feedback_dagster.feedback.records import FEEDBACK_ALIASES, canonical_feedback, stable_hash
from gtm_feedback_dagster.feedback.submission import entry_columns, revive
from gtm_feedback_dagster.feedback.validate import (
    FieldNames,
    PreparedFeedback,
    empty_values,
    prepare_feedback,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, Follower, utcnow

__all__ = [
    "KINDS",
    "CsvImportReport",
    "CsvRecord",
    "RowProblem",
    "import_csv",
    "infer_kind",
    "parse_csv",
]

CSV_SOURCE = "csv"
BATCH_ROWS = 500


@dataclass
class RowProblem:
    line: int
    reason: str
    entry_id: int | None = None  # the `invalid` feedback entry that keeps the row


@dataclass
class CsvImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    existing: int = 0
    updated: int = 0
    invalid: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    delimiter: str = ","

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "existing": self.existing,
            "updated": self.updated,
            "invalid": self.invalid,
            "delimiter": DELIMITER_NAMES.get(self.delimiter, self.delimiter),
            "problems": [
                {"line": p.line, "reason": p.reason, "entry_id": p.entry_id} for p in self.problems
            ],
        }


# ---------------------------------------------------------------------------- parsing


# ---------------------------------------------------------------------------- import


def import_csv(
    database_url: str,
    data: bytes | str | Path,
    kind: str | None = None,
    *,
    route: bool = False,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> CsvImportReport:
    """Imports a CSV file (path or bytes). `on_start(total_rows)` is called once the file is
    parsed, `progress(n)` after every n rows written."""
    if isinstance(data, Path | str) and not isinstance(data, bytes):
        data = Path(data).read_bytes()
    parsed = read_csv(data)
    header, records = parsed.header, parsed.records
    kind = kind or infer_kind(header)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    report = CsvImportReport(kind=kind, rows=len(records), delimiter=parsed.delimiter)
    names = field_names(header, parsed.names)
    if on_start is not None:
        on_start(len(records))
    memo: dict[Any, Any] = {}
    for start in range(0, len(records), BATCH_ROWS):
        batch = records[start : start + BATCH_ROWS]
        with session_scope(database_url) as session:
            resolver = RefResolver(session, memo=memo)
            if kind == "feedback":
                _feedback_batch(
                    session,
                    resolver,
                    batch,
                    report,
                    route=route,
                    max_chars=max_chars,
                    names=names,
                )
            else:
                _entity_batch(session, resolver, kind, batch, report, max_chars=max_chars)
            # Rows of this batch may have created what earlier misses looked for.
            resolver.forget_missing()
        if progress is not None:
            progress(len(batch))
    report.problems.sort(key=lambda p: p.line)
    return report


def field_names(header: list[str], written: dict[str, str]) -> FieldNames:
    """Problems name the columns as the file wrote them (`Pain` when the file says `Pain`, not
    `customer_pain`): for each canonical field, the first alias the header has."""
    present = set(header)

    def name_of(canonical: str) -> str:
        for alias in FEEDBACK_ALIASES[canonical]:
            if alias in present:
                return written.get(alias, alias)
        return canonical

    return FieldNames(
        customer_pain=name_of("customer_pain"),
        account=name_of("account"),
        submitter=name_of("submitter"),
        created_at=name_of("created_at"),
    )


def _feedback_key(record: CsvRecord, canonical: dict[str, Any]) -> str:
    explicit = canonical.get("external_id")
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip()[:300]
    if record.values is not None and record.problem is None:
        return "row:" + stable_hash(record.values)
    return "line:" + stable_hash([record.text])


def _feedback_batch(
    session: Session,
    resolver: RefResolver,
    batch: list[CsvRecord],
    report: CsvImportReport,
    *,
    route: bool,
    max_chars: int,
    names: FieldNames | None = None,
) -> None:
    prepared_rows: list[tuple[CsvRecord, str, PreparedFeedback, dict[str, Any]]] = []
    for record in batch:
        canonical = canonical_feedback(record.values) if record.values else {}
        key = _feedback_key(record, canonical)
        if record.problem is not None:
            prepared = PreparedFeedback(values=empty_values(), problems=[record.problem])
            raw: dict[str, Any] = {
                "line": record.line,
                "text": record.text[: max_chars * 2],
                "parse_error": record.problem,
            }
            if record.values:
                raw["values"] = record.values
        else:
            prepared = prepare_feedback(
                canonical,
                resolver,
                max_chars=max_chars,
                use_request=not route,
                names=names or FieldNames(),
            )
            raw = {"line": record.line, "values": record.values}
        prepared_rows.append((record, key, prepared, raw))

    keys = [key for _, key, _, _ in prepared_rows]
    existing = {
        ext: (entry_id, status)
        for ext, entry_id, status in session.execute(
            select(Feedback.external_id, Feedback.id, Feedback.status).where(
                Feedback.source == CSV_SOURCE, Feedback.external_id.in_(keys)
            )
        )
    }
    new_rows: list[tuple[CsvRecord, dict[str, Any], PreparedFeedback]] = []
    seen: set[str] = set()
    now = utcnow()
    for record, key, prepared, raw in prepared_rows:
        if key in existing:
            entry_id, status = existing[key]
            if status == "invalid" and prepared.valid:
                entry = session.get(Feedback, entry_id)
                assert entry is not None
                revive(entry, prepared)
                report.add("updated")
                _follow_if_routed(session, entry.submitter_id, entry.request_id)
            elif prepared.valid:
                report.add("existing")
            else:
                report.add("invalid")
                report.problems.append(
                    RowProblem(record.line, "; ".join(prepared.problems), entry_id)
                )
            continue
        if key in seen:  # the same row twice in one file: stored once
            if prepared.valid:
                report.add("existing")
            else:
                report.add("invalid")
                report.problems.append(RowProblem(record.line, "; ".join(prepared.problems)))
            continue
        seen.add(key)
        columns = entry_columns(prepared, raw, now)
        columns.update(source=CSV_SOURCE, external_id=key, meta={}, attempts=0)
        new_rows.append((record, columns, prepared))

    _insert_entries(session, new_rows, report)


def _insert_entries(
    session: Session,
    new_rows: list[tuple[CsvRecord, dict[str, Any], PreparedFeedback]],
    report: CsvImportReport,
) -> None:
    if not new_rows:
        return
    try:
        with session.begin_nested():
            repo.bulk_insert_ignore(
                session,
                Feedback,
                [columns for _, columns, _ in new_rows],
                ["source", "external_id"],
            )
        stored = [(record, columns, prepared, None) for record, columns, prepared in new_rows]
    except DBAPIError:
        # Something in the batch was refused: store row by row so only that row is lost to the
        # report (and the rest is kept).
        stored = []
        for record, columns, prepared in new_rows:
            try:
                with session.begin_nested():
                    repo.bulk_insert_ignore(session, Feedback, [columns], ["source", "external_id"])
                stored.append((record, columns, prepared, None))
            except DBAPIError as exc:
                stored.append((record, columns, prepared, _db_reason(exc)))
    ids = {
        ext: entry_id
        for ext, entry_id in session.execute(
            select(Feedback.external_id, Feedback.id).where(
                Feedback.source == CSV_SOURCE,
                Feedback.external_id.in_([columns["external_id"] for _, columns, _ in new_rows]),
            )
        )
    }
    follows: list[dict[str, Any]] = []
    for record, columns, prepared, failure in stored:
        if failure is not None:
            report.add("invalid")
            report.problems.append(RowProblem(record.line, f"could not be stored: {failure}"))
        elif not prepared.valid:
            report.add("invalid")
            report.problems.append(
                RowProblem(
                    record.line, "; ".join(prepared.problems), ids.get(columns["external_id"])
                )
            )
        else:
            report.add("created")
            if columns["status"] == "routed" and columns["submitter_id"]:
                follows.append(
                    {
                        "user_id": columns["submitter_id"],
                        "request_id": columns["request_id"],
                        "created_at": utcnow(),
                    }
                )
    if follows:
        repo.bulk_insert_ignore(session, Follower, follows, ["user_id", "request_id"])


def _follow_if_routed(session: Session, user_id: int | None, request_id: int | None) -> None:
    if user_id is not None and request_id is not None:
        repo.follow(session, user_id, request_id)


def _db_reason(exc: DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if isinstance(exc, IntegrityError):
        return f"conflicts with an existing record ({text[:200]})"
    return text[:200]


def _entity_batch(
    session: Session,
    resolver: RefResolver,
    kind: str,
    batch: list[CsvRecord],
    report: CsvImportReport,
    *,
    max_chars: int,
) -> None:
    handler = entities.HANDLERS[kind]
    for record in batch:
        if record.problem is not None or record.values is None:
            report.add("invalid")
            report.problems.append(RowProblem(record.line, record.problem or "unreadable row"))
            continue
        try:
            with session.begin_nested():
                outcome = handler(session, resolver, record.values)
        except (ValidationError, repo.NotFoundError, ValueError) as exc:
            report.add("invalid")
            report.problems.append(RowProblem(record.line, str(exc)))
            continue
        except DBAPIError as exc:
            report.add("invalid")
            report.problems.append(RowProblem(record.line, _db_reason(exc)))
            continue
        report.add(outcome)
