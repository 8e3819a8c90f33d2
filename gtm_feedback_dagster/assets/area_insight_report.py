"""`area_insight_report`: the revenue-weighted insight report of one product area.

A thin Dagster shell: maths in `analytics/report.py` (and its metrics, segments, themes),
loading and storing in `analytics/data.py`, Markdown and chart in `analytics/render.py`. Each partition reads
only its own area and writes only its own (area, day) row, so a backfill of every area from the UI
needs nothing shared between runs.
"""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.analytics.data import (
    get_area,
    get_report,
    load_area_data,
    load_area_texts,
    previous_report,
    save_report,
)
from gtm_feedback_dagster.analytics.narrative import narrative_facts
from gtm_feedback_dagster.analytics.render import (
    chart_markdown,
    render_chart_png,
    render_markdown,
)
from gtm_feedback_dagster.analytics.report import build_report
from gtm_feedback_dagster.assets.area_demand import area_demand
from gtm_feedback_dagster.assets.related_request_graph import related_request_graph
from gtm_feedback_dagster.assets.sources import crm_accounts, feedback_entries
from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.core.request_graph import DEFAULT_CLUSTER_THRESHOLD
from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.resources.ai import LLMResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.retry import TRANSIENT_RETRY
from gtm_feedback_dagster.store.schema import utcnow

REPORT_TIMEZONE = ZoneInfo("America/New_York")  # the reports' working day (schedule at 08:00)


class AreaInsightReportConfig(dg.Config):
    day: str | None = Field(
        default=None,
        description="Report day YYYY-MM-DD (default: today in America/New_York). One report "
        "per area and day: re-running a day replaces it.",
    )
    cluster_threshold: float = Field(
        default=DEFAULT_CLUSTER_THRESHOLD,
        ge=-1.0,
        le=1.0,
        description="Graph edges at or above this join requests into one theme.",
    )

    def report_day(self) -> date:
        if not self.day:
            return datetime.now(REPORT_TIMEZONE).date()
        try:
            return date.fromisoformat(self.day)
        except ValueError:
            raise dg.Failure(
                f"day must be YYYY-MM-DD, got {self.day!r}", allow_retries=False
            ) from None


@dg.asset(
    partitions_def=product_area_partitions,
    # The "Top requests" table is the area_demand table's open rows (same partition).
    ins={"demand_table": dg.AssetIn(key=area_demand.key)},
    deps=[related_request_graph, feedback_entries, crm_accounts],
    group_name="analytics",
    retry_policy=TRANSIENT_RETRY,
    owners=["team:gtm-feedback"],
    kinds={"python", "matplotlib", "sql"},
    description=(
        "Insight report of one product area (table `insight_reports`, one row per area and "
        "day): enterprise dealbreakers and the ARR at risk, who feels the pain by segment, "
        "themes from the related-request graph, execution status, top requests by ARR of "
        "distinct accounts, open opportunity value affected, and the change since the previous "
        "report. Shown here as Markdown with a chart; `gtm-feedback report AREA` prints it."
    ),
    # Due daily by 09:00 New York time (the schedule runs at 08:00): an area whose report did
    # not materialize since 08:00 shows as late in the UI.
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="0 9 * * *",
        lower_bound_delta=timedelta(hours=1),
        timezone="America/New_York",
    ),
    metadata={
        "dagster/table_name": "insight_reports",
        "maths": "reference §7.1; area totals over distinct accounts and opportunities",
    },
)
def area_insight_report(
    context: dg.AssetExecutionContext,
    config: AreaInsightReportConfig,
    store: StoreResource,
    llm: LLMResource,
    # A pandas DataFrame; annotated Any so loading the definitions does not import pandas.
    demand_table: Any,
) -> dg.MaterializeResult:
    settings = store.settings
    day = config.report_day()
    with store.session() as session:
        area = get_area(session, context.partition_key)
        if area is None:
            raise dg.Failure(
                f"product area {context.partition_key!r} is not in the app database",
                allow_retries=False,
            )
        data = load_area_data(session, area, config.cluster_threshold)
        data.texts = load_area_texts(session, data)
        previous = previous_report(session, area.id, day)
        rerun = get_report(session, area.id, day) is not None

    # LLM calls happen outside any database transaction; each falls back on its own.
    from gtm_feedback_dagster.ai.llm_reports import name_theme, write_narrative

    chat = llm.get()
    report = build_report(
        data,
        day=day,
        generated_at=utcnow(),
        previous=previous,
        theme_namer=(lambda titles: name_theme(chat, titles)) if chat is not None else None,
        cluster_threshold=config.cluster_threshold,
        demand=demand_table,
    )
    report["replacesSameDay"] = rerun
    if chat is not None:
        narrative = write_narrative(chat, narrative_facts(report))
        if narrative:
            report["narrative"], report["narrativeSource"] = narrative, "llm"

    png = render_chart_png(report)
    stored_markdown = render_markdown(report, chart=None, app_url=settings.app_url)
    with store.session() as session:
        save_report(session, area.id, day, stored_markdown, report)

    db, demand = report["dealbreakers"], report["demand"]
    # Money as money ($1.2M) in the UI; the exact floats are in report_json. Area figures count
    # distinct accounts / opportunities; "top_request_arr" is one request's own accounts.
    metadata: dict[str, dg.RawMetadataValue] = {
        "report": dg.MetadataValue.md(
            render_markdown(report, chart=chart_markdown(png), app_url=settings.app_url)
        ),
        "report_json": dg.MetadataValue.json(report),
        "day": dg.MetadataValue.text(day.isoformat()),
        "narrative": dg.MetadataValue.text(report["narrative"]),
        "narrative_source": dg.MetadataValue.text(report["narrativeSource"]),
        "requests": dg.MetadataValue.int(len(data.requests)),
        "open_requests": dg.MetadataValue.int(report["execution"]["open"]),
        "feedback_entries_on_open_requests": dg.MetadataValue.int(
            report["severityStats"]["totalFeedback"]
        ),
        "accounts_asking": dg.MetadataValue.int(demand["accountCount"]),
        "arr_of_accounts_asking": dg.MetadataValue.text(format_arr(demand["arr"])),
        "dealbreaker_requests": dg.MetadataValue.int(db["count"]),
        "dealbreaker_accounts": dg.MetadataValue.int(db["accountCount"]),
        "dealbreaker_arr": dg.MetadataValue.text(format_arr(db["totalArr"])),
        "critical": dg.MetadataValue.bool(bool(db["critical"])),
        "top_request_arr": dg.MetadataValue.text(
            format_arr(report["topRequests"][0]["arr"]) if report["topRequests"] else "$0"
        ),
        "open_opportunity_value": dg.MetadataValue.text(
            format_arr(report["openOpportunities"]["value"])
        ),
        "ship_rate_percent": dg.MetadataValue.int(report["execution"]["shipRate"]),
        "themes": dg.MetadataValue.int(len(report["themes"])),
        "new_dealbreakers": dg.MetadataValue.int(
            len(report["change"]["newDealbreakers"]) if report["change"] else 0
        ),
        "dagster/table_name": dg.MetadataValue.text("insight_reports"),
    }
    if chat is not None:
        metadata["llm_usage"] = dg.MetadataValue.json(dict(chat.usage))
    return dg.MaterializeResult(metadata=metadata)
