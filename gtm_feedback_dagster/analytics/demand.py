"""The demand of one product area as a pandas table: one row per request of the area.

Read with plain SQL over the app database (what an analyst would write), or taken from the rows
an insight report was loaded with, then aggregated with pandas in one place (`demand_frame`):
the `area_demand` asset stores it, and the insight report's tables come from it. Every figure
above one entry counts distinct things: an account that asked five times counts its ARR once,
an opportunity named by several entries counts its value once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gtm_feedback_dagster.analytics.rows import AreaData

if TYPE_CHECKING:
    import pandas as pd

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
ENTRY_COLUMNS = (
    "request_id", "entry_id", "severity", "created_at", "account_id", "account_arr",
    "is_enterprise", "segment", "opportunity_id", "opportunity_arr", "stage",
)  # fmt: skip

# Money columns: floats in the frame, formatted ($1.2M) only in metadata and text.
MONEY_COLUMNS = ("arr", "enterprise_arr", "open_opportunity_value")

COLUMNS = (
    "request_id",
    "slug",
    "title",
    "status",
    "entries",
    "accounts",
    "arr",
    "enterprise_arr",
    "dealbreaker_entries",
    "open_opportunity_value",
    "first_asked",
    "last_asked",
    "segment_mix",
    "highest_severity",
)

COLUMN_DESCRIPTIONS = {
    "request_id": "requests.id",
    "slug": "the request's slug (its URL and CLI name)",
    "title": "the request's title",
    "status": "open | shipped | deprioritized | merged",
    "entries": "feedback entries on the request",
    "accounts": "distinct accounts behind those entries",
    "arr": "ARR of the distinct accounts (each account once)",
    "enterprise_arr": "ARR of the distinct enterprise accounts",
    "dealbreaker_entries": "high-severity entries from enterprise accounts",
    "open_opportunity_value": "value of the distinct open opportunities (not Closed Won/Lost)",
    "first_asked": "first entry's time (UTC)",
    "last_asked": "last entry's time (UTC)",
    "segment_mix": "distinct accounts per segment, e.g. 'Enterprise 2, SMB 1'",
    "highest_severity": "the highest severity of its entries (low < medium < high), or empty",
}

_REQUESTS_SQL = text(
    """
    SELECT r.id AS request_id, r.slug, r.title, r.status
    FROM requests r
    JOIN request_areas ra ON ra.request_id = r.id
    JOIN product_areas pa ON pa.id = ra.area_id
    WHERE pa.slug = :area
    ORDER BY r.id
    """
)

_ENTRIES_SQL = text(
    """
    SELECT f.request_id, f.id AS entry_id, f.severity, f.created_at,
           f.account_id, a.arr AS account_arr, a.is_enterprise, a.segment,
           f.opportunity_id, o.arr AS opportunity_arr, o.stage
    FROM feedback f
    JOIN request_areas ra ON ra.request_id = f.request_id
    JOIN product_areas pa ON pa.id = ra.area_id
    LEFT JOIN accounts a ON a.id = f.account_id
    LEFT JOIN opportunities o ON o.id = f.opportunity_id
    WHERE pa.slug = :area
    """
)


def _open_stage(stage: object) -> bool:
    if not isinstance(stage, str):
        return True
    return "".join(c for c in stage.lower() if c.isalpha()) not in {"closedwon", "closedlost"}


def _segment_mix(frame: pd.DataFrame) -> str:
    accounts = frame.dropna(subset=["account_id"]).drop_duplicates("account_id")
    if accounts.empty:
        return ""
    counts = accounts["segment"].fillna("Unknown").value_counts()
    return ", ".join(
        f"{seg} {n}" for seg, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def area_totals(conn: Connection, area: str) -> dict[str, float | int]:
    """The area's figures above one request, each counting distinct things: the ARR of the
    distinct accounts asking for any request of the area, of the distinct enterprise accounts
    among them, and the value of the distinct open opportunities named."""
    import pandas as pd

    entries = pd.read_sql(_ENTRIES_SQL, conn, params={"area": area})
    accounts = entries.dropna(subset=["account_id"]).drop_duplicates("account_id")
    arr = accounts["account_arr"].astype(float).fillna(0.0)
    enterprise = accounts["is_enterprise"].fillna(False).astype(bool)
    opps = entries.dropna(subset=["opportunity_id"]).drop_duplicates("opportunity_id")
    opps = opps.loc[[_open_stage(s) for s in opps["stage"]]]
    return {
        "accounts": len(accounts),
        "arr": float(arr.sum()),
        "enterprise_arr": float(arr[enterprise.to_numpy()].sum()),
        "open_opportunities": len(opps),
        "open_opportunity_value": float(opps["opportunity_arr"].astype(float).fillna(0.0).sum()),
    }


def area_demand_frame(conn: Connection, area: str) -> pd.DataFrame:
    """One row per request of `area` (every status), ordered by distinct-account ARR."""
    import pandas as pd

    requests = pd.read_sql(_REQUESTS_SQL, conn, params={"area": area})
    entries = pd.read_sql(_ENTRIES_SQL, conn, params={"area": area})
    return demand_frame(requests, entries)


def frames_of(data: AreaData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The requests and entries of an insight report's rows, shaped as `area_demand_frame`
    reads them from the database."""
    import pandas as pd

    requests = pd.DataFrame(
        [(r.id, r.slug, r.title, r.status) for r in data.requests],
        columns=["request_id", "slug", "title", "status"],
    )
    entries: list[tuple[Any, ...]] = []
    for f in data.feedback:
        account = data.accounts.get(f.account_id) if f.account_id is not None else None
        opp = data.opportunities.get(f.opportunity_id) if f.opportunity_id is not None else None
        entries.append(
            (
                f.request_id, f.id, f.severity, f.created_at, f.account_id,
                account.arr if account else None, account.is_enterprise if account else None,
                account.segment if account else None, f.opportunity_id,
                opp.arr if opp else None, opp.stage if opp else None,
            )
        )  # fmt: skip
    return requests, pd.DataFrame(entries, columns=list(ENTRY_COLUMNS))


