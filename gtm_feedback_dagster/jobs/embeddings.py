"""The embedding job of one product area, launched by the weekly re-sync schedule."""

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
