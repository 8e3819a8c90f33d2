"""Daily area insight reports at 08:00 America/New_York, one run per product area.

The reference's docs say "daily 8 AM ET" (its cron ran weekdays at 13:00 UTC); we run every day
in New York time, so the hour never drifts with daylight saving.
"""

import dagster as dg

from gtm_feedback_dagster.jobs.analytics import area_insights_job
from gtm_feedback_dagster.schedules.per_area import per_area_schedule

daily_area_insights_schedule = per_area_schedule(
    name="daily_area_insights_schedule",
    job=area_insights_job,
    cron_schedule="0 8 * * *",
    execution_timezone="America/New_York",
    description="Every day 08:00 New York time: graph refresh + insight report per product area.",
    run_key_prefix="",
    day_tag="gtm/report_day",
    run_config_for_day=lambda day: dg.RunConfig(
        ops={"area_insight_report": {"config": {"day": day}}}
    ),
)
