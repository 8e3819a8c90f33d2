"""Area insight report maths (reference §7.1), over plain rows so it is tested without a database.

All per-request numbers are over the area's **open** requests, as in the reference's tools; the
execution status counts every (non-merged) request tagged with the area. A request's ARR is the
sum of the ARR of the *distinct* accounts behind its feedback (the area-insights rule; the
analytics agent's per-row sum is a known inconsistency we do not copy).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.core.request_graph import DEFAULT_CLUSTER_THRESHOLD, clusters

CRITICAL_ARR = 500_000.0  # dealbreakers above this are "critical" (reference)
TOP_LIMIT = 5
SEGMENTS_PER_DIMENSION = 3
LOW_SHIP_RATE = 30  # % — execution is a warning below this (reference analytics agent)
SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3}
IMPORTANCE_ORDER = {"critical": 0, "warning": 1, "info": 2}
CLOSED_STAGES = {"closedwon", "closedlost"}


# Rows are NamedTuples: a report loads tens of thousands of them, and a tuple is built several
# times faster than a frozen dataclass.


class AccountRow(NamedTuple):
    id: int
    name: str
    arr: float = 0.0
    is_enterprise: bool = False
    region: str | None = None
    industry: str | None = None
    territory: str | None = None
    segment: str | None = None
    sub_segment: str | None = None


class OpportunityRow(NamedTuple):
    id: int
    account_id: int
    arr: float = 0.0
    stage: str | None = None


class RequestRow(NamedTuple):
    id: int
    slug: str
    title: str
    status: str = "open"
    created_at: datetime | None = None
    shipped_at: datetime | None = None


class FeedbackRow(NamedTuple):
    id: int
    request_id: int
    account_id: int | None
    severity: str | None
    opportunity_id: int | None = None
    created_at: datetime | None = None


@dataclass
class AreaData:
    """Everything one area's report needs, loaded with a few set-based queries."""

    area_id: int
    slug: str
    name: str
    requests: list[RequestRow]  # every non-merged request tagged with the area
    feedback: list[FeedbackRow]  # feedback attached to those requests
    accounts: dict[int, AccountRow]
    opportunities: dict[int, OpportunityRow] = field(default_factory=dict)
    # Stored related-graph edges (request_id, related_id, similarity) of the area's requests.
    edges: list[tuple[int, int, float]] = field(default_factory=list)


ThemeNamer = Callable[[list[str]], str | None]


def js_round(x: float) -> int:
    """JavaScript's Math.round (half up), which the reference's ship rate uses; Python's round()
    rounds half to even (12.5 -> 12, not 13)."""
    return math.floor(x + 0.5)


def _distinct_arr(account_ids: Iterable[int], accounts: Mapping[int, AccountRow]) -> float:
    return float(sum(accounts[a].arr for a in set(account_ids) if a in accounts))


def _group_feedback(feedback: Iterable[FeedbackRow]) -> dict[int, list[FeedbackRow]]:
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
    """High-severity feedback from enterprise accounts, per open request."""
    items: list[dict[str, Any]] = []
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
        items.append(
            {
                "requestId": request.id,
                "slug": request.slug,
                "title": request.title,
                "arr": _distinct_arr(enterprise, accounts),
                "feedbackCount": len(high),
                "entryCount": len(high),
                "enterpriseAccountCount": len(enterprise),
            }
        )
    items.sort(key=lambda i: (-i["arr"], -i["feedbackCount"], i["requestId"]))
    total = float(sum(i["arr"] for i in items))
    return {
        "count": len(items),
        "totalArr": total,
        "critical": total > CRITICAL_ARR,
        "topItems": items[:limit],
        "requestIds": [i["requestId"] for i in items],
    }


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
                "arr": _distinct_arr(members[(dimension, name)], accounts),
                "accountCount": len(members[(dimension, name)]),
            }
        )
    out: list[dict[str, Any]] = []
    for dimension in ("enterprise", "region", "industry", "territory", "segment", "sub_segment"):
        groups = sorted(
            by_dimension.get(dimension, []),
            key=lambda g: (-g["arr"], -g["highSeverityCount"], g["name"]),
        )
        out.extend(groups if dimension == "enterprise" else groups[:per_dimension])
    return out


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
        "arr": {s: _distinct_arr(ids, accounts) for s, ids in account_sets.items()},
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


