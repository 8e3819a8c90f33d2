"""Outbox delivery as a Dagster op (the last step of every job that queues Slack messages) and
as `deliver_outbox_job` (launched by `outbox_sensor` for retries and by `firehose_sensor`)."""

from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource

OWNERS = ["team:gtm-feedback"]
# Only database hiccups reach the op's retry policy: Slack failures are recorded per message
# (backoff or failed) and never fail the run.
DB_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class DeliverOutboxConfig(dg.Config):
    message_ids: list[int] | None = Field(
        default=None, description="Deliver only these outbox ids; empty means every due message."
    )
    limit: int = Field(default=200, description="At most this many messages per run.")


@dg.op(
    ins={"start_after": dg.In(dg.Nothing, description="Runs after the op that queued messages.")},
    retry_policy=DB_RETRY_POLICY,
    tags={"kind": "slack"},
    # Slack rate-limits per workspace: deploy/dagster.yaml caps concurrent senders.
    pool="slack_api",
    description=(
        "Sends the due Slack messages of the outbox (oldest first; 429s honour Retry-After, "
        "transient errors back off, permanent ones mark the message failed). Without "
        "SLACK_BOT_TOKEN nothing is sent and the messages wait in the outbox."
    ),
)
def deliver_outbox_op(
    context: dg.OpExecutionContext,
    config: DeliverOutboxConfig,
    store: StoreResource,
    slack: SlackResource,
) -> dg.Output[dict[str, Any]]:
    report = deliver_outbox(
        store.url, slack.get_client(), limit=config.limit, ids=config.message_ids
    )
    context.log.info(f"outbox: {report.summary()}")
    if report.aborted:
        context.log.warning(
            f"Slack rejected the bot token ({report.aborted}); the rest of the queue waits. "
            "Check SLACK_BOT_TOKEN, then `gtm-feedback outbox retry` the failed message."
        )
    summary = report.metadata()
    return dg.Output(summary, metadata=summary)


@dg.job(
    executor_def=dg.in_process_executor,
    description="Delivers queued Slack messages from the outbox.",
    tags={"team": "gtm-feedback"},
)
def deliver_outbox_job() -> None:
    deliver_outbox_op()


class RequestIdsConfig(dg.Config):
    request_ids: list[int] = Field(description="Requests to act on.")


def queue_then_deliver_job(
    *,
    name: str,
    op_name: str,
    config_class: type[RequestIdsConfig],
    work: Callable[[str, Settings, list[int]], Any],
    label: str,
    op_description: str,
    job_description: str,
) -> dg.JobDefinition:
    """A job of two ops: `op_name` queues messages for the configured requests (`work(url,
    settings, request_ids)` returns a report with `metadata()`), then `deliver_outbox_op` sends
    them. `notify_shipped_job` and `send_reminders_job` are built here."""

    def queue(
        context: dg.OpExecutionContext, config: RequestIdsConfig, store: StoreResource
    ) -> dg.Output[dict[str, Any]]:
        report = work(store.url, store.settings, config.request_ids)
        summary = report.metadata()
        context.log.info(f"{label}: {summary}")
        return dg.Output(summary, metadata=summary)

    queue.__annotations__["config"] = config_class  # the job's own config class, in the UI
    queue_op = dg.op(
        name=op_name,
        retry_policy=DB_RETRY_POLICY,
        tags={"kind": "slack"},
        description=op_description,
    )(queue)

    @dg.job(
        name=name,
        executor_def=dg.in_process_executor,
        description=job_description,
        tags={"team": "gtm-feedback"},
    )
    def _job() -> None:
        deliver_outbox_op(start_after=queue_op())

    return _job
