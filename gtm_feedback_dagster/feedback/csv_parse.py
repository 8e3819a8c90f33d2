"""Parsing of CSV files for the import, record by record, so one bad line never takes its
neighbours down: a line with bytes that are not UTF-8, a stray quote or the wrong number of
columns becomes one record with a `problem`, and parsing resumes on the next line. Also tells
which kind of rows a header describes (docs/import-formats.md).

The delimiter is read from the header line (`csv.Sniffer` over `,` `;` tab `|`): a file saved by a
spreadsheet with semicolons (European locales) is read as such, and the import says so."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from gtm_feedback_dagster.core.validation import normalize_key

DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
KINDS = ("feedback", "areas", "users", "accounts", "opportunities", "requests")
# A quoted field may span lines, but a record swallowing this many lines is a stray quote.
MAX_RECORD_LINES = 200


@dataclass
class CsvRecord:
    """One parsed record: its first line number, its values (header -> text) or the reason it
    could not be parsed, and its text as read (kept with invalid entries)."""

    line: int
    text: str
    fields: list[str] | None = None  # as parsed, before they are matched to the header
    values: dict[str, str] | None = None
    problem: str | None = None
    end: int = 0  # index of the line after the record


def _decode_lines(data: bytes) -> list[tuple[str, str | None]]:
    """Physical lines (endings kept) decoded one by one, so a bad byte spoils only its line."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines: list[tuple[str, str | None]] = []
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append((raw.decode("utf-8"), None))
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            problem = (
                f"line {number} is not valid UTF-8 (byte 0x{bad} at column {exc.start + 1}); "
                "save the file as UTF-8"
            )
            lines.append((raw.decode("utf-8", errors="replace"), problem))
    return lines


class _LineFeeder:
    """Feeds physical lines to `csv.reader` and remembers how many it took."""

    def __init__(self, lines: list[tuple[str, str | None]], start: int) -> None:
        self.lines = lines
        self.pos = start

    def __iter__(self) -> _LineFeeder:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1][0]


def sniff_delimiter(first_line: str) -> str:
    """The header line's delimiter: a comma unless the line has none and another candidate
    splits it (a header of one column stays comma-separated)."""
    line = first_line.rstrip("\r\n")
    if "," in line:
        return ","
    try:
        found = csv.Sniffer().sniff(line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    return found if found in DELIMITERS else ","


@dataclass
class ParsedCsv:
    header: list[str]  # normalised names
    names: dict[str, str]  # normalised name -> the name as the file wrote it
    delimiter: str
    records: list[CsvRecord]

    @property
    def delimiter_name(self) -> str:
        return DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def _raw_records(
    lines: list[tuple[str, str | None]],
    pos: int = 0,
    columns: int | None = None,
    delimiter: str = ",",
) -> Iterator[CsvRecord]:
    """Records from line index `pos` on. A record that went wrong after spanning several lines
    (a quote never closed, or closed lines later so the column count is off) is reported by its
    first line, and parsing starts again on the line after it: the lines it swallowed are read
    as rows of their own, so a stray quote never hides its neighbours."""
    while pos < len(lines):
        feeder = _LineFeeder(lines, pos)
        reader = csv.reader(feeder, strict=True, delimiter=delimiter)
        restart_at: int | None = None
        while True:
            start = feeder.pos
            try:
                fields = next(reader)
            except StopIteration:
                pos = len(lines)
                break
            except csv.Error as exc:
                if feeder.pos - start > 1:
                    restart_at = start + 1
                    yield CsvRecord(
                        line=start + 1,
                        text=lines[start][0],
                        problem=f"malformed CSV quoting ({exc}); check the quotes on this line",
                        end=restart_at,
                    )
                    break
                yield CsvRecord(
                    line=start + 1,
                    text=lines[start][0],
                    problem=f"malformed CSV quoting ({exc})",
                    end=feeder.pos,
                )
                continue
            end = feeder.pos
            spans = end - start
            if spans > 1 and (
                spans > MAX_RECORD_LINES or (columns is not None and len(fields) != columns)
            ):
                restart_at = start + 1
                yield CsvRecord(
                    line=start + 1,
                    text=lines[start][0],
                    problem=(
                        "a quoted value runs over several lines and the row does not fit the "
                        "header; check the quotes on this line"
                    ),
                    end=restart_at,
                )
                break
            if not fields or (all(not f.strip() for f in fields) and spans == 1):
                continue  # blank line
            decode_problems = [p for _, p in lines[start:end] if p]
            yield CsvRecord(
                line=start + 1,
                text="".join(line for line, _ in lines[start:end]),
                fields=fields,
                problem=decode_problems[0] if decode_problems else None,
                end=end,
            )
        if restart_at is not None:
            pos = restart_at


def parse_csv(data: bytes) -> tuple[list[str], list[CsvRecord]]:
    """Returns (normalised header, records). Raises ValueError when there is no usable header."""
    parsed = read_csv(data)
    return parsed.header, parsed.records


def read_csv(data: bytes) -> ParsedCsv:
    """The header (normalised and as written), the delimiter and the records."""
    lines = _decode_lines(data)
    first = next((line for line, _ in lines if line.strip()), "")
    delimiter = sniff_delimiter(first)
    header_record = next(_raw_records(lines, delimiter=delimiter), None)
    if header_record is None:
        raise ValueError("the file is empty: expected a header line and rows")
    if header_record.problem or header_record.fields is None:
        raise ValueError(f"the header line cannot be read: {header_record.problem}")
    header = [normalize_key(name) for name in header_record.fields]
    names = {key: raw.strip() for key, raw in zip(header, header_record.fields, strict=True)}
    if any(not name for name in header):
        raise ValueError("the header line has an empty column name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"the header names a column twice: {', '.join(duplicates)}")
    rows: list[CsvRecord] = []
    for record in _raw_records(lines, header_record.end, len(header), delimiter):
        if record.fields is not None:
            if len(record.fields) != len(header):
                mismatch = f"expected {len(header)} columns, got {len(record.fields)}"
                record.problem = f"{record.problem}; {mismatch}" if record.problem else mismatch
            record.values = dict(zip(header, record.fields, strict=False))
        rows.append(record)
    return ParsedCsv(header, names, delimiter, rows)


def infer_kind(header: list[str]) -> str:
    """Which kind of rows a header describes (see docs/import-formats.md)."""
    columns = set(header)
    if columns & {"text", "customer_pain", "pain", "feedback"} or {"severity"} <= columns:
        return "feedback"
    if "title" in columns:
        return "requests"
    if "email" in columns:
        return "users"
    if columns & {"stage", "close_date"} or (
        "name" in columns and columns & {"account", "account_id", "account_name"}
    ):
        return "opportunities"
    if columns & {
        "arr",
        "is_enterprise",
        "domain",
        "website",
        "region",
        "region_name",
        "industry",
        "segment",
        "territory",
        "type",
    }:
        return "accounts"
    if "name" in columns and columns & {"slug", "firehose_channel", "description"}:
        return "areas"
    hint = ""
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        hint = " (the header is one column: is the file separated by something other than commas?)"
    raise ValueError(
        f"cannot tell the kind of rows from the header ({', '.join(header)}){hint}; "
        f"pass --kind ({'|'.join(KINDS)})"
    )
