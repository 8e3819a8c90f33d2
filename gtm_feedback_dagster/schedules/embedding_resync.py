"""Weekly full re-sync of request embeddings (Sundays 16:00 UTC, as the reference's cron).

Re-embeds and re-upserts every request of every product area, whatever the content hashes say,
and removes the vectors of deleted requests from a remote index: it repairs anything the
incremental runs could miss (an index reset or restored from backup, a provider-side loss).
"""

import dagster as dg

from gtm_feedback_dagster.jobs.embeddings import request_embeddings_job
from gtm_feedback_dagster.schedules.per_area import per_area_schedule

embedding_resync_schedule = per_area_schedule(
    name="embedding_resync_schedule",
    job=request_embeddings_job,
    cron_schedule="0 16 * * 0",
    execution_timezone="UTC",
    description="Sundays: full re-sync of request embeddings, one run per product area.",
    run_key_prefix="embedding-resync:",
    day_tag="gtm/embedding_resync",
    run_config_for_day=lambda _day: dg.RunConfig(
        ops={"request_embeddings": {"config": {"full_resync": True}}}
    ),
)
