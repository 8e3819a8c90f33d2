"""`outbox_sensor`: retries undelivered Slack messages — those whose backoff has passed, those
left `sending` by a crashed sender, and those the job that queued them never got to."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from gtm_feedback_dagster.jobs.deliver_outbox import DeliverOutboxConfig, deliver_outbox_job
from gtm_feedback_dagster.messaging.outbox import queued_count, undelivered_due
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.runkeys import chunks, run_key
from gtm_feedback_dagster.store.schema import utcnow

# A fresh message belongs to the job that queued it for this long before the sensor steps in.
FRESH_GRACE = timedelta(minutes=2)
MESSAGES_PER_RUN = 200
MAX_MESSAGES_PER_TICK = 1000


@dg.sensor(
    job=deliver_outbox_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries undelivered Slack messages of the outbox with backoff.",
)
def outbox_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource, slack: SlackResource
) -> dg.SensorResult | dg.SkipReason:
    now = utcnow()
    with store.session() as session:
        if not slack.bot_token:
            queued = queued_count(session)
            return dg.SkipReason(
                f"outbox-only mode (no SLACK_BOT_TOKEN): {queued} message(s) wait in the outbox"
            )
        pairs = undelivered_due(session, now, FRESH_GRACE, MAX_MESSAGES_PER_TICK)
    if not pairs:
        return dg.SkipReason("no undelivered message is due")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key("outbox", batch, now, bucket_minutes=10),
                run_config=dg.RunConfig(
                    ops={
                        "deliver_outbox_op": DeliverOutboxConfig(
                            message_ids=[i for i, _ in batch], limit=len(batch)
                        )
                    }
                ),
                tags={"gtm_feedback/messages": str(len(batch))},
            )
            for batch in chunks(pairs, MESSAGES_PER_RUN)
        ]
    )
