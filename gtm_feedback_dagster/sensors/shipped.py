"""`shipped_sensor`: shipped requests not yet announced (shipped_notified_at NULL, shipped within
the last week) -> `notify_shipped_job`."""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.jobs.notify_shipped import NotifyShippedConfig, notify_shipped_job
from gtm_feedback_dagster.notifications.shipped import due_shipped_requests
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.runkeys import run_key
from gtm_feedback_dagster.store.schema import utcnow

MAX_REQUESTS_PER_RUN = 100


@dg.sensor(
    job=notify_shipped_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Announces newly shipped requests to their followers and firehose channels.",
)
def shipped_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.RunRequest | dg.SkipReason:
    now = utcnow()
    with store.session() as session:
        due = due_shipped_requests(session, now, limit=MAX_REQUESTS_PER_RUN)
    if not due:
        return dg.SkipReason("no shipped request waits for its announcement")
    return dg.RunRequest(
        run_key=run_key("shipped", due, now),
        run_config=dg.RunConfig(
            ops={"queue_shipped_notices_op": NotifyShippedConfig(request_ids=due)}
        ),
    )
