"""Who feels the pain: high-severity feedback of an area's open requests by account segment."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from gtm_feedback_dagster.analytics.metrics import (
    distinct_arr,
)
from gtm_feedback_dagster.analytics.rows import (
    AccountRow,
    FeedbackRow,
    RequestRow,
)

SEGMENTS_PER_DIMENSION = 3


def _segment_groups(account: AccountRow) -> list[tuple[str, str]]:
    """(dimension, group name) pairs an account belongs to; null dimensions are skipped, region
    falls back to "Unknown"."""
    groups = [
        ("enterprise", "Enterprise" if account.is_enterprise else "Non-Enterprise"),
        ("region", f"Region: {account.region or 'Unknown'}"),
    ]
    for dimension, label, value in (
        ("industry", "Industry", account.industry),
        ("territory", "Territory", account.territory),
        ("segment", "Segment", account.segment),
        ("sub_segment", "Sub-Segment", account.sub_segment),
    ):
        if value:
            groups.append((dimension, f"{label}: {value}"))
    return groups


def segments(
    open_requests: Sequence[RequestRow],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
    per_dimension: int = SEGMENTS_PER_DIMENSION,
) -> list[dict[str, Any]]:
    """Who feels the pain: high-severity feedback with a known account, grouped by enterprise
    flag, region, industry, territory, segment and sub-segment. All enterprise groups plus the
    top `per_dimension` groups (by ARR of distinct accounts) of every other dimension."""
    counts: dict[tuple[str, str], int] = Counter()
    members: dict[tuple[str, str], set[int]] = defaultdict(set)
    for request in open_requests:
        for f in feedback_by_request.get(request.id, ()):
            if f.severity != "high" or f.account_id is None or f.account_id not in accounts:
                continue
            for key in _segment_groups(accounts[f.account_id]):
                counts[key] += 1
                members[key].add(f.account_id)
    by_dimension: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (dimension, name), count in counts.items():
        by_dimension[dimension].append(
            {
                "name": name,
                "dimension": dimension,
                "highSeverityCount": count,
                "arr": distinct_arr(members[(dimension, name)], accounts),
                "accountCount": len(members[(dimension, name)]),
            }
        )
    # A segment named like the enterprise flag ("Segment: Enterprise") with the same accounts as
    # the "Enterprise" row says the same thing twice: keep the one row.
    flag_members = members.get(("enterprise", "Enterprise"), set())
    by_dimension["segment"] = [
        g
        for g in by_dimension.get("segment", [])
        if not (
            g["name"].removeprefix("Segment: ").strip().lower() == "enterprise"
            and members[("segment", g["name"])] == flag_members
        )
    ]
    out: list[dict[str, Any]] = []
    for dimension in ("enterprise", "region", "industry", "territory", "segment", "sub_segment"):
        groups = sorted(
            by_dimension.get(dimension, []),
            key=lambda g: (-g["arr"], -g["highSeverityCount"], g["name"]),
        )
        out.extend(groups if dimension == "enterprise" else groups[:per_dimension])
    return out
