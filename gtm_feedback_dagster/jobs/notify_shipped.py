"""`notify_shipped_job`: for each newly shipped request, one DM per follower and a post in each of
its areas' firehose channels (queued with the request's `shipped_notified_at`, then delivered)."""

from pydantic import Field

from gtm_feedback_dagster.jobs.deliver_outbox import RequestIdsConfig, queue_then_deliver_job
from gtm_feedback_dagster.notifications.shipped import notify_shipped


class NotifyShippedConfig(RequestIdsConfig):
    request_ids: list[int] = Field(description="Shipped requests to announce.")


notify_shipped_job = queue_then_deliver_job(
    name="notify_shipped_job",
    op_name="queue_shipped_notices_op",
    config_class=NotifyShippedConfig,
    work=notify_shipped,
    label="shipped notices",
    op_description="Queues the shipped notices of each request (once per request and recipient).",
    job_description="Announces shipped requests to their followers and firehose channels.",
)
