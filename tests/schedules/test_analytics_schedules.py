"""The daily area-insights and weekly-digest schedules: run requests, keys, config and targets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from gtm_feedback_dagster.jobs.analytics import area_insights_job, weekly_digest_job
from gtm_feedback_dagster.schedules.area_insights import daily_area_insights_schedule
from gtm_feedback_dagster.schedules.weekly_digest import weekly_digest_schedule

NY = ZoneInfo("America/New_York")


def analytics_defs() -> dg.Definitions:
    """The analytics slice of the code location (the whole one is covered by
    tests/test_definitions.py)."""
    from gtm_feedback_dagster.assets.area_demand import IO_MANAGER_KEY, area_demand
    from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
    from gtm_feedback_dagster.assets.related_request_graph import related_request_graph
    from gtm_feedback_dagster.assets.sources import source_assets
    from gtm_feedback_dagster.assets.weekly_digest import weekly_digest
    from gtm_feedback_dagster.resources.ai import LLMResource
    from gtm_feedback_dagster.resources.store import StoreResource
    from gtm_feedback_dagster.resources.table_io import DatabaseTableIOManager

    return dg.Definitions(
        assets=[
            related_request_graph,
            area_demand,
            area_insight_report,
            weekly_digest,
            *source_assets,
        ],
        jobs=[area_insights_job, weekly_digest_job],
        schedules=[daily_area_insights_schedule, weekly_digest_schedule],
        resources={
            "store": StoreResource(),
            "llm": LLMResource(),
            IO_MANAGER_KEY: DatabaseTableIOManager(),
        },
    )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    # build_schedule_context needs an instance with a ref, which the ephemeral one lacks.
    with dg.instance_for_test() as inst:
        yield inst


def test_daily_area_insights_one_run_per_area(instance: dg.DagsterInstance) -> None:
    assert daily_area_insights_schedule.cron_schedule == "0 8 * * *"
    assert daily_area_insights_schedule.execution_timezone == "America/New_York"
    assert daily_area_insights_schedule.job_name == area_insights_job.name

    tick = datetime(2026, 3, 9, 8, 0, tzinfo=NY)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    skipped = daily_area_insights_schedule(context)
    assert isinstance(skipped, dg.SkipReason)

    instance.add_dynamic_partitions("product_area", ["identity", "billing"])
    requests = daily_area_insights_schedule(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("billing", "2026-03-09:billing"),
        ("identity", "2026-03-09:identity"),
    ]
    assert all(
        r.run_config["ops"]["area_insight_report"]["config"]["day"] == "2026-03-09"
        for r in requests
    )
    # Same tick evaluated again: same keys (Dagster launches a run key once); next day: new keys.
    assert [r.run_key for r in daily_area_insights_schedule(context)] == [
        r.run_key for r in requests
    ]
    next_day = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 3, 10, 8, 0, tzinfo=NY)
    )
    assert {r.run_key for r in daily_area_insights_schedule(next_day)}.isdisjoint(
        {r.run_key for r in requests}
    )


def test_daily_schedule_run_config_is_valid_for_the_job(instance: dg.DagsterInstance) -> None:
    defs = analytics_defs()
    instance.add_dynamic_partitions("product_area", ["identity"])
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 3, 9, 8, 0, tzinfo=NY)
    )
    (run_request,) = daily_area_insights_schedule(context)
    job = defs.resolve_job_def("area_insights_job")
    assert dg.validate_run_config(job, run_request.run_config)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "related_request_graph",
        "area_demand",
        "area_insight_report",
    }
    schedule = defs.resolve_schedule_def("daily_area_insights_schedule")
    assert schedule.job_name == "area_insights_job"


def test_weekly_digest_monday_run_key(instance: dg.DagsterInstance) -> None:
    defs = analytics_defs()
    assert weekly_digest_schedule.cron_schedule == "0 8 * * 1"
    assert weekly_digest_schedule.execution_timezone == "America/New_York"
    assert weekly_digest_schedule.job_name == weekly_digest_job.name
    tick = datetime(2026, 3, 9, 8, 0, tzinfo=NY)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    run_request = weekly_digest_schedule(context)
    assert run_request.run_key == "weekly-digest:2026-03-09"
    as_of = run_request.run_config["ops"]["weekly_digest"]["config"]["as_of"]
    assert datetime.fromisoformat(as_of) == tick
    assert dg.validate_run_config(defs.resolve_job_def("weekly_digest_job"), run_request.run_config)
