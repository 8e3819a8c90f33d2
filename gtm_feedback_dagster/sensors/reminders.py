"""`reminder_sensor`: requests with a creator and no feedback entry `reminder_delay_minutes`
(default 60) after creation -> `send_reminders_job` (one DM per request, ever).

Requests created by routing never qualify: routing attaches the submitter's entry to the new
request in the same transaction that creates it. Requests created by hand (CLI, UI, import) do.
"""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.jobs.send_reminders import SendRemindersConfig, send_reminders_job
from gtm_feedback_dagster.notifications.reminders import due_reminders
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.runkeys import run_key
from gtm_feedback_dagster.store.schema import utcnow

MAX_REQUESTS_PER_RUN = 100


@dg.sensor(
    job=send_reminders_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reminds creators of requests that still have no customer feedback after the delay.",
)
def reminder_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.RunRequest | dg.SkipReason:
    now = utcnow()
    with store.session() as session:
        due = due_reminders(session, store.settings, now, limit=MAX_REQUESTS_PER_RUN)
    if not due:
        return dg.SkipReason("no request is due for a reminder")
    return dg.RunRequest(
        run_key=run_key("reminders", due, now),
        run_config=dg.RunConfig(ops={"queue_reminders_op": SendRemindersConfig(request_ids=due)}),
    )
