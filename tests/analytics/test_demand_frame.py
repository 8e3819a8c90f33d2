"""`demand_frame` (grouped pandas over the whole area) gives what the per-request loop it
replaced gave, on random areas: duplicate accounts and opportunities, missing ones, closed
stages, unknown severities, requests without entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from gtm_feedback_dagster.analytics.demand import (
    COLUMNS,
    ENTRY_COLUMNS,
    SEVERITY_RANK,
    _open_stage,
    _segment_mix,
    demand_frame,
)


def _reference(requests: pd.DataFrame, entries: pd.DataFrame) -> pd.DataFrame:
    """The per-request implementation before issue 14 (kept as the specification)."""
    entries = pd.DataFrame(columns=list(ENTRY_COLUMNS)) if entries.empty else entries.copy()
    entries["created_at"] = pd.to_datetime(entries["created_at"], utc=True, format="mixed")
    entries["is_enterprise"] = entries["is_enterprise"].fillna(False).astype(bool)
    entries["account_arr"] = entries["account_arr"].astype(float).fillna(0.0)
    entries["opportunity_arr"] = entries["opportunity_arr"].astype(float).fillna(0.0)
    rows = []
    grouped = dict(tuple(entries.groupby("request_id"))) if not entries.empty else {}
    for req in requests.itertuples(index=False):
        f = grouped.get(req.request_id)
        if f is None or f.empty:
            rows.append(
                {
                    "request_id": int(req.request_id), "slug": req.slug, "title": req.title,
                    "status": req.status, "entries": 0, "accounts": 0, "arr": 0.0,
                    "enterprise_arr": 0.0, "dealbreaker_entries": 0,
                    "open_opportunity_value": 0.0, "first_asked": pd.NaT,
                    "last_asked": pd.NaT, "segment_mix": "", "highest_severity": "",
                }
            )  # fmt: skip
            continue
        accounts = f.dropna(subset=["account_id"]).drop_duplicates("account_id")
        opps = f.dropna(subset=["opportunity_id"]).drop_duplicates("opportunity_id")
        opps = opps.loc[[_open_stage(s) for s in opps["stage"]]]
        rows.append(
            {
                "request_id": int(req.request_id),
                "slug": req.slug,
                "title": req.title,
                "status": req.status,
                "entries": len(f),
                "accounts": len(accounts),
                "arr": float(accounts["account_arr"].sum()),
                "enterprise_arr": float(accounts[accounts["is_enterprise"]]["account_arr"].sum()),
                "dealbreaker_entries": int(((f["severity"] == "high") & f["is_enterprise"]).sum()),
                "open_opportunity_value": float(opps["opportunity_arr"].sum()),
                "first_asked": f["created_at"].min(),
                "last_asked": f["created_at"].max(),
                "segment_mix": _segment_mix(f),
                "highest_severity": max(
                    (s for s in f["severity"] if s in SEVERITY_RANK),
                    key=SEVERITY_RANK.__getitem__,
                    default="",
                ),
            }
        )
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


def _area(seed: int, n_requests: int, n_entries: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    requests = pd.DataFrame(
        {
            "request_id": np.arange(1, n_requests + 1) * 3,
            "slug": [f"r{i}" for i in range(n_requests)],
            "title": [f"Request {i}" for i in range(n_requests)],
            "status": rng.choice(["open", "shipped", "deprioritized"], n_requests),
        }
    )
    accounts = {a: (float(rng.integers(1, 500)) * 1000.0, bool(rng.random() < 0.3),
                    rng.choice(["Enterprise", "SMB", "Mid-Market", None]))
                for a in range(1, 30)}  # fmt: skip
    opps = {o: (float(rng.integers(1, 90)) * 500.0, rng.choice(
        ["Prospecting", "Closed Won", "closed-lost", None])) for o in range(1, 20)}  # fmt: skip
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n_entries):
        account = int(rng.integers(1, 30)) if rng.random() < 0.9 else None
        opp = int(rng.integers(1, 20)) if rng.random() < 0.5 else None
        a = accounts.get(account) if account else None
        o = opps.get(opp) if opp else None
        rows.append(
            (
                int(rng.choice(requests["request_id"][: max(1, n_requests - 3)])), i + 1,
                rng.choice(["low", "medium", "high", "urgent"]),
                (start + timedelta(hours=int(rng.integers(0, 5000)))).isoformat(),
                account, a[0] if a else None, a[1] if a else None, a[2] if a else None,
                opp, o[0] if o else None, o[1] if o else None,
            )
        )  # fmt: skip
    return requests, pd.DataFrame(rows, columns=list(ENTRY_COLUMNS))


@pytest.mark.parametrize("seed", range(6))
def test_grouped_demand_equals_the_per_request_reference(seed: int) -> None:
    requests, entries = _area(seed, n_requests=25 + seed * 7, n_entries=40 * (seed + 1))
    got, want = demand_frame(requests, entries), _reference(requests, entries)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)


def test_no_entries_at_all() -> None:
    requests, _ = _area(0, n_requests=4, n_entries=0)
    empty = pd.DataFrame(columns=list(ENTRY_COLUMNS))
    got, want = demand_frame(requests, empty), _reference(requests, empty)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert (got["entries"] == 0).all() and (got["segment_mix"] == "").all()
