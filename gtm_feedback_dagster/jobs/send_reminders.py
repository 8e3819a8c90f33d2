"""`send_reminders_job`: one DM to the creator of each request that still has no feedback entry
`reminder_delay_minutes` after creation (reminder_sent_at set with the queued DM)."""

from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.jobs.deliver_outbox import DB_RETRY_POLICY, deliver_outbox_op
from gtm_feedback_dagster.notifications.notices import send_reminders
from gtm_feedback_dagster.resources.store import StoreResource


class SendRemindersConfig(dg.Config):
    request_ids: list[int] = Field(description="Requests whose creator is reminded.")


@dg.op(
    retry_policy=DB_RETRY_POLICY,
    tags={"kind": "slack"},
    description="Queues a reminder DM per request that is still due (checked in the same UPDATE).",
)
def queue_reminders_op(
    context: dg.OpExecutionContext, config: SendRemindersConfig, store: StoreResource
) -> dg.Output[dict[str, Any]]:
    report = send_reminders(store.url, store.settings, config.request_ids)
    summary = report.metadata()
    context.log.info(f"reminders: {summary}")
    return dg.Output(summary, metadata=summary)


@dg.job(
    executor_def=dg.in_process_executor,
    description="Reminds request creators to add customer feedback to their new request.",
    tags={"team": "gtm-feedback"},
)
def send_reminders_job() -> None:
    deliver_outbox_op(start_after=queue_reminders_op())
