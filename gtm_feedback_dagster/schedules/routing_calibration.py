"""Weekly refit of the calibrated confidence (Sundays 18:00 UTC, after the embedding re-sync).

Stopped by default: a refit that passes its held-out check changes how routing attaches, so an
operator turns the schedule on once the deployment collects labels (the asset's metadata says
how many it has and how many it needs).
"""

import dagster as dg

from gtm_feedback_dagster.jobs.routing_calibration import routing_calibration_job


@dg.schedule(
    job=routing_calibration_job,
    cron_schedule="0 18 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Sundays 18:00 UTC: refit the calibrated confidence on the deployment's labels.",
)
def weekly_routing_calibration_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"routing-calibration:{tick:%Y-%m-%d}",
        tags={"gtm/calibration_day": f"{tick:%Y-%m-%d}"},
    )
