"""`resolve_slack_responses_job`: acts on a batch of Slack inbox rows (approval clicks, reactions,
modal submissions, /shipped) and expires unanswered approvals, then delivers the messages that
queued. Launched by `slack_response_sensor`; the work is `slack/dispatch.py` (rows) and
`routing/approvals.py` (expiry)."""

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.jobs.deliver_outbox import DB_RETRY_POLICY, deliver_outbox_op
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.routing.approvals import expire_approvals
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack.dispatch import ResolveReport, resolve_inbox
from gtm_feedback_dagster.vectors.base import VectorIndex


@dataclass
class _RunRuntime(Runtime):
    """The runtime of one run, its parts taken from the run's resources (the embedder only
    built when an approval takes the new-request path: loading the local model costs seconds)."""

    embedder_resource: EmbedderResource | None = None
    index_resource: VectorIndexResource | None = None
    _indexes: dict[tuple[str, int], VectorIndex] = field(default_factory=dict, repr=False)

    @cached_property
    def embedder(self) -> Any:
        assert self.embedder_resource is not None
        return self.embedder_resource.get()

    def vector_index(self, session: Any, model_id: str, dim: int) -> VectorIndex:
        """One index per run: opening the local one reads every stored vector, and a run that
        declined 100 approvals spent 34 of 57 s reopening it. New requests of this run are
        upserted into this same object, so it stays current."""
        key = (model_id, dim)
        if key not in self._indexes:
            assert self.index_resource is not None
            self._indexes[key] = self.index_resource.open(session, model_id, dim)
        return self._indexes[key]


class ResolveSlackResponsesConfig(dg.Config):
    inbox_ids: list[int] = Field(default_factory=list, description="slack_inbox rows to process.")
    expire_approval_ids: list[int] = Field(
        default_factory=list, description="Pending approvals past their expiry."
    )


@dg.op(
    retry_policy=DB_RETRY_POLICY,
    tags={"kind": "slack"},
    description=(
        "Processes Slack inbox rows, each in its own transaction (claimed, applied, closed; "
        "transient failures retried by a later run), and expires overdue approvals."
    ),
)
def resolve_slack_responses_op(
    context: dg.OpExecutionContext,
    config: ResolveSlackResponsesConfig,
    store: StoreResource,
    slack: SlackResource,
    embedder: EmbedderResource,
    vector_index: VectorIndexResource,
    llm: LLMResource,
) -> dg.Output[dict[str, Any]]:
    rt = _RunRuntime(
        settings=replace(store.settings, database_url=store.url),
        embedder_resource=embedder,
        index_resource=vector_index,
    )
    rt.slack = slack.get_client()
    rt.llm = llm.get()
    report = resolve_inbox(rt, config.inbox_ids) if config.inbox_ids else ResolveReport()
    if config.expire_approval_ids:
        report.expired.extend(expire_approvals(rt, config.expire_approval_ids))
    for inbox_id, error in report.errors.items():
        context.log.warning(f"inbox row {inbox_id}: {error}")
    summary = report.metadata()
    context.log.info(f"slack responses: {summary}")
    return dg.Output(summary, metadata=summary)


@dg.job(
    executor_def=dg.in_process_executor,
    description="Acts on Slack responses (approvals, reactions, modal, /shipped), then delivers.",
    tags={"team": "gtm-feedback"},
)
def resolve_slack_responses_job() -> None:
    deliver_outbox_op(start_after=resolve_slack_responses_op())
