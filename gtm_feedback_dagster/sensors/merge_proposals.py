"""`merge_proposal_sensor`: after `related_request_graph` materializes for some areas, launches
`propose_merges_job` for those areas (one run per batch of new materializations).

Its cursor is the storage id of the newest materialization seen. A fresh sensor starts after
the newest existing one, so turning it on sends nothing by itself: the pairs are proposed after
the graph's next run (daily, with the area insights).
"""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.jobs.merge_proposals import ProposeMergesConfig, propose_merges_job

GRAPH_ASSET = dg.AssetKey("related_request_graph")
MAX_EVENTS_PER_TICK = 500


@dg.sensor(
    job=propose_merges_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Proposes likely duplicates (Merge / Keep both) to area owners after the "
        "related-request graph of their area is refreshed."
    ),
)
def merge_proposal_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    if not context.cursor:
        latest = context.instance.fetch_materializations(GRAPH_ASSET, limit=1).records
        newest = latest[0].storage_id if latest else 0
        return dg.SensorResult(
            skip_reason=dg.SkipReason("starting: pairs are proposed after the graph's next run"),
            cursor=str(newest),
        )
    after = int(context.cursor)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=GRAPH_ASSET, after_storage_id=after),
        limit=MAX_EVENTS_PER_TICK,
        ascending=True,
    ).records
    if not records:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new related_request_graph run"))
    newest = max(r.storage_id for r in records)
    areas = sorted({r.partition_key for r in records if r.partition_key})
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"merge-proposals:{newest}",
                run_config=dg.RunConfig(
                    ops={"queue_merge_proposals_op": ProposeMergesConfig(areas=areas)}
                ),
            )
        ],
        cursor=str(newest),
    )
