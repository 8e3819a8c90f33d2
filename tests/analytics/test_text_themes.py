"""Themes from the feedback text when the related-request graph has no cluster."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gtm_feedback_dagster.analytics.report import build_report
from gtm_feedback_dagster.analytics.rows import AccountRow, AreaData, FeedbackRow, RequestRow
from gtm_feedback_dagster.analytics.text_themes import request_texts, text_edges, tfidf_matrix

REQUESTS = [
    RequestRow(1, "upserts", "Upserts by primary key"),
    RequestRow(2, "dedup", "Deduplication of records on ingest"),
    RequestRow(3, "freeze", "Freeze panes like in a spreadsheet"),
    RequestRow(4, "frozen", "Frozen header rows and columns in tables"),
    RequestRow(5, "sso", "SAML login"),
]
ENTRY_TEXTS = {
    1: ["Re-running the load creates duplicate records; we need to merge on the primary key."],
    2: ["Each ingest run leaves duplicate records, we want merge on key instead of append."],
    3: ["Scrolling a wide table loses the header row; freeze the header and first column."],
    4: ["When I scroll the table the header row and first column should stay frozen."],
    5: ["Our identity provider needs SAML single sign-on for every employee."],
}


def test_tfidf_rows_are_unit_length_and_deterministic() -> None:
    texts = list(request_texts({r.id: r.title for r in REQUESTS}, ENTRY_TEXTS).values())
    m = tfidf_matrix(texts)
    assert m.shape[0] == 5
    assert abs(float((m[0] ** 2).sum()) - 1.0) < 1e-5
    assert (tfidf_matrix(texts) == m).all()


def test_text_edges_link_requests_customers_describe_alike() -> None:
    texts = request_texts({r.id: r.title for r in REQUESTS}, ENTRY_TEXTS)
    ids = sorted(texts)
    pairs = {(a, b) for a, b, _ in text_edges(ids, [texts[i] for i in ids])}
    assert (1, 2) in pairs and (3, 4) in pairs
    assert not any(5 in p for p in pairs)


def test_report_has_themes_from_feedback_text_without_graph_or_llm() -> None:
    accounts = {1: AccountRow(1, "Acme", 100.0), 2: AccountRow(2, "Bee", 50.0)}
    feedback = [
        FeedbackRow(i, rid, 1 if rid % 2 else 2, "medium") for i, rid in enumerate(ENTRY_TEXTS, 1)
    ]
    data = AreaData(
        1,
        "data",
        "Data",
        REQUESTS,
        feedback,
        accounts,
        texts=request_texts({r.id: r.title for r in REQUESTS}, ENTRY_TEXTS),
    )
    report = build_report(data, day=date(2026, 3, 2), generated_at=datetime(2026, 3, 2, tzinfo=UTC))
    groups = sorted(t["requestIds"] for t in report["themes"])
    assert groups == [[1, 2], [3, 4]]
    assert {t["clusteredBy"] for t in report["themes"]} == {"feedback text"}
    assert all(t["nameSource"] == "terms" and t["name"] for t in report["themes"])
    names = " ".join(t["name"] for t in report["themes"]).lower()
    assert "header" in names or "frozen" in names or "column" in names
    assert "duplicate" in names or "records" in names or "merge" in names
    assert any(s["id"] == "themes" for s in report["sections"])
    # Without texts (and without graph edges) there is nothing to cluster.
    data.texts = {}
    assert (
        build_report(data, day=date(2026, 3, 2), generated_at=datetime(2026, 3, 2, tzinfo=UTC))[
            "themes"
        ]
        == []
    )
