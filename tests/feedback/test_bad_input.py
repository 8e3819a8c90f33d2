"""Issue 15 on the CSV and reference imports: one bad cell never takes the file down, stored
JSON is standard JSON, text is cleaned (original kept), parsing says no instead of guessing."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from gtm_feedback_dagster.feedback.csv_import import import_csv
from gtm_feedback_dagster.feedback.reference_import import import_reference
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, Feedback, Opportunity, ProductArea, User
from tests.intake.seed import seed_url

HEADER = b"text,severity,account,submitter,opportunity\n"
HUGE = "99999999999999999999"  # > 2^63


def _entries(url: str) -> list[Feedback]:
    with session_scope(url) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


@pytest.mark.parametrize("column", ["account", "submitter", "opportunity"])
def test_a_number_above_2_63_in_a_reference_column_spoils_only_its_row(
    db_url: str, column: str
) -> None:
    seed_url(db_url)
    row = {"account": "Acme", "submitter": "ann@example.com", "opportunity": "Acme renewal"}
    bad = {**row, column: HUGE}
    data = (
        HEADER
        + b"Good one,high,Acme,ann@example.com,Acme renewal\n"
        + f"Bad one,high,{bad['account']},{bad['submitter']},{bad['opportunity']}\n".encode()
        + b"Good two,low,Globex,bob@example.com,\n"
    )
    report = import_csv(db_url, data)
    assert (report.created, report.invalid) == (2, 1), report.as_dict()
    (problem,) = report.problems
    assert problem.line == 3 and HUGE in problem.reason
    statuses = [(e.customer_pain, e.status) for e in _entries(db_url)]
    assert statuses == [("Good one", "pending"), ("Bad one", "invalid"), ("Good two", "pending")]


def test_an_account_id_above_2_63_in_an_opportunities_file_is_a_row_problem(db_url: str) -> None:
    seed_url(db_url)
    data = f"name,account,stage\nBig deal,{HUGE},won\nSmall deal,Acme,open\n".encode()
    report = import_csv(db_url, data, "opportunities")
    assert (report.created, report.invalid) == (1, 1)
    assert HUGE in report.problems[0].reason


def test_invalid_rows_do_not_pile_up_on_reimport(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    data = HEADER + b"Needs SSO,meh,Acme,ann@example.com,\n"
    for _ in range(3):
        assert import_csv(sqlite_url, data).invalid == 1
    assert len(_entries(sqlite_url)) == 1


def test_control_characters_are_cleaned_and_the_original_kept(db_url: str) -> None:
    seed_url(db_url)
    pain = "Refund \u202eevil\u202c please\x07"
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["text", "severity", "account", "submitter"])
    csv.writer(buffer).writerow([pain, "high", "Acme", "ann@example.com"])
    report = import_csv(db_url, buffer.getvalue().encode())
    assert report.created == 1
    (entry,) = _entries(db_url)
    assert (entry.status, entry.customer_pain) == ("pending", "Refund evil please")
    assert entry.raw is not None and entry.raw["values"]["text"] == pain


def test_ambiguous_amounts_and_dates_with_garbage_are_row_problems(sqlite_url: str) -> None:
    ok = import_csv(sqlite_url, b'name,arr\nGlobex,"1,200"\n', "accounts")
    assert ok.created == 1  # commas between thousands still parse
    report = import_csv(sqlite_url, 'name,arr\nInitech,"€1.200,50"\n'.encode(), "accounts")
    assert report.invalid == 1 and "ambiguous decimal separator" in report.problems[0].reason
    opp = import_csv(
        sqlite_url, b"name,account,close_date\nRenewal,Globex,2024-03-01garbage\n", "opportunities"
    )
    assert opp.invalid == 1 and "ISO date" in opp.problems[0].reason
    with session_scope(sqlite_url) as session:
        assert session.scalars(select(Account.arr).where(Account.name == "Globex")).one() == 1200.0
        assert session.scalars(select(Opportunity)).all() == []


def test_non_latin_area_names_get_transliterated_slugs(sqlite_url: str) -> None:
    data = "name,description\nCafé Réservation,Bookings\n日本語,Japanese UI\n".encode()
    assert import_csv(sqlite_url, data, "areas").created == 2
    with session_scope(sqlite_url) as session:
        assert sorted(session.scalars(select(ProductArea.slug))) == [
            "cafe-reservation",
            "ri-ben-yu",
        ]


def _export_with(entry: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "users": [{"id": "u1", "email": "ann@example.com", "name": "Ann"}],
        "areas": [{"id": "a1", "name": "Dashboards"}],
        "sfdcAccounts": [{"id": "001A", "name": "Acme", "arr": 100}],
        "requests": [],
        "feedback": [entry],
        **extra,
    }


def test_nan_in_an_invalid_entry_is_stored_as_standard_json(db_url: str) -> None:
    entry = {
        "id": "f1",
        "description": math.nan,
        "severity": "high",
        "accountId": "001A",
        "creator": "u1",
        "metadata": {"score": math.inf},
    }
    summary = import_reference(db_url, _export_with(entry))
    assert summary.counts["feedback"].invalid == 1
    (stored,) = _entries(db_url)
    assert stored.status == "invalid" and stored.raw["description"] == "NaN"
    assert stored.meta == {"score": "Infinity"}
    with session_scope(db_url) as session:
        raw_text = session.execute(text("select raw from feedback")).scalar_one()
    stored_json = raw_text if isinstance(raw_text, str) else json.dumps(raw_text)
    json.loads(stored_json, parse_constant=lambda name: pytest.fail(f"non-standard {name}"))


def test_reference_amounts_beyond_any_float_are_problems(sqlite_url: str) -> None:
    data = _export_with(
        {"id": "f1", "description": "x", "severity": "low", "accountId": "001A", "creator": "u1"}
    )
    data["sfdcAccounts"].append({"id": "001B", "name": "Huge", "arr": 10**400})
    summary = import_reference(sqlite_url, data)
    assert summary.counts["accounts"].invalid == 1
    assert summary.counts["feedback"].created == 1


# ---------------------------------------------------------------------------- properties

edge_cell = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**63 - 2, max_value=2**80).map(str),
    st.integers(min_value=-(2**80), max_value=-(2**63) + 2).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=40),
    st.text(min_size=4990, max_size=5010, alphabet="ab "),
    st.sampled_from(["Acme", "ann@example.com", "Acme renewal", "high", "", "1", "0"]),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(st.tuples(edge_cell, edge_cell, edge_cell, edge_cell, edge_cell), max_size=4))
def test_csv_feedback_import_never_raises_on_edge_values(db_url: str, rows: list[tuple]) -> None:
    with session_scope(db_url) as session:  # many examples, one database: seed it once
        seeded = session.scalars(select(User.id)).first() is not None
    if not seeded:
        seed_url(db_url)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "severity", "account", "submitter", "opportunity"])
    writer.writerow(["Known good", "high", "Acme", "ann@example.com", ""])
    for row in rows:
        writer.writerow(row)
    report = import_csv(db_url, buffer.getvalue().encode())
    assert report.created + report.existing + report.invalid + report.updated == report.rows
    with session_scope(db_url) as session:
        assert (
            session.scalars(
                select(Feedback.status).where(Feedback.customer_pain == "Known good")
            ).one()
            == "pending"
        )
