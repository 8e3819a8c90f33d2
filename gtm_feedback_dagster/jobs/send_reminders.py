"""`send_reminders_job`: one DM to the creator of each request that still has no feedback entry
`reminder_delay_minutes` after creation (reminder_sent_at set with the queued DM)."""

from pydantic import Field

from gtm_feedback_dagster.jobs.deliver_outbox import RequestIdsConfig, queue_then_deliver_job
from gtm_feedback_dagster.notifications.reminders import send_reminders


class SendRemindersConfig(RequestIdsConfig):
    request_ids: list[int] = Field(description="Requests whose creator is reminded.")


send_reminders_job = queue_then_deliver_job(
    name="send_reminders_job",
    op_name="queue_reminders_op",
    config_class=SendRemindersConfig,
    work=send_reminders,
    label="reminders",
    op_description=(
        "Queues a reminder DM per request that is still due (checked in the same UPDATE)."
    ),
    job_description="Reminds request creators to add customer feedback to their new request.",
)
