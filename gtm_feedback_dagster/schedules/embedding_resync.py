"""Weekly full re-sync of request embeddings (Sundays 16:00 UTC, as the reference's cron).

Re-embeds and re-upserts every request of every product area, whatever the content hashes say,
and removes the vectors of deleted requests from a remote index: it repairs anything the
incremental runs could miss (an index reset or restored from backup, a provider-side loss).
Run keys carry the scheduled date and the area, so a re-evaluated tick launches nothing twice.
"""

import dagster as dg

from gtm_feedback_dagster.assets.request_embeddings import request_embeddings
from gtm_feedback_dagster.partitions import product_area_partitions

request_embeddings_job = dg.define_asset_job(
    name="request_embeddings_job",
    selection=dg.AssetSelection.assets(request_embeddings),
    partitions_def=product_area_partitions,
    executor_def=dg.in_process_executor,
    description="Embeds the feature requests of one product area (incremental unless configured).",
)


@dg.schedule(
    job=request_embeddings_job,
    cron_schedule="0 16 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sundays: full re-sync of request embeddings, one run per product area.",
)
def embedding_resync_schedule(
    context: dg.ScheduleEvaluationContext,
) -> list[dg.RunRequest] | dg.SkipReason:
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    areas = context.instance.get_dynamic_partitions(product_area_partitions.name or "")
    if not areas:
        return dg.SkipReason("no product areas yet")
    return [
        dg.RunRequest(
            run_key=f"embedding-resync:{day}:{area}",
            partition_key=area,
            run_config=dg.RunConfig(ops={"request_embeddings": {"config": {"full_resync": True}}}),
            tags={"gtm/embedding_resync": day},
        )
        for area in sorted(areas)
    ]
