"""`route_feedback_job`: route one batch of pending feedback entries (launched by
`new_feedback_sensor`, or by `gtm-feedback route`).

A thin Dagster shell around `routing.engine.route_batch`. Transient failures (network, 429/5xx
after the clients' own retries, lost database connections) retry the op with backoff; entries
already applied are no longer pending, so a retry or a rerun does only what is left. Permanent
batch-level failures (a rejected API key, a wrong index dimension) fail the run without retries:
the entries stay pending and the sensor's sweep tries them again later, up to
`MAX_ROUTE_ATTEMPTS` runs, after which they are marked failed.

The vectors a run stores (for the requests it creates) are reported as materializations of the
`request_embeddings` partitions of those requests' areas, and the tables it writes are observed,
so the asset graph shows when routing changed them.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.assets.request_embeddings import routing_materializations
from gtm_feedback_dagster.assets.sources import (
    changed_observations,
    feature_requests,
    feedback_entries,
    observe_sources,
)
from gtm_feedback_dagster.jobs.deliver_outbox import deliver_outbox_op
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.engine import RoutingEnv, is_transient, route_batch
from gtm_feedback_dagster.routing.judging import LLM_WAIT_RUNS
from gtm_feedback_dagster.routing.report import BatchReport

ROUTE_OP_NAME = "route_feedback_batch"

# The source tables a routing run writes (entries' statuses, new requests and followers).
ROUTING_WRITES = (feedback_entries.key, feature_requests.key)

ROUTE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class RouteBatchConfig(dg.Config):
    feedback_ids: list[int] = Field(description="Ids of the feedback entries to route.")


def route_run_config(feedback_ids: list[int]) -> dict[str, Any]:
    """Run config of one batch (a plain dict: it is stored with the run and read back)."""
    return {"ops": {ROUTE_OP_NAME: {"config": {"feedback_ids": [int(i) for i in feedback_ids]}}}}


def feedback_ids_of_run_config(run_config: dict[str, Any]) -> list[int]:
    """The entry ids a route run was launched with (empty for anything else)."""
    try:
        ids = run_config["ops"][ROUTE_OP_NAME]["config"]["feedback_ids"]
    except (KeyError, TypeError):
        return []
    return [int(i) for i in ids]


def _report_asset_events(
    context: dg.OpExecutionContext, store: StoreResource, model_id: str, report: BatchReport
) -> None:
    """Lineage: the vectors this run stored are materializations of their areas'
    `request_embeddings` partitions, and the two tables it writes are observed (when changed)."""
    try:
        with store.session() as session:
            materializations = routing_materializations(session, model_id, report.vectors_written)
            observations = observe_sources(session, ROUTING_WRITES)
        events = [*materializations, *changed_observations(context.instance, observations)]
    except Exception as exc:  # the batch is applied; a retry would have nothing left to report
        context.log.warning(f"could not report the run's asset events: {exc}")
        return
    for event in events:
        context.log_event(event)


@dg.op(
    name=ROUTE_OP_NAME,
    retry_policy=ROUTE_RETRY,
    description=(
        "Embeds the batch in one call, searches the vector index (top 50), decides each entry's "
        "tier (LLM judge when configured, else the calibrated confidence) and applies it in its "
        "own transaction: attach + follow + confirmation DM, approval request, or a new request."
    ),
    tags={"kind": "routing"},
    # One routing batch at a time across the deployment (deploy/dagster.yaml sets the limit):
    # runs from the sensor, its sweep and the CLI all carry this pool.
    pool="routing",
)
def route_feedback_batch(
    context: dg.OpExecutionContext,
    config: RouteBatchConfig,
    store: StoreResource,
    embedder: EmbedderResource,
    vector_index: VectorIndexResource,
    llm: LLMResource,
) -> dict[str, Any]:
    settings = store.settings
    model = embedder.get()
    try:
        with store.session() as session:
            index = vector_index.open(session, model.model_id, model.dim)
        env = RoutingEnv(
            settings=settings,
            session=store.session,
            embedder=model,
            index=index,
            scorer=CalibratedScorer(),
            llm=llm.get(),
        )
        # An attempt is counted only once the batch reaches its entries' decisions, so a retry
        # after a failure before that (model load, provider outage) is not counted twice.
        report = route_batch(env, config.feedback_ids, count_attempt=True)
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            context.log.warning(f"transient failure, the op will retry: {exc}")
            raise
        raise dg.Failure(
            description=f"routing failed permanently: {type(exc).__name__}: {exc}",
            allow_retries=False,
        ) from exc
    for warning in report.warnings:
        context.log.warning(warning)
    counts = report.counts
    if report.llm_unavailable:
        # In the Dagster event log (not only the compute log): the judge was down, so entries
        # wait for a later run or were handed to a person; none was decided another way.
        context.log.warning(
            f"LLM judge unavailable: {counts['waiting']} entries stay pending for a later run, "
            f"{report.counts_by_note('llm unavailable; asked')} asked a person after "
            f"{LLM_WAIT_RUNS} runs: {report.llm_unavailable}"
        )
    if report.llm_budget_hit:
        context.log.warning(f"the run's LLM token budget ({report.llm_token_budget}) was spent")
    context.log.info(
        "routed batch of {n}: attach {attach}, ask {ask}, new {new}, failed {failed}, "
        "skipped {skipped}, waiting for the LLM {waiting}".format(n=report.requested, **counts)
    )
    _report_asset_events(context, store, model.model_id, report)
    metadata = report.as_metadata()
    context.add_output_metadata(
        {
            **{k: v for k, v in metadata.items() if isinstance(v, int | float | str)},
            "methods": dg.MetadataValue.json(metadata["methods"]),
            "llm_tokens": dg.MetadataValue.json(metadata["llm_tokens"]),
            "llm": dg.MetadataValue.json(metadata["llm"]),
            "timings_seconds": dg.MetadataValue.json(metadata["timings_seconds"]),
            "embedding_model": model.model_id,
        }
    )
    return {
        "counts": counts,
        "entries": [
            {"id": o.entry_id, "tier": o.tier, "request_id": o.request_id} for o in report.outcomes
        ],
        "llm": metadata["llm"],
    }


@dg.job(
    executor_def=dg.in_process_executor,
    description="Routes a batch of pending feedback entries to feature requests (three tiers).",
    tags={
        "dagster/max_retries": 1,
        "dagster/retry_on_asset_or_op_failure": False,
        # Run monitoring fails a run that hangs past an hour (a batch takes seconds), so its
        # entries are picked up again instead of waiting for a stuck run.
        "dagster/max_runtime": 3600,
    },
)
def route_feedback_job() -> None:
    # Messages were queued in the same transactions as the routing decisions; deliver them now
    # (the outbox sensor retries whatever this op could not send).
    deliver_outbox_op(start_after=route_feedback_batch())
