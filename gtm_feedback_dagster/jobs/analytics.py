"""Asset jobs of the analytics assets, launched by the schedules in `schedules/`."""

import dagster as dg

from gtm_feedback_dagster.assets.area_demand import area_demand
from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
from gtm_feedback_dagster.assets.related_request_graph import (
    DUPLICATES_CHECK,
    related_request_graph,
)
from gtm_feedback_dagster.assets.weekly_digest import weekly_digest
from gtm_feedback_dagster.partitions import product_area_partitions

# The graph and the area's demand table are refreshed (incrementally / one read: cheap) in the
# same run, right before the report, so its themes and top requests reflect today's data.
area_insights_job = dg.define_asset_job(
    name="area_insights_job",
    selection=dg.AssetSelection.assets(related_request_graph, area_demand, area_insight_report)
    | dg.AssetSelection.checks_for_assets(related_request_graph),
    partitions_def=product_area_partitions,
    executor_def=dg.in_process_executor,
    description=(
        "One product area: refresh its related-request graph and its demand table, then write "
        "its insight report. "
        f"The `{DUPLICATES_CHECK}` check warns about likely duplicates."
    ),
)

weekly_digest_job = dg.define_asset_job(
    name="weekly_digest_job",
    selection=dg.AssetSelection.assets(weekly_digest),
    executor_def=dg.in_process_executor,
    description="Queues the weekly digest of the last 7 days for the digest Slack channel.",
)
