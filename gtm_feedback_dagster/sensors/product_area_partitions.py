"""Keeps the `product_area` dynamic partitions in step with the `product_areas` table."""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.repo import area_slugs


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a `product_area` partition for every product area in the app database.",
)
def product_area_partitions_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    with store.session() as session:
        slugs = area_slugs(session)
    existing = set(context.instance.get_dynamic_partitions(product_area_partitions.name or ""))
    missing = [slug for slug in slugs if slug not in existing]
    if not missing:
        return dg.SkipReason(f"all {len(slugs)} product areas have a partition")
    return dg.SensorResult(
        dynamic_partitions_requests=[product_area_partitions.build_add_request(missing)]
    )
