"""The weekly digest on Mondays at 08:00 America/New_York (the reference posted Mondays 16:00
UTC). The run key is the date; the digest itself is queued once per ISO week whatever runs."""

import dagster as dg

from gtm_feedback_dagster.jobs.analytics import weekly_digest_job


@dg.schedule(
    job=weekly_digest_job,
    cron_schedule="0 8 * * 1",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays 08:00 New York time: queue the digest of the last 7 days.",
)
def weekly_digest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"weekly-digest:{tick:%Y-%m-%d}",
        run_config=dg.RunConfig(ops={"weekly_digest": {"config": {"as_of": tick.isoformat()}}}),
        tags={"gtm/digest_day": f"{tick:%Y-%m-%d}"},
    )
