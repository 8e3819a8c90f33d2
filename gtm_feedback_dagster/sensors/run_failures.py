"""Every failed run of this code location is reported to the operators' Slack channel
(`GTM_FEEDBACK_OPS_CHANNEL`) through the outbox; the outbox sensor delivers it."""

import dagster as dg

from gtm_feedback_dagster.notifications.run_failures import queue_run_failure
from gtm_feedback_dagster.resources.store import StoreResource


@dg.run_failure_sensor(
    name="run_failure_sensor",
    description="Queues a Slack message with the run's link for every failed run.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    monitor_all_code_locations=False,
)
def run_failure_sensor(context: dg.RunFailureSensorContext, store: StoreResource) -> None:
    run = context.dagster_run
    error = context.failure_event.message if context.failure_event else None
    with store.session() as session:
        queue_run_failure(session, store.settings, run.run_id, run.job_name, error)