def demand_frame(requests: pd.DataFrame, entries: pd.DataFrame) -> pd.DataFrame:
    """One row per request of `requests` with the demand of its `entries`, ordered by
    distinct-account ARR, then entries, then id.

    Grouped operations over the whole area, not a pandas step per request: at 100x an area has
    5,182 requests, and the per-request loop this replaced took ~25 s of it on 2 cores."""
    import pandas as pd

    entries = pd.DataFrame(columns=list(ENTRY_COLUMNS)) if entries.empty else entries.copy()
    entries["created_at"] = pd.to_datetime(entries["created_at"], utc=True, format="mixed")
    entries["is_enterprise"] = entries["is_enterprise"].fillna(False).astype(bool)
    entries["account_arr"] = entries["account_arr"].astype(float).fillna(0.0)
    entries["opportunity_arr"] = entries["opportunity_arr"].astype(float).fillna(0.0)
    by_request = entries.groupby("request_id", sort=False)
    # Each account (opportunity) once per request: its first entry's row, as before.
    accounts = entries.dropna(subset=["account_id"]).drop_duplicates(["request_id", "account_id"])
    opps = entries.dropna(subset=["opportunity_id"]).drop_duplicates(
        ["request_id", "opportunity_id"]
    )
    opps = opps.loc[[_open_stage(s) for s in opps["stage"]]]
    rank = entries["severity"].map(SEVERITY_RANK)
    highest = rank.groupby(entries["request_id"]).max().dropna()
    names = {v: k for k, v in SEVERITY_RANK.items()}
    segments = (
        accounts.assign(segment=accounts["segment"].fillna("Unknown"))
        .groupby(["request_id", "segment"])
        .size()
        .rename("n")
        .reset_index()
    )
    segments["neg"] = -segments["n"]
    segments = segments.sort_values(["request_id", "neg", "segment"])
    segments["text"] = segments["segment"].astype(str) + " " + segments["n"].astype(str)
    per_request: dict[str, Any] = {
        "entries": by_request.size(),
        "accounts": accounts.groupby("request_id").size(),
        "arr": accounts.groupby("request_id")["account_arr"].sum(),
        "enterprise_arr": accounts[accounts["is_enterprise"]]
        .groupby("request_id")["account_arr"]
        .sum(),
        "dealbreaker_entries": ((entries["severity"] == "high") & entries["is_enterprise"])
        .groupby(entries["request_id"])
        .sum(),
        "open_opportunity_value": opps.groupby("request_id")["opportunity_arr"].sum(),
        "first_asked": by_request["created_at"].min(),
        "last_asked": by_request["created_at"].max(),
        "segment_mix": segments.groupby("request_id", sort=False)["text"].agg(", ".join),
        "highest_severity": highest.map(lambda r: names[int(r)]),
    }
    empty: dict[str, Any] = {
        "entries": 0, "accounts": 0, "arr": 0.0, "enterprise_arr": 0.0,
        "dealbreaker_entries": 0, "open_opportunity_value": 0.0, "first_asked": pd.NaT,
        "last_asked": pd.NaT, "segment_mix": "", "highest_severity": "",
    }  # fmt: skip
    ids = requests["request_id"]
    rows = {
        "request_id": ids.astype("int64").to_numpy(),
        "slug": requests["slug"].to_numpy(),
        "title": requests["title"].to_numpy(),
        "status": requests["status"].to_numpy(),
    }
    for column, values in per_request.items():
        mapped = ids.map(values) if len(values) else pd.Series([None] * len(ids), dtype=object)
        if column in ("first_asked", "last_asked"):
            rows[column] = pd.to_datetime(mapped, utc=True).to_numpy()
        else:
            rows[column] = mapped.where(mapped.notna(), empty[column]).to_numpy()
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype(
        {
            "request_id": "int64",
            "entries": "int64",
            "accounts": "int64",
            "dealbreaker_entries": "int64",
            "arr": "float64",
            "enterprise_arr": "float64",
            "open_opportunity_value": "float64",
        }
    )
    for col in ("first_asked", "last_asked"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.sort_values(
        ["arr", "entries", "request_id"], ascending=[False, False, True]
    ).reset_index(drop=True)


def top_requests(frame: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    """The report's "Top requests" table: open requests by the ARR of their distinct accounts
    (then entries, then id), as JSON-safe dicts."""
    # Sorted here too: a frame read back from its table comes in no particular order.
    top = (
        frame[frame["status"] == "open"]
        .sort_values(["arr", "entries", "request_id"], ascending=[False, False, True])
        .head(limit)
    )
    return [
        {
            "requestId": int(r.request_id),
            "slug": r.slug,
            "title": r.title,
            "arr": float(r.arr),
            "feedbackCount": int(r.entries),
            "accountCount": int(r.accounts),
            "highestSeverity": r.highest_severity or None,
        }
        for r in top.itertuples(index=False)
    ]
