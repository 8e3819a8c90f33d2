"""Area report maths on a small hand-built data set; every expected number is computed by hand
in the comments."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime

import pytest

from gtm_feedback_dagster.analytics.metrics import (
    dealbreakers,
    execution_status,
    is_open_stage,
    js_round,
)
from gtm_feedback_dagster.analytics.render import (
    CHART_PLACEHOLDER,
    MAX_CHART_BYTES,
    chart_markdown,
    render_chart_png,
    render_markdown,
    strip_images,
)
from gtm_feedback_dagster.analytics.report import build_report
from gtm_feedback_dagster.analytics.rows import (
    AccountRow,
    AreaData,
    FeedbackRow,
    OpportunityRow,
    RequestRow,
)
from gtm_feedback_dagster.analytics.themes import (
    common_title_prefix,
    distinctive_terms,
    theme_name,
    themes,
)
from gtm_feedback_dagster.core.money import format_arr

K = 1000.0
ACCOUNTS = {
    1: AccountRow(1, "Acme", 300 * K, True, "NA", "Tech", "East", "Strategic", "Large"),
    2: AccountRow(2, "Globex", 250 * K, True, "EMEA", "Finance", None, "Strategic"),
    3: AccountRow(3, "Initech", 50 * K, False, "NA", "Tech"),
    4: AccountRow(4, "Umbrella", 120 * K, True, None, "Health"),
    5: AccountRow(5, "Hooli", 10 * K, False, "APAC", "Retail"),
    6: AccountRow(6, "Stark", 80 * K, False, "LATAM", "Energy"),
}
REQUESTS = [
    RequestRow(1, "sso-saml", "SSO login with SAML"),
    RequestRow(2, "saml-admins", "SAML SSO for admins"),
    RequestRow(3, "pdf-export", "Export dashboards to PDF"),
    RequestRow(4, "slow-dashboards", "Slow dashboard loading"),
    RequestRow(5, "shipped-one", "Audit log", status="shipped"),
    RequestRow(6, "shipped-two", "Usage API", status="shipped"),
    RequestRow(7, "parked", "Custom fonts", status="deprioritized"),
    RequestRow(8, "dark-mode", "Dashboard dark mode"),
]
OPPORTUNITIES = {
    11: OpportunityRow(11, 1, 100 * K, "Negotiation"),
    12: OpportunityRow(12, 2, 40 * K, "Closed Won"),
    13: OpportunityRow(13, 4, 60 * K, "Discovery"),
    14: OpportunityRow(14, 1, 500 * K, "Proposal"),  # only on a shipped request
}
FEEDBACK = [
    # request 1: Acme twice (high), Initech high, Globex medium
    FeedbackRow(101, 1, 1, "high", opportunity_id=11),
    FeedbackRow(102, 1, 1, "high", opportunity_id=11),
    FeedbackRow(103, 1, 3, "high"),
    FeedbackRow(104, 1, 2, "medium"),
    # request 2: Globex high, Umbrella high, Hooli low
    FeedbackRow(105, 2, 2, "high", opportunity_id=12),
    FeedbackRow(106, 2, 4, "high", opportunity_id=13),
    FeedbackRow(107, 2, 5, "low"),
    # request 3: only non-enterprise dealbreakers
    FeedbackRow(108, 3, 3, "high"),
    FeedbackRow(109, 3, 5, "high"),
    FeedbackRow(110, 3, 6, "medium"),
    # request 4: low only
    FeedbackRow(111, 4, 1, "low"),
    FeedbackRow(112, 4, 6, "low"),
    # shipped request 5: ignored by every open-request number
    FeedbackRow(113, 5, 1, "high", opportunity_id=14),
    # no account: counted as feedback, never in ARR
    FeedbackRow(114, 8, None, "high"),
]
EDGES = [(1, 2, 0.8), (2, 1, 0.8), (3, 4, 0.7), (1, 5, 0.95), (4, 8, 0.3)]


def area() -> AreaData:
    return AreaData(
        area_id=7,
        slug="identity",
        name="Identity",
        requests=list(REQUESTS),
        feedback=list(FEEDBACK),
        accounts=dict(ACCOUNTS),
        opportunities=dict(OPPORTUNITIES),
        edges=list(EDGES),
    )


def report(**kwargs):
    return build_report(
        area(),
        day=date(2026, 3, 2),
        generated_at=datetime(2026, 3, 2, 13, tzinfo=UTC),
        cluster_threshold=0.6,
        **kwargs,
    )


def test_dealbreakers_enterprise_only_distinct_account_arr() -> None:
    db = report()["dealbreakers"]
    # request 2: Globex 250K + Umbrella 120K; request 1: Acme once (300K), Initech is not
    # enterprise; request 3 has no enterprise dealbreaker; shipped request 5 is not open.
    assert [(i["requestId"], i["arr"]) for i in db["topItems"]] == [(2, 370 * K), (1, 300 * K)]
    assert db["count"] == 2
    assert db["totalArr"] == 670 * K
    assert db["critical"] is True
    one = db["topItems"][1]
    assert (one["feedbackCount"], one["enterpriseAccountCount"], one["entryCount"]) == (3, 1, 3)


def test_critical_only_strictly_above_500k() -> None:
    accounts = {1: AccountRow(1, "Big", 500 * K, True), 2: AccountRow(2, "One more", 1, True)}
    open_requests = [RequestRow(1, "a", "A"), RequestRow(2, "b", "B")]
    exactly = dealbreakers(open_requests, {1: [FeedbackRow(1, 1, 1, "high")]}, accounts)
    assert exactly["totalArr"] == 500 * K and exactly["critical"] is False
    above = dealbreakers(
        open_requests,
        {1: [FeedbackRow(1, 1, 1, "high")], 2: [FeedbackRow(2, 2, 2, "high")]},
        accounts,
    )
    assert above["totalArr"] == 500 * K + 1 and above["critical"] is True


def test_segments_all_enterprise_groups_and_top3_per_dimension() -> None:
    segs = {s["name"]: s for s in report()["segments"]}
    # High rows on open requests: Acme×2, Initech×2, Globex, Umbrella, Hooli.
    assert (segs["Enterprise"]["highSeverityCount"], segs["Enterprise"]["arr"]) == (4, 670 * K)
    assert segs["Enterprise"]["accountCount"] == 3
    assert (segs["Non-Enterprise"]["highSeverityCount"], segs["Non-Enterprise"]["arr"]) == (
        3,
        60 * K,
    )
    regions = [s["name"] for s in report()["segments"] if s["dimension"] == "region"]
    # NA (Acme+Initech 350K), EMEA 250K, Unknown (Umbrella, no region) 120K; APAC 10K is cut.
    assert regions == ["Region: NA", "Region: EMEA", "Region: Unknown"]
    assert (segs["Region: NA"]["highSeverityCount"], segs["Region: NA"]["arr"]) == (4, 350 * K)
    industries = [s["name"] for s in report()["segments"] if s["dimension"] == "industry"]
    assert industries == ["Industry: Tech", "Industry: Finance", "Industry: Health"]
    assert segs["Segment: Strategic"]["arr"] == 550 * K
    assert segs["Territory: East"]["highSeverityCount"] == 2
    assert segs["Sub-Segment: Large"]["accountCount"] == 1
    assert not any(name.startswith("Territory: None") for name in segs)


def test_execution_status_and_half_up_ship_rate() -> None:
    execution = report()["execution"]
    # open 1,2,3,4,8; shipped 5,6; deprioritized 7 -> 100 * 2 / 7 = 28.57 -> 29
    assert execution == {"open": 5, "shipped": 2, "deprioritized": 1, "shipRate": 29, "total": 8}
    rows = [RequestRow(i, f"r{i}", "t") for i in range(7)] + [
        RequestRow(9, "s", "t", status="shipped")
    ]
    assert execution_status(rows)["shipRate"] == 13  # 12.5 rounds up, as Math.round does
    assert round(12.5) == 12  # ...which Python's round() would not
    assert js_round(0.5) == 1 and js_round(2.4999) == 2
    assert execution_status([RequestRow(1, "d", "t", status="deprioritized")])["shipRate"] == 0


def test_top_requests_severity_stats_and_open_opportunities() -> None:
    r = report()
    top = [(i["requestId"], i["arr"], i["feedbackCount"]) for i in r["topRequests"]]
    # 1: Acme+Initech+Globex 600K; 2: 380K (3 entries) before 4: Acme+Stark 380K (2 entries);
    # 3: Initech+Hooli+Stark 140K; 8: no account.
    assert top == [(1, 600 * K, 4), (2, 380 * K, 3), (4, 380 * K, 2), (3, 140 * K, 3), (8, 0, 1)]
    assert r["topRequests"][2]["highestSeverity"] == "low"
    stats = r["severityStats"]
    assert stats["counts"] == {"low": 3, "medium": 2, "high": 8}
    assert stats["totalFeedback"] == 13 and stats["totalRequests"] == 5
    assert stats["arr"]["low"] == 390 * K  # Hooli, Acme, Stark
    # Opportunity 11 counted once (two entries), 13 open; 12 is Closed Won; 14 only on a
    # shipped request.
    assert r["openOpportunities"] == {"value": 160 * K, "count": 2}
    assert not is_open_stage("Closed - Lost") and not is_open_stage("closed_won")
    assert is_open_stage(None) and is_open_stage("Negotiation")


def test_themes_from_graph_clusters_named_by_terms_or_namer() -> None:
    themes = report()["themes"]
    # Open-request clusters at 0.6: {1,2} and {3,4}; the 0.95 edge to shipped 5 is ignored.
    assert [t["requestIds"] for t in themes] == [[1, 2], [3, 4]]
    assert themes[0]["name"] == "SSO / SAML / Admins"
    assert themes[0]["nameSource"] == "terms"
    assert themes[0]["entryCount"] == 7 and themes[0]["arr"] == (300 + 250 + 50 + 120 + 10) * K
    assert themes[1]["name"] == "Export / Dashboards / Loading"
    assert [e["slug"] for e in themes[0]["exampleRequests"]] == ["sso-saml", "saml-admins"]

    named = report(theme_namer=lambda titles: "Single Sign-On" if "SAML" in titles[0] else None)
    assert [(t["name"], t["nameSource"]) for t in named["themes"]] == [
        ("Single Sign-On", "llm"),
        ("Export / Dashboards / Loading", "terms"),
    ]
    assert distinctive_terms(["Bulk CSV import", "CSV import for users"], ["x"] * 3)[0] == "CSV"
    assert (
        theme_name(["SAML single sign-on", "SAML single sign-on - for banks"], ["x"])
        == "SAML single sign-on"
    )
    assert common_title_prefix(["Audit log", "Audit logs"]) is None


def test_themes_rank_equal_sizes_by_arr_and_name_only_the_shown() -> None:
    requests = [RequestRow(i, f"r{i}", f"Title {i}") for i in range(1, 7)]
    accounts = {1: AccountRow(1, "Small", 10.0), 2: AccountRow(2, "Big", 1000.0)}
    feedback = {5: [FeedbackRow(1, 5, 2, "low")], 1: [FeedbackRow(2, 1, 1, "low")]}
    edges = [(1, 2, 0.9), (3, 4, 0.9), (5, 6, 0.9)]
    asked: list[list[str]] = []
    found = themes(requests, edges, feedback, accounts, threshold=0.6, namer=asked.append, limit=2)
    assert [t["requestIds"] for t in found] == [[5, 6], [1, 2]]
    assert len(asked) == 2


def test_sections_order_and_change_since_previous() -> None:
    first = report()
    assert [s["id"] for s in first["sections"]] == [
        "dealbreakers",
        "execution",
        "segments",
        "themes",
    ]
    # critical first; execution is a warning because the ship rate 29% < 30%.
    assert [s["importance"] for s in first["sections"]] == ["critical", "warning", "info", "info"]
    assert first["sections"][0]["title"] == "Critical Dealbreakers"
    assert first["change"] is None

    previous = {
        "day": "2026-03-01",
        "keyNumbers": {**first["keyNumbers"], "dealbreakerArr": 300 * K, "openRequests": 4.0},
        "dealbreakers": {"requestIds": [1]},
    }
    second = report(previous=previous)
    change = second["change"]
    assert change["previousDay"] == "2026-03-01"
    assert change["deltas"]["dealbreakerArr"] == 370 * K
    assert change["deltas"]["openRequests"] == 1
    assert change["deltas"]["feedbackEntries"] == 0
    assert [d["requestId"] for d in change["newDealbreakers"]] == [2]
    assert "1 new dealbreaker since 2026-03-01." in second["narrative"]


def test_narrative_is_two_to_four_sentences_from_the_numbers() -> None:
    text = report()["narrative"]
    assert 2 <= len(re.findall(r"[.!?](?:\s|$)", text)) <= 4
    assert "Identity has 5 open requests backed by 13 feedback entries" in text
    assert (
        "2 requests carry enterprise dealbreakers from 3 enterprise accounts worth $670.0K ARR — critical"
        in text
    )
    assert "2 open opportunities worth $160.0K" in text


def test_format_arr() -> None:
    assert [format_arr(v) for v in (0, 950, 12_500, 1_250_000)] == ["$0", "$950", "$12.5K", "$1.2M"]


def test_markdown_tables_chart_and_stripping() -> None:
    r = report()
    png = render_chart_png(r)
    assert png is not None and png.startswith(b"\x89PNG") and len(png) <= MAX_CHART_BYTES
    md = render_markdown(r, chart=chart_markdown(png), app_url="http://app")
    assert "# Identity — insights for 2026-03-02" in md
    assert "## 🔴 Critical Dealbreakers" in md
    assert "| [SAML SSO for admins](http://app/requests/saml-admins) | $370.0K | 2 | 2 |" in md
    assert "| Region: Unknown | 1 | $120.0K | 1 |" in md
    payload = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", md)
    assert payload and base64.b64decode(payload.group(1)) == png
    stripped = strip_images(md)
    assert "base64" not in stripped and CHART_PLACEHOLDER in stripped
    assert render_markdown(r).count(CHART_PLACEHOLDER) == 1
    assert "First report for this area." in md


def test_empty_area() -> None:
    empty = build_report(
        AreaData(1, "empty", "Empty", [], [], {}),
        day=date(2026, 3, 2),
        generated_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert empty["sections"] == [] and empty["topRequests"] == []
    assert render_chart_png(empty) is None
    assert "Empty has 0 open requests" in empty["narrative"]
    assert "Top requests" not in render_markdown(empty)


@pytest.mark.parametrize("n", [1, 5])
def test_chart_stays_small(n: int) -> None:
    r = report()
    r["topRequests"] = [{**r["topRequests"][0], "title": "x" * 120}] * n
    png = render_chart_png(r)
    assert png is not None and len(png) <= MAX_CHART_BYTES
