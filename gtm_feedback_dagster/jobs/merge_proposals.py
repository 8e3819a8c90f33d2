"""`propose_merges_job`: queues one merge proposal per likely-duplicate pair not proposed yet
(to the area's product owner, with Merge / Keep both buttons), then delivers them. Launched by
`merge_proposal_sensor` after `related_request_graph` materializes; the work is
`requests/merge_proposals.py`."""

from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.jobs.deliver_outbox import DB_RETRY_POLICY, deliver_outbox_op
from gtm_feedback_dagster.requests.merge_proposals import propose_merges
from gtm_feedback_dagster.resources.store import StoreResource


class ProposeMergesConfig(dg.Config):
    areas: list[str] = Field(
        default_factory=list,
        description="Product area slugs whose pairs to propose; empty means every area.",
    )


@dg.op(
    retry_policy=DB_RETRY_POLICY,
    tags={"kind": "slack"},
    description=(
        "Queues a Merge / Keep both proposal for each likely-duplicate pair not proposed, kept "
        "apart or merged yet (once per pair: outbox key merge-proposal:{a}:{b})."
    ),
)
def queue_merge_proposals_op(
    context: dg.OpExecutionContext, config: ProposeMergesConfig, store: StoreResource
) -> dg.Output[dict[str, Any]]:
    with store.session() as session:
        report = propose_merges(session, store.settings, config.areas or None)
    summary = report.metadata()
    if report.no_recipient:
        context.log.warning(
            "no product owner (GTM_FEEDBACK_AREA_OWNERS) nor firehose channel for "
            f"{', '.join(sorted(report.no_recipient))}: their pairs wait on /triage"
        )
    context.log.info(f"merge proposals: {summary}")
    return dg.Output(summary, metadata=summary)


@dg.job(
    executor_def=dg.in_process_executor,
    description="Proposes likely-duplicate requests for merging to their area owners, then delivers.",
    tags={"team": "gtm-feedback"},
)
def propose_merges_job() -> None:
    deliver_outbox_op(start_after=queue_merge_proposals_op())