def top_requests(
    open_requests: Sequence[RequestRow],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
    limit: int = TOP_LIMIT,
) -> list[dict[str, Any]]:
    """Open requests by ARR of the distinct accounts with any feedback on them."""
    items = []
    for request in open_requests:
        rows = feedback_by_request.get(request.id, ())
        severities = [f.severity for f in rows if f.severity in SEVERITY_ORDER]
        account_ids = {f.account_id for f in rows if f.account_id is not None}
        items.append(
            {
                "requestId": request.id,
                "slug": request.slug,
                "title": request.title,
                "arr": _distinct_arr(account_ids, accounts),
                "feedbackCount": len(rows),
                "accountCount": len(account_ids),
                "highestSeverity": max(severities, key=SEVERITY_ORDER.__getitem__)
                if severities
                else None,
            }
        )
    items.sort(key=lambda i: (-i["arr"], -i["feedbackCount"], i["requestId"]))
    return items[:limit]


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


# ---------------------------------------------------------------------------- themes

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "cannot",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "per",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "via",
        "was",
        "we",
        "were",
        "when",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "without",
        "would",
        "you",
        "your",
        "all",
        "any",
        "more",
        "most",
        "should",
        "need",
        "needs",
        "want",
        "wants",
        "able",
        "support",
        "supports",
        "allow",
        "allows",
        "add",
        "adds",
        "make",
        "better",
        "new",
    ]
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]")


def _terms(title: str) -> list[str]:
    return [t for t in _TOKEN.findall(title.lower()) if len(t) > 2 and t not in _STOPWORDS]


def document_frequencies(titles: Sequence[str]) -> Counter[str]:
    """In how many titles each term appears (the IDF side of `distinctive_terms`)."""
    doc_freq: Counter[str] = Counter()
    for title in titles:
        doc_freq.update(set(_terms(title)))
    return doc_freq


def distinctive_terms(
    cluster_titles: Sequence[str],
    area_titles: Sequence[str],
    n: int = 3,
    doc_freq: Mapping[str, int] | None = None,
) -> list[str]:
    """Terms frequent in the cluster's titles but rare across the area's (TF-IDF over titles),
    in the spelling the titles use most ("SSO", not "sso"). Pass `doc_freq` (from
    `document_frequencies(area_titles)`) when naming several clusters of one area."""
    if doc_freq is None:
        doc_freq = document_frequencies(area_titles)
    tf: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for title in cluster_titles:
        tf.update(set(_terms(title)))
        for match in _TOKEN.finditer(title.lower()):
            spellings[match.group()][title[match.start() : match.end()]] += 1
    n_docs = max(len(area_titles), 1)
    scored = [
        (count * math.log((1 + n_docs) / (1 + doc_freq.get(term, 0))) + count * 1e-3, term)
        for term, count in tf.items()
    ]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [
        spellings[term].most_common(1)[0][0] if spellings[term] else term
        for _score, term in scored[:n]
    ]


def theme_name_from_terms(terms: Sequence[str]) -> str:
    return " / ".join(t[:1].upper() + t[1:] for t in terms) or "Related requests"


def common_title_prefix(titles: Sequence[str]) -> str | None:
    """The words every title starts with ("SAML single sign-on" for "SAML single sign-on" and
    "SAML single sign-on - for banks"), when that is at least two words."""
    prefix: list[str] = []
    for words in zip(*(t.split() for t in titles), strict=False):
        if any(w.lower() != words[0].lower() for w in words):
            break
        prefix.append(words[0])
    while prefix and (prefix[-1] in {"-", "–", "—", ":", "/"} or prefix[-1].lower() in _STOPWORDS):
        prefix.pop()
    return " ".join(prefix) if len(prefix) >= 2 else None


def theme_name(
    titles: Sequence[str], area_titles: Sequence[str], doc_freq: Mapping[str, int] | None = None
) -> str:
    """A deterministic theme name: the titles' common beginning, else their three most
    distinctive terms in the order the titles use them."""
    prefix = common_title_prefix(titles)
    if prefix:
        return prefix
    text = " ".join(titles).lower()
    terms = distinctive_terms(titles, area_titles, doc_freq=doc_freq)
    terms.sort(key=lambda t: text.find(t.lower()))
    return theme_name_from_terms(terms)


