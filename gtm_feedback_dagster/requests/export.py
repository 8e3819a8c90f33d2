"""CSV exports for spreadsheets: requests with their demand, and feedback entries.

Built with plain SQL and pandas. Customer text is untrusted and a spreadsheet evaluates a cell
that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a carriage return) as a formula
(CSV injection, OWASP): every such text cell is neutralised by prefixing a single quote, the
OWASP rule. Numbers stay numbers. The stored data is unchanged; only the file is neutralised.

ARR per request counts each account once, however many of its entries are on the request.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

REQUEST_COLUMNS = (
    "request_id",
    "slug",
    "title",
    "status",
    "areas",
    "entries",
    "accounts",
    "arr",
    "created_at",
)
FEEDBACK_COLUMNS = (
    "entry_id",
    "created_at",
    "source",
    "status",
    "severity",
    "customer_pain",
    "account",
    "account_arr",
    "submitter",
    "request_slug",
    "request_title",
)

_AREA_FILTER = """
    EXISTS (SELECT 1 FROM request_areas ra JOIN product_areas pa ON pa.id = ra.area_id
            WHERE ra.request_id = {column} AND pa.slug = :area)
"""

_REQUESTS_SQL = """
    SELECT r.id AS request_id, r.slug, r.title, r.status, r.created_at
    FROM requests r
    WHERE (:area IS NULL OR {area_filter})
    ORDER BY r.id
"""

_REQUEST_AREAS_SQL = """
    SELECT ra.request_id, pa.slug AS area
    FROM request_areas ra JOIN product_areas pa ON pa.id = ra.area_id
    ORDER BY ra.request_id, pa.slug
"""

_ATTACHED_SQL = """
    SELECT f.request_id, f.id AS entry_id, f.account_id, a.arr AS account_arr
    FROM feedback f LEFT JOIN accounts a ON a.id = f.account_id
    WHERE f.request_id IS NOT NULL AND (:area IS NULL OR {area_filter})
"""

_FEEDBACK_SQL = """
    SELECT f.id AS entry_id, f.created_at, f.source, f.status, f.severity, f.customer_pain,
           a.name AS account, a.arr AS account_arr, u.email AS submitter,
           r.slug AS request_slug, r.title AS request_title
    FROM feedback f
    LEFT JOIN accounts a ON a.id = f.account_id
    LEFT JOIN users u ON u.id = f.submitter_id
    LEFT JOIN requests r ON r.id = f.request_id
    WHERE (:area IS NULL OR (f.request_id IS NOT NULL AND {area_filter}))
    ORDER BY f.id
"""


def _sql(template: str, column: str) -> Any:
    return text(template.format(area_filter=_AREA_FILTER.format(column=column)))


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would read as a formula gets a leading single quote; anything
    else (numbers, empty cells, ordinary text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def requests_frame(conn: Connection, area: str | None = None) -> pd.DataFrame:
    """One row per request (of `area` when given): entries attached, distinct accounts and the
    ARR of those distinct accounts."""
    import pandas as pd

    params = {"area": area}
    requests = pd.read_sql(_sql(_REQUESTS_SQL, "r.id"), conn, params=params)
    attached = pd.read_sql(_sql(_ATTACHED_SQL, "f.request_id"), conn, params=params)
    areas = pd.read_sql(text(_REQUEST_AREAS_SQL), conn)
    area_names = areas.groupby("request_id")["area"].agg(", ".join)
    entries = attached.groupby("request_id")["entry_id"].count()
    distinct = attached.dropna(subset=["account_id"]).drop_duplicates(["request_id", "account_id"])
    accounts = distinct.groupby("request_id")["account_id"].count()
    arr = distinct.assign(account_arr=distinct["account_arr"].astype(float).fillna(0.0))
    arr_sum = arr.groupby("request_id")["account_arr"].sum()
    ids = requests["request_id"]
    frame = requests.assign(
        areas=ids.map(area_names).fillna(""),
        entries=ids.map(entries).fillna(0).astype(int),
        accounts=ids.map(accounts).fillna(0).astype(int),
        arr=ids.map(arr_sum).fillna(0.0).astype(float),
    )
    return frame[list(REQUEST_COLUMNS)]


def feedback_frame(conn: Connection, area: str | None = None) -> pd.DataFrame:
    """One row per feedback entry (on a request of `area` when given), with its account,
    submitter and request."""
    import pandas as pd

    frame = pd.read_sql(_sql(_FEEDBACK_SQL, "f.request_id"), conn, params={"area": area})
    return frame[list(FEEDBACK_COLUMNS)]


def write_csv(frame: pd.DataFrame, out: Path | IO[str]) -> int:
    """Writes `frame` as UTF-8 CSV (RFC 4180 rows) with every text cell neutralised; returns the row count."""
    from pandas.api.types import is_numeric_dtype

    safe = frame.copy()
    for column in safe.columns:
        if not is_numeric_dtype(safe[column]):  # object or string columns (pandas 2 and 3)
            safe[column] = safe[column].map(neutralise)
    # CRLF rows (RFC 4180): the csv module then quotes every cell holding a CR or LF, so a
    # bare CR inside customer text cannot end a row (with pandas' default "\n" it does).
    safe.to_csv(out, index=False, lineterminator="\r\n")
    return len(safe)
