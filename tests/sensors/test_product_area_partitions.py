from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.product_area_partitions import product_area_partitions_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.repo import create_area


def test_sensor_adds_missing_area_partitions_on_both_backends(dagster_env) -> None:  # type: ignore[no-untyped-def]
    instance, url = dagster_env
    with session_scope(url) as session:
        create_area(session, "Dashboards")
        create_area(session, "Access Management")
    context = dg.build_sensor_context(
        instance=instance, resources={"store": StoreResource(database_url=url)}
    )
    result = product_area_partitions_sensor(context)
    assert isinstance(result, dg.SensorResult)
    (add_request,) = result.dynamic_partitions_requests
    assert sorted(add_request.partition_keys) == ["access-management", "dashboards"]

    instance.add_dynamic_partitions("product_area", list(add_request.partition_keys))
    with session_scope(url) as session:
        create_area(session, "AI Insights")
    result = product_area_partitions_sensor(context)
    (add_request,) = result.dynamic_partitions_requests
    assert list(add_request.partition_keys) == ["ai-insights"]

    instance.add_dynamic_partitions("product_area", ["ai-insights"])
    assert isinstance(product_area_partitions_sensor(context), dg.SkipReason)