def themes(
    open_requests: Sequence[RequestRow],
    edges: Iterable[tuple[int, int, float]],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
    threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    namer: ThemeNamer | None = None,
    limit: int = TOP_LIMIT,
) -> list[dict[str, Any]]:
    """Clusters of the related-request graph among the area's open requests, biggest first (then
    by ARR of their distinct accounts), named by `namer` (the LLM, when configured) or by
    `theme_name`. Only the `limit` shown are named, so the LLM is asked at most `limit` times."""
    by_id = {r.id: r for r in open_requests}
    inside = [(a, b, s) for a, b, s in edges if a in by_id and b in by_id]
    ranked_clusters = []
    for members in clusters(inside, threshold):
        account_ids = {
            f.account_id
            for m in members
            for f in feedback_by_request.get(m, ())
            if f.account_id is not None
        }
        ranked_clusters.append((members, _distinct_arr(account_ids, accounts)))
    ranked_clusters.sort(key=lambda c: (-len(c[0]), -c[1], c[0][0]))
    area_titles = [r.title for r in open_requests]
    doc_freq: Counter[str] | None = None
    found = []
    for members, arr in ranked_clusters[:limit]:
        titles = [by_id[m].title for m in members]
        name = namer(titles) if namer is not None else None
        source = "llm" if name else "terms"
        if not name:
            if doc_freq is None:
                doc_freq = document_frequencies(area_titles)
            name = theme_name(titles, area_titles, doc_freq)
        examples = sorted(members, key=lambda m: (-len(feedback_by_request.get(m, ())), m))
        found.append(
            {
                "name": name,
                "nameSource": source,
                "count": len(members),
                "entryCount": sum(len(feedback_by_request.get(m, ())) for m in members),
                "arr": arr,
                "exampleRequests": [
                    {"slug": by_id[m].slug, "title": by_id[m].title} for m in examples[:3]
                ],
                "requestIds": members,
            }
        )
    return found


# ---------------------------------------------------------------------------- the report


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


def deterministic_narrative(report: Mapping[str, Any]) -> str:
    """Two to four plain sentences from the numbers (used when no LLM is configured)."""
    name = report["area"]["name"]
    execution = report["execution"]
    db = report["dealbreakers"]
    sentences = [
        f"{name} has {execution['open']} open requests backed by "
        f"{report['severityStats']['totalFeedback']} feedback entries; "
        f"{execution['shipped']} shipped so far (ship rate {execution['shipRate']}%)."
    ]
    if db["count"]:
        top = db["topItems"][0]
        sentences.append(
            f"{db['count']} request{'s' if db['count'] != 1 else ''} carry enterprise "
            f"dealbreakers worth {format_arr(db['totalArr'])} ARR"
            f'{" — critical" if db["critical"] else ""}, led by "{top["title"]}" '
            f"({format_arr(top['arr'])})."
        )
    else:
        sentences.append("No enterprise account has flagged a dealbreaker on an open request.")
    opp = report["openOpportunities"]
    if opp["count"]:
        sentences.append(
            f"{opp['count']} open opportunit{'ies' if opp['count'] != 1 else 'y'} worth "
            f"{format_arr(opp['value'])} are linked to this feedback."
        )
    change = report.get("change")
    if change and change["newDealbreakers"]:
        n = len(change["newDealbreakers"])
        sentences.append(
            f"{n} new dealbreaker{'s' if n != 1 else ''} since {change['previousDay']}."
        )
    return " ".join(sentences[:4])


