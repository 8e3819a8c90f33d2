"""`notify_shipped_job`: for each newly shipped request, one DM per follower and a post in each of
its areas' firehose channels (queued with the request's `shipped_notified_at`, then delivered)."""

from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.jobs.deliver_outbox import DB_RETRY_POLICY, deliver_outbox_op
from gtm_feedback_dagster.notifications.notices import notify_shipped
from gtm_feedback_dagster.resources.store import StoreResource


class NotifyShippedConfig(dg.Config):
    request_ids: list[int] = Field(description="Shipped requests to announce.")


@dg.op(
    retry_policy=DB_RETRY_POLICY,
    tags={"kind": "slack"},
    description="Queues the shipped notices of each request (once per request and recipient).",
)
def queue_shipped_notices_op(
    context: dg.OpExecutionContext, config: NotifyShippedConfig, store: StoreResource
) -> dg.Output[dict[str, Any]]:
    report = notify_shipped(store.url, store.settings, config.request_ids)
    summary = report.metadata()
    context.log.info(f"shipped notices: {summary}")
    return dg.Output(summary, metadata=summary)


@dg.job(
    executor_def=dg.in_process_executor,
    description="Announces shipped requests to their followers and firehose channels.",
    tags={"team": "gtm-feedback"},
)
def notify_shipped_job() -> None:
    deliver_outbox_op(start_after=queue_shipped_notices_op())
