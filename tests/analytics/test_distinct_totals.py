"""Property: no aggregate of an area report exceeds the ARR of the accounts it could include.

Generated areas where the same accounts ask for many requests (the case where summing per-request
figures overcounts); every total is checked against the ARR of the distinct accounts (or the value
of the distinct opportunities) it may draw from, and the headline totals equal them exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_feedback_dagster.analytics.report import build_report
from gtm_feedback_dagster.analytics.rows import (
    AccountRow,
    AreaData,
    FeedbackRow,
    OpportunityRow,
    RequestRow,
)
from gtm_feedback_dagster.analytics.segments import segments

STATUSES = ("open", "open", "open", "shipped", "deprioritized")
SEVERITIES = ("low", "medium", "high", None)
STAGES = ("Prospecting", "Negotiation", "Closed Won", "Closed Lost", None)


@st.composite
def area_data(draw: st.DrawFn) -> AreaData:
    n_accounts = draw(st.integers(1, 8))
    accounts = {
        i: AccountRow(
            i,
            f"Account {i}",
            float(draw(st.integers(0, 2_000_000))),
            draw(st.booleans()),
            draw(st.sampled_from(("NA", "EMEA", None))),
            draw(st.sampled_from(("Tech", "Retail", None))),
            None,
            draw(st.sampled_from(("Enterprise", "SMB", None))),
        )
        for i in range(1, n_accounts + 1)
    }
    n_opps = draw(st.integers(0, 5))
    opportunities = {
        i: OpportunityRow(
            i,
            draw(st.integers(1, n_accounts)),
            float(draw(st.integers(0, 1_000_000))),
            draw(st.sampled_from(STAGES)),
        )
        for i in range(1, n_opps + 1)
    }
    n_requests = draw(st.integers(1, 6))
    requests = [
        RequestRow(i, f"r-{i}", f"Request {i}", draw(st.sampled_from(STATUSES)))
        for i in range(1, n_requests + 1)
    ]
    feedback = [
        FeedbackRow(
            i,
            draw(st.integers(1, n_requests)),
            draw(st.one_of(st.none(), st.integers(1, n_accounts))),
            draw(st.sampled_from(SEVERITIES)),
            draw(st.one_of(st.none(), st.integers(1, n_opps))) if n_opps else None,
        )
        for i in range(1, draw(st.integers(0, 40)) + 1)
    ]
    return AreaData(1, "area", "Area", requests, feedback, accounts, opportunities)


@settings(max_examples=150, deadline=None)
@given(area_data())
def test_no_total_exceeds_the_arr_of_the_accounts_it_could_include(data: AreaData) -> None:
    report = build_report(data, day=date(2026, 3, 2), generated_at=datetime(2026, 3, 2, tzinfo=UTC))
    open_ids = {r.id for r in data.requests if r.status == "open"}
    on_open = [f for f in data.feedback if f.request_id in open_ids]
    asking = {f.account_id for f in on_open if f.account_id is not None}
    asking_arr = sum(data.accounts[a].arr for a in asking)
    enterprise_high = {
        f.account_id
        for f in on_open
        if f.severity == "high"
        and f.account_id is not None
        and data.accounts[f.account_id].is_enterprise
    }
    opps = {f.opportunity_id for f in on_open if f.opportunity_id is not None}
    open_opps = [
        o for o in opps if (data.opportunities[o].stage or "") not in ("Closed Won", "Closed Lost")
    ]

    # Headline totals: exactly the distinct accounts / opportunities.
    assert report["demand"]["arr"] == sum(data.accounts[a].arr for a in asking)
    assert report["demand"]["accountCount"] == len(asking)
    assert report["dealbreakers"]["totalArr"] == sum(data.accounts[a].arr for a in enterprise_high)
    assert report["dealbreakers"]["accountCount"] == len(enterprise_high)
    assert report["openOpportunities"]["value"] == sum(data.opportunities[o].arr for o in open_opps)

    # No figure — area, segment, theme or request — exceeds what its accounts could bring.
    assert report["dealbreakers"]["totalArr"] <= asking_arr
    for item in report["dealbreakers"]["topItems"]:
        assert item["arr"] <= report["dealbreakers"]["totalArr"]
    for item in report["topRequests"]:
        assert item["arr"] <= asking_arr
    by_request = {}
    for f in data.feedback:
        by_request.setdefault(f.request_id, []).append(f)
    opens = [r for r in data.requests if r.status == "open"]
    for group in segments(opens, by_request, data.accounts, per_dimension=100):
        assert group["arr"] <= asking_arr
    for theme in report["themes"]:
        assert theme["arr"] <= asking_arr


def test_an_account_behind_two_dealbreakers_counts_once() -> None:
    accounts = {1: AccountRow(1, "Acme", 1_000_000.0, True), 2: AccountRow(2, "Bee", 5.0, False)}
    requests = [RequestRow(1, "a", "A"), RequestRow(2, "b", "B")]
    feedback = [
        FeedbackRow(1, 1, 1, "high"),
        FeedbackRow(2, 2, 1, "high"),
        FeedbackRow(3, 2, 2, "low"),
    ]
    report = build_report(
        AreaData(1, "x", "X", requests, feedback, accounts),
        day=date(2026, 3, 2),
        generated_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert report["dealbreakers"]["count"] == 2
    assert [i["arr"] for i in report["dealbreakers"]["topItems"]] == [1_000_000.0, 1_000_000.0]
    assert report["dealbreakers"]["totalArr"] == 1_000_000.0  # not 2M
    assert report["demand"] == {
        "accountCount": 2,
        "arr": 1_000_005.0,
        "enterpriseAccountCount": 1,
        "enterpriseArr": 1_000_000.0,
    }
    assert (
        "2 requests carry enterprise dealbreakers from 1 enterprise account" in report["narrative"]
    )
