"""The words of an area's report: its plain-number narrative, its sections and the facts an
LLM narrative may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gtm_feedback_dagster.core.money import format_arr

LOW_SHIP_RATE = 30  # % — execution is a warning below this (reference analytics agent)
IMPORTANCE_ORDER = {"critical": 0, "warning": 1, "info": 2}


def plural(n: int | float, word: str, many: str | None = None) -> str:
    """`1 entry`, `2 entries`: the count and the word in the right number."""
    count = int(n)
    return f"{count} {word if count == 1 else (many or word + 's')}"


def deterministic_narrative(report: Mapping[str, Any]) -> str:
    """Two to four plain sentences from the numbers (used when no LLM is configured)."""
    name = report["area"]["name"]
    execution = report["execution"]
    db = report["dealbreakers"]
    demand = report.get("demand") or {}
    open_n, entries = execution["open"], report["severityStats"]["totalFeedback"]
    asking = ""
    if demand.get("accountCount"):
        asking = (
            f" from {plural(demand['accountCount'], 'account')} ({format_arr(demand['arr'])} ARR)"
        )
    sentences = [
        f"{name} has {plural(open_n, 'open request')} backed by "
        f"{plural(entries, 'feedback entry', 'feedback entries')}{asking}; "
        f"{execution['shipped']} shipped so far (ship rate {execution['shipRate']}%)."
    ]
    if db["count"]:
        top = db["topItems"][0]
        accounts = db.get("accountCount")
        who = f" from {plural(accounts, 'enterprise account')}" if accounts else ""
        sentences.append(
            f"{plural(db['count'], 'request')} {'carries' if db['count'] == 1 else 'carry'} "
            f"enterprise dealbreakers{who} worth {format_arr(db['totalArr'])} ARR"
            f'{" — critical" if db["critical"] else ""}, led by "{top["title"]}" '
            f"({format_arr(top['arr'])} for that request)."
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


def report_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reference's ≤4 sections, empty ones skipped, ordered critical → warning → info."""
    sections: list[dict[str, Any]] = []
    db = report["dealbreakers"]
    if db["count"]:
        sections.append(
            {
                "id": "dealbreakers",
                "title": "Critical Dealbreakers" if db["critical"] else "Revenue at Risk",
                "summary": (
                    f"{plural(db['count'], 'open request')} flagged as dealbreakers by "
                    f"{plural(db.get('accountCount', 0), 'enterprise account')}, "
                    f"{format_arr(db['totalArr'])} ARR (each account counted once)."
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
