"""The per-request numbers of an area insight report (reference §7.1), over plain rows.

All per-request numbers are over the area's **open** requests, as in the reference's tools; the
execution status counts every (non-merged) request tagged with the area. A request's ARR is the
sum of the ARR of the *distinct* accounts behind its feedback (the area-insights rule; the
analytics agent's per-row sum is a known inconsistency we do not copy).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gtm_feedback_dagster.analytics.rows import (
    AccountRow,
    FeedbackRow,
    OpportunityRow,
    RequestRow,
)

CRITICAL_ARR = 500_000.0  # dealbreakers above this are "critical" (reference)
TOP_LIMIT = 5
SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3}
CLOSED_STAGES = {"closedwon", "closedlost"}


def js_round(x: float) -> int:
    """JavaScript's Math.round (half up), which the reference's ship rate uses; Python's round()
    rounds half to even (12.5 -> 12, not 13)."""
    return math.floor(x + 0.5)


def distinct_arr(account_ids: Iterable[int], accounts: Mapping[int, AccountRow]) -> float:
    return float(sum(accounts[a].arr for a in set(account_ids) if a in accounts))


def group_feedback(feedback: Iterable[FeedbackRow]) -> dict[int, list[FeedbackRow]]:
    grouped: dict[int, list[FeedbackRow]] = defaultdict(list)
    for row in feedback:
        grouped[row.request_id].append(row)
    return grouped


# ---------------------------------------------------------------------------- tools (§7.1)


def dealbreakers(
    open_requests: Sequence[RequestRow],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
    limit: int = TOP_LIMIT,
) -> dict[str, Any]:
    """High-severity feedback from enterprise accounts, per open request.

    Each item's `arr` is per request (its distinct enterprise accounts); `totalArr` is the ARR
    of the distinct enterprise accounts across all of them, so an account behind five
    dealbreakers counts once (never the sum of the items)."""
    items: list[dict[str, Any]] = []
    all_enterprise: set[int] = set()
    for request in open_requests:
        high = [f for f in feedback_by_request.get(request.id, ()) if f.severity == "high"]
        enterprise = {
            f.account_id
            for f in high
            if f.account_id is not None
            and f.account_id in accounts
            and accounts[f.account_id].is_enterprise
        }
        if not enterprise:
            continue
        all_enterprise |= enterprise
        items.append(
            {
                "requestId": request.id,
                "slug": request.slug,
                "title": request.title,
                "arr": distinct_arr(enterprise, accounts),
                "feedbackCount": len(high),
                "entryCount": len(high),
                "enterpriseAccountCount": len(enterprise),
            }
        )
    items.sort(key=lambda i: (-i["arr"], -i["feedbackCount"], i["requestId"]))
    total = distinct_arr(all_enterprise, accounts)
    return {
        "count": len(items),
        "totalArr": total,
        "accountCount": len(all_enterprise),
        "critical": total > CRITICAL_ARR,
        "topItems": items[:limit],
        "requestIds": [i["requestId"] for i in items],
    }


def severity_stats(
    open_requests: Sequence[RequestRow],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
) -> dict[str, Any]:
    counts = {s: 0 for s in SEVERITY_ORDER}
    account_sets: dict[str, set[int]] = {s: set() for s in SEVERITY_ORDER}
    total = 0
    for request in open_requests:
        for f in feedback_by_request.get(request.id, ()):
            total += 1
            if f.severity in counts:
                counts[f.severity] += 1
                if f.account_id is not None:
                    account_sets[f.severity].add(f.account_id)
    return {
        "counts": counts,
        "arr": {s: distinct_arr(ids, accounts) for s, ids in account_sets.items()},
        "totalFeedback": total,
        "totalRequests": len(open_requests),
    }


def execution_status(requests: Sequence[RequestRow]) -> dict[str, int]:
    """Open/shipped/deprioritized counts of every request tagged with the area; ship rate =
    shipped / (open + shipped), rounded half up, deprioritized excluded."""
    status = Counter(r.status for r in requests)
    open_, shipped, deprioritized = status["open"], status["shipped"], status["deprioritized"]
    denominator = open_ + shipped
    return {
        "open": open_,
        "shipped": shipped,
        "deprioritized": deprioritized,
        "shipRate": js_round(100 * shipped / denominator) if denominator else 0,
        "total": open_ + shipped + deprioritized,
    }


def area_demand(
    open_requests: Sequence[RequestRow],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
) -> dict[str, Any]:
    """The area's headline over its open requests: distinct accounts asking for any of them and
    their ARR (each account once, however many requests it asked for)."""
    ids = {
        f.account_id
        for r in open_requests
        for f in feedback_by_request.get(r.id, ())
        if f.account_id is not None and f.account_id in accounts
    }
    enterprise = {a for a in ids if accounts[a].is_enterprise}
    return {
        "accountCount": len(ids),
        "arr": distinct_arr(ids, accounts),
        "enterpriseAccountCount": len(enterprise),
        "enterpriseArr": distinct_arr(enterprise, accounts),
    }


def is_open_stage(stage: str | None) -> bool:
    """Open = not Closed Won / Closed Lost (spelling-tolerant: "Closed - Won", "closed_lost")."""
    return re.sub(r"[^a-z]", "", (stage or "").lower()) not in CLOSED_STAGES


def open_opportunity_value(
    open_requests: Sequence[RequestRow],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    opportunities: Mapping[int, OpportunityRow],
) -> dict[str, Any]:
    """ARR of the distinct open opportunities linked to feedback on the area's open requests."""
    opp_ids = {
        f.opportunity_id
        for r in open_requests
        for f in feedback_by_request.get(r.id, ())
        if f.opportunity_id is not None and f.opportunity_id in opportunities
    }
    open_ids = {o for o in opp_ids if is_open_stage(opportunities[o].stage)}
    return {
        "value": float(sum(opportunities[o].arr for o in open_ids)),
        "count": len(open_ids),
    }
