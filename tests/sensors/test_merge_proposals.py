"""`merge_proposal_sensor`: one run per batch of new `related_request_graph` materializations,
for their areas; a fresh sensor starts after the newest one."""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.sensors.merge_proposals import GRAPH_ASSET, merge_proposal_sensor


def _materialize(instance: dg.DagsterInstance, area: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=GRAPH_ASSET, partition=area)
    )


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = merge_proposal_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_new_graph_runs_launch_one_proposal_run_for_their_areas() -> None:
    with dg.instance_for_test() as instance:
        _materialize(instance, "billing")
        start = _tick(instance, None)  # turning the sensor on proposes nothing by itself
        assert not start.run_requests and start.cursor
        assert not _tick(instance, start.cursor).run_requests
        for area in ("search", "billing", "search"):
            _materialize(instance, area)
        launched = _tick(instance, start.cursor)
        (request,) = launched.run_requests or []
        ops = request.run_config["ops"]
        assert ops["queue_merge_proposals_op"]["config"]["areas"] == ["billing", "search"]
        assert request.run_key == f"merge-proposals:{launched.cursor}"
        assert not _tick(instance, launched.cursor).run_requests