def _sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reference's ≤4 sections, empty ones skipped, ordered critical → warning → info."""
    sections: list[dict[str, Any]] = []
    db = report["dealbreakers"]
    if db["count"]:
        sections.append(
            {
                "id": "dealbreakers",
                "title": "Critical Dealbreakers" if db["critical"] else "Revenue at Risk",
                "summary": (
                    f"{db['count']} open request{'s' if db['count'] != 1 else ''} flagged as "
                    f"dealbreakers by enterprise accounts, {format_arr(db['totalArr'])} ARR."
                ),
                "importance": "critical" if db["critical"] else "warning",
                "visuals": [
                    {
                        "kind": "dealbreakers-metric",
                        "props": {
                            "count": db["count"],
                            "totalArr": db["totalArr"],
                            "topItems": [
                                {k: i[k] for k in ("slug", "title", "arr", "entryCount")}
                                for i in db["topItems"]
                            ],
                        },
                    }
                ],
            }
        )
    segs = report["segments"]
    if segs:
        top = max(
            (s for s in segs if s["dimension"] != "enterprise"),
            key=lambda s: s["arr"],
            default=segs[0],
        )
        sections.append(
            {
                "id": "segments",
                "title": "Who's Feeling the Pain",
                "summary": (
                    f"High-severity pain is concentrated in {top['name']} "
                    f"({top['accountCount']} accounts, {format_arr(top['arr'])} ARR)."
                ),
                "importance": "info",
                "visuals": [{"kind": "segment-breakdown", "props": {"segments": segs}}],
            }
        )
    if report["themes"]:
        names = ", ".join(t["name"] for t in report["themes"][:3])
        sections.append(
            {
                "id": "themes",
                "title": "Common Themes",
                "summary": f"Requests cluster around: {names}.",
                "importance": "info",
                "visuals": [
                    {
                        "kind": "themes-list",
                        "props": {
                            "themes": [
                                {k: t[k] for k in ("name", "count", "exampleRequests")}
                                for t in report["themes"]
                            ]
                        },
                    }
                ],
            }
        )
    execution = report["execution"]
    if execution["total"]:
        low = execution["open"] + execution["shipped"] > 0 and execution["shipRate"] < LOW_SHIP_RATE
        sections.append(
            {
                "id": "execution",
                "title": "Execution Status",
                "summary": (
                    f"{execution['shipped']} shipped, {execution['open']} open, "
                    f"{execution['deprioritized']} deprioritized; ship rate "
                    f"{execution['shipRate']}%."
                ),
                "importance": "warning" if low else "info",
                "visuals": [
                    {
                        "kind": "status-metric",
                        "props": {
                            k: execution[k]
                            for k in ("open", "shipped", "deprioritized", "shipRate")
                        },
                    }
                ],
            }
        )
    sections.sort(key=lambda s: IMPORTANCE_ORDER[s["importance"]])  # stable within a level
    return sections[:4]


def build_report(
    data: AreaData,
    day: date,
    generated_at: datetime,
    previous: Mapping[str, Any] | None = None,
    theme_namer: ThemeNamer | None = None,
    cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD,
) -> dict[str, Any]:
    """The area's report as a JSON-safe dict: the reference's sections plus top requests, open
    opportunity value, severity stats, key numbers and the change since `previous`."""
    open_requests = [r for r in data.requests if r.status == "open"]
    by_request = _group_feedback(data.feedback)
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
        "execution": execution_status(data.requests),
        "topRequests": top_requests(open_requests, by_request, data.accounts),
        "openOpportunities": open_opportunity_value(open_requests, by_request, data.opportunities),
        "themes": themes(
            open_requests,
            data.edges,
            by_request,
            data.accounts,
            threshold=cluster_threshold,
            namer=theme_namer,
        ),
    }
    report["keyNumbers"] = {
        "openRequests": float(report["execution"]["open"]),
        "shippedRequests": float(report["execution"]["shipped"]),
        "shipRate": float(report["execution"]["shipRate"]),
        "feedbackEntries": float(report["severityStats"]["totalFeedback"]),
        "highSeverityEntries": float(report["severityStats"]["counts"]["high"]),
        "dealbreakerCount": float(db["count"]),
        "dealbreakerArr": db["totalArr"],
        "openOpportunityValue": report["openOpportunities"]["value"],
    }
    report["change"] = compare_with_previous(report, previous)
    # Only the top items are kept in the stored JSON; the ids of all are enough for the next diff.
    del report["dealbreakers"]["allItems"]
    report["sections"] = _sections(report)
    report["narrative"] = deterministic_narrative(report)
    report["narrativeSource"] = "numbers"
    return report


def narrative_facts(report: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers an LLM narrative may use (nothing else from the database)."""
    return {
        "area": report["area"]["name"],
        "keyNumbers": report["keyNumbers"],
        "topDealbreakers": [
            {"title": i["title"], "arr": i["arr"]} for i in report["dealbreakers"]["topItems"]
        ],
        "topRequests": [
            {"title": i["title"], "arr": i["arr"], "entries": i["feedbackCount"]}
            for i in report["topRequests"]
        ],
        "themes": [t["name"] for t in report["themes"]],
        "change": report.get("change"),
    }
