"""An area's insight report assembled from its metrics, segments, themes and narrative.

All per-request numbers are over the area's **open** requests, as in the reference's tools; the
execution status counts every (non-merged) request tagged with the area. A request's ARR is the
sum of the ARR of the *distinct* accounts behind its feedback (the area-insights rule; the
analytics agent's per-row sum is a known inconsistency we do not copy). Every figure above one
request (the area's demand, dealbreaker ARR, segments, open opportunity value) counts distinct
accounts and distinct opportunities, never the sum of per-request figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from gtm_feedback_dagster.analytics.demand import demand_frame, frames_of, top_requests
from gtm_feedback_dagster.analytics.metrics import (
    TOP_LIMIT,
    area_demand,
    dealbreakers,
    execution_status,
    group_feedback,
    open_opportunity_value,
    severity_stats,
)
from gtm_feedback_dagster.analytics.narrative import (
    deterministic_narrative,
    report_sections,
)
from gtm_feedback_dagster.analytics.rows import (
    AreaData,
    FeedbackRow,
    RequestRow,
    ThemeNamer,
)
from gtm_feedback_dagster.analytics.segments import segments
from gtm_feedback_dagster.analytics.text_themes import TEXT_THRESHOLD, text_edges
from gtm_feedback_dagster.analytics.themes import (
    themes,
)
from gtm_feedback_dagster.core.request_graph import DEFAULT_CLUSTER_THRESHOLD

if TYPE_CHECKING:
    import pandas as pd


def compare_with_previous(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Deltas of the key numbers against the area's previous report, and new dealbreakers."""
    if not previous:
        return None
    keys = previous.get("keyNumbers") or {}
    deltas = {
        name: round(value - float(keys[name]), 2)
        for name, value in current["keyNumbers"].items()
        if isinstance(keys.get(name), int | float)
    }
    before = set(previous.get("dealbreakers", {}).get("requestIds", []))
    titles = {i["requestId"]: i for i in current["dealbreakers"]["allItems"] if "requestId" in i}
    new_ids = [i for i in current["dealbreakers"]["requestIds"] if i not in before]
    return {
        "previousDay": previous.get("day"),
        "deltas": deltas,
        "newDealbreakers": [
            {
                "requestId": i,
                "slug": titles[i]["slug"],
                "title": titles[i]["title"],
                "arr": titles[i]["arr"],
            }
            for i in new_ids
            if i in titles
        ],
    }


def area_themes(
    data: AreaData,
    open_requests: list[RequestRow],
    by_request: Mapping[int, list[FeedbackRow]],
    cluster_threshold: float,
    theme_namer: ThemeNamer | None,
) -> list[dict[str, Any]]:
    """Clusters of the related-request graph; when it has none, clusters of the feedback text
    (mutual TF-IDF neighbours), so an area has themes without an LLM or a tuned graph."""
    found = themes(
        open_requests,
        data.edges,
        by_request,
        data.accounts,
        threshold=cluster_threshold,
        namer=theme_namer,
    )
    if found or not data.texts:
        return found
    ids = [r.id for r in open_requests if r.id in data.texts]
    edges = text_edges(ids, [data.texts[i] for i in ids])
    return themes(
        open_requests,
        edges,
        by_request,
        data.accounts,
        threshold=TEXT_THRESHOLD,
        namer=theme_namer,
        texts=data.texts,
        source="feedback text",
    )


def build_report(
    data: AreaData,
    day: date,
    generated_at: datetime,
    previous: Mapping[str, Any] | None = None,
    theme_namer: ThemeNamer | None = None,
    cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    demand: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The area's report as a JSON-safe dict: the reference's sections plus top requests, open
    opportunity value, severity stats, key numbers and the change since `previous`. The top
    requests table comes from the area's demand table (`analytics.demand`: the `area_demand`
    asset's value when Dagster builds the report; computed from `data` otherwise)."""
    open_requests = [r for r in data.requests if r.status == "open"]
    by_request = group_feedback(data.feedback)
    db = dealbreakers(open_requests, by_request, data.accounts, limit=len(open_requests))
    db_top = {**db, "allItems": db["topItems"], "topItems": db["topItems"][:TOP_LIMIT]}
    report: dict[str, Any] = {
        "areaId": data.area_id,
        "slug": data.slug,
        "area": {"id": data.area_id, "slug": data.slug, "name": data.name},
        "day": day.isoformat(),
        "generatedAt": generated_at.isoformat(),
        "dealbreakers": db_top,
        "segments": segments(open_requests, by_request, data.accounts),
        "severityStats": severity_stats(open_requests, by_request, data.accounts),
        "demand": area_demand(open_requests, by_request, data.accounts),
        "execution": execution_status(data.requests),
        "topRequests": top_requests(
            demand if demand is not None else demand_frame(*frames_of(data)), TOP_LIMIT
        ),
        "openOpportunities": open_opportunity_value(open_requests, by_request, data.opportunities),
        "themes": area_themes(data, open_requests, by_request, cluster_threshold, theme_namer),
    }
    report["keyNumbers"] = {
        "openRequests": float(report["execution"]["open"]),
        "shippedRequests": float(report["execution"]["shipped"]),
        "shipRate": float(report["execution"]["shipRate"]),
        "feedbackEntries": float(report["severityStats"]["totalFeedback"]),
        "highSeverityEntries": float(report["severityStats"]["counts"]["high"]),
        "dealbreakerCount": float(db["count"]),
        "dealbreakerArr": db["totalArr"],
        "dealbreakerAccounts": float(db["accountCount"]),
        "demandArr": report["demand"]["arr"],
        "demandAccounts": float(report["demand"]["accountCount"]),
        "openOpportunityValue": report["openOpportunities"]["value"],
    }
    report["change"] = compare_with_previous(report, previous)
    # Only the top items are kept in the stored JSON; the ids of all are enough for the next diff.
    del report["dealbreakers"]["allItems"]
    report["sections"] = report_sections(report)
    report["narrative"] = deterministic_narrative(report)
    report["narrativeSource"] = "numbers"
    return report
