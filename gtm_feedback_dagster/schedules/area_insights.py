"""Daily area insight reports at 08:00 America/New_York, one run per product area.

The reference's docs say "daily 8 AM ET" (its cron ran weekdays at 13:00 UTC); we run every day
in New York time, so the hour never drifts with daylight saving. Run keys carry the date and the
area, so a re-evaluated tick launches nothing twice; the report day is passed in run config, so a
run that starts late still files the report under its scheduled day.
"""

import dagster as dg

from gtm_feedback_dagster.jobs.analytics import area_insights_job
from gtm_feedback_dagster.partitions import product_area_partitions


@dg.schedule(
    job=area_insights_job,
    cron_schedule="0 8 * * *",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day 08:00 New York time: graph refresh + insight report per product area.",
)
def daily_area_insights_schedule(
    context: dg.ScheduleEvaluationContext,
) -> list[dg.RunRequest] | dg.SkipReason:
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    areas = context.instance.get_dynamic_partitions(product_area_partitions.name or "")
    if not areas:
        return dg.SkipReason("no product areas yet")
    return [
        dg.RunRequest(
            run_key=f"{day}:{area}",
            partition_key=area,
            run_config=dg.RunConfig(ops={"area_insight_report": {"config": {"day": day}}}),
            tags={"gtm/report_day": day},
        )
        for area in sorted(areas)
    ]
