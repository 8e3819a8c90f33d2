"""Rendering of an area insight report: Markdown (tables) and a small PNG chart.

The chart is embedded in the Markdown as a `data:image/png;base64` URI, which the Dagster UI
renders in asset metadata; the stored copy and the CLI carry a pointer instead, so the database and
terminals never hold the base64 blob.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gtm_feedback_dagster.core.money import format_arr

MAX_CHART_BYTES = 60_000
CHART_PLACEHOLDER = "_chart: see Dagster UI (asset `area_insight_report`)_"
_DATA_IMAGE = re.compile(r"!\[[^\]]*\]\(data:image/[a-z]+;base64,[A-Za-z0-9+/=]+\)")
_SEVERITY_LABEL = {"low": "Nice to have", "medium": "Significant pain", "high": "Dealbreaker"}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _request_link(app_url: str | None, slug: str, title: str) -> str:
    title = title.replace("[", "(").replace("]", ")")
    return f"[{title}]({app_url}/requests/{slug})" if app_url else title


def _signed(value: float) -> str:
    return f"{value:+,.0f}" if float(value).is_integer() else f"{value:+,.2f}"


def render_chart_png(report: Mapping[str, Any]) -> bytes | None:
    """Top open requests by ARR (bars coloured by highest severity); None without data.

    Rendered with matplotlib's Agg backend (no display) and kept under MAX_CHART_BYTES, because
    metadata lives in Dagster's event log.
    """
    items = [i for i in report["topRequests"] if i["arr"] > 0]
    if not items:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    colours = {"high": "#d62728", "medium": "#ff7f0e", "low": "#2ca02c", None: "#7f7f7f"}
    labels = [i["title"] if len(i["title"]) <= 38 else i["title"][:36] + "…" for i in items]
    values = [i["arr"] / 1000 for i in items]
    png = b""
    for dpi in (90, 70, 50):
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(items) + 1.1), dpi=dpi)
        try:
            ax.barh(
                range(len(items)),
                values,
                color=[colours.get(i["highestSeverity"], "#7f7f7f") for i in items],
            )
            ax.set_yticks(range(len(items)), labels, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel("ARR of distinct accounts ($K)", fontsize=8)
            ax.set_title(f"{report['area']['name']}: top open requests by ARR", fontsize=9)
            ax.tick_params(axis="x", labelsize=8)
            shown = [
                s
                for s in ("high", "medium", "low")
                if any(i["highestSeverity"] == s for i in items)
            ]
            if shown:
                from matplotlib.patches import Patch

                ax.legend(
                    handles=[Patch(color=colours[s], label=_SEVERITY_LABEL[s]) for s in shown],
                    title="highest severity",
                    fontsize=7,
                    title_fontsize=7,
                    loc="lower right",
                )
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi)
        finally:
            plt.close(fig)
        png = buffer.getvalue()
        if len(png) <= MAX_CHART_BYTES:
            return png
    return None  # never reached in practice; better no chart than a bloated event log


def chart_markdown(png: bytes | None) -> str:
    if not png:
        return ""
    return f"![top requests by ARR](data:image/png;base64,{base64.b64encode(png).decode()})"


def _demand_cell(report: Mapping[str, Any]) -> str:
    demand = report.get("demand")
    if not demand:
        return "—"
    return f"{demand['accountCount']} ({format_arr(demand['arr'])})"


def render_markdown(
    report: Mapping[str, Any], chart: str | None = None, app_url: str | None = None
) -> str:
    """The report as Markdown; `chart` is a Markdown image (None puts a pointer to the UI)."""
    area = report["area"]
    lines = [f"# {area['name']} — insights for {report['day']}", "", report["narrative"], ""]
    key = report["keyNumbers"]
    execution = report["execution"]
    lines += [
        markdown_table(
            [
                "Open requests",
                "Feedback on them",
                "Accounts asking (ARR)",
                "Dealbreaker ARR",
                "Open opportunity value",
                "Ship rate",
            ],
            [
                [
                    execution["open"],
                    int(key["feedbackEntries"]),
                    _demand_cell(report),
                    format_arr(key["dealbreakerArr"]),
                    f"{format_arr(report['openOpportunities']['value'])} "
                    f"({report['openOpportunities']['count']} opps)",
                    f"{execution['shipRate']}%",
                ]
            ],
        ),
        "",
        "Area totals count each account and each opportunity once; request rows show that "
        "request's own accounts.",
        "",
    ]
    for section in report["sections"]:
        badge = {"critical": "🔴", "warning": "🟠", "info": "🔵"}[section["importance"]]
        lines += [f"## {badge} {section['title']}", "", section["summary"], ""]
        if section["id"] == "dealbreakers":
            lines.append(
                markdown_table(
                    [
                        "Request",
                        "Dealbreaker ARR (this request)",
                        "Dealbreaker entries",
                        "Enterprise accounts",
                    ],
                    [
                        [
                            _request_link(app_url, i["slug"], i["title"]),
                            format_arr(i["arr"]),
                            i["feedbackCount"],
                            i["enterpriseAccountCount"],
                        ]
                        for i in report["dealbreakers"]["topItems"]
                    ],
                )
            )
        elif section["id"] == "segments":
            lines.append(
                markdown_table(
                    ["Segment", "High-severity entries", "ARR", "Accounts"],
                    [
                        [s["name"], s["highSeverityCount"], format_arr(s["arr"]), s["accountCount"]]
                        for s in report["segments"]
                    ],
                )
            )
        elif section["id"] == "themes":
            lines.append(
                markdown_table(
                    ["Theme", "Requests", "Entries", "ARR", "Examples"],
                    [
                        [
                            t["name"],
                            t["count"],
                            t["entryCount"],
                            format_arr(t["arr"]),
                            "; ".join(e["title"] for e in t["exampleRequests"]),
                        ]
                        for t in report["themes"]
                    ],
                )
            )
        elif section["id"] == "execution":
            lines.append(
                markdown_table(
                    ["Open", "Shipped", "Deprioritized", "Ship rate"],
                    [
                        [
                            execution["open"],
                            execution["shipped"],
                            execution["deprioritized"],
                            f"{execution['shipRate']}%",
                        ]
                    ],
                )
            )
        lines.append("")
    if report["topRequests"]:
        lines += [
            "## Top requests by ARR",
            "",
            "ARR of every account asking for the request (the dealbreaker table above counts "
            "only the enterprise accounts that flagged it high severity).",
            "",
            markdown_table(
                ["Request", "ARR (this request)", "Entries", "Accounts", "Highest severity"],
                [
                    [
                        _request_link(app_url, i["slug"], i["title"]),
                        format_arr(i["arr"]),
                        i["feedbackCount"],
                        i["accountCount"],
                        _SEVERITY_LABEL.get(i["highestSeverity"] or "", "—"),
                    ]
                    for i in report["topRequests"]
                ],
            ),
            "",
            chart if chart else CHART_PLACEHOLDER,
            "",
        ]
    change = report.get("change")
    lines += ["## Since the previous report", ""]
    if not change:
        if report.get("replacesSameDay"):
            lines += [
                "No report from an earlier day to compare with; this run replaces "
                f"the one from earlier on {report['day']}.",
                "",
            ]
        else:
            lines += ["First report for this area.", ""]
    else:
        labels = {
            "openRequests": "Open requests",
            "shippedRequests": "Shipped requests",
            "shipRate": "Ship rate (points)",
            "feedbackEntries": "Feedback entries",
            "highSeverityEntries": "High-severity entries",
            "dealbreakerCount": "Requests with enterprise dealbreakers",
            "dealbreakerArr": "Dealbreaker ARR ($)",
            "dealbreakerAccounts": "Enterprise accounts with dealbreakers",
            "demandArr": "ARR of accounts asking ($)",
            "demandAccounts": "Accounts asking",
            "openOpportunityValue": "Open opportunity value ($)",
        }
        lines += [
            f"Compared with {change['previousDay']}:",
            "",
            markdown_table(
                ["Number", "Change"],
                [[labels.get(k, k), _signed(v)] for k, v in change["deltas"].items()],
            ),
            "",
        ]
        if change["newDealbreakers"]:
            lines.append("New dealbreakers:")
            lines += [
                f"- {_request_link(app_url, d['slug'], d['title'])} ({format_arr(d['arr'])})"
                for d in change["newDealbreakers"]
            ]
        else:
            lines.append("No new dealbreakers.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def strip_images(markdown: str) -> str:
    """Replaces embedded base64 images by a pointer to the UI (for terminals and storage)."""
    return _DATA_IMAGE.sub(CHART_PLACEHOLDER, markdown)
