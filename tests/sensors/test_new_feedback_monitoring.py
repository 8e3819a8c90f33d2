"""The sweep trusts Dagster's run monitoring instead of its own staleness guess: a STARTED route
run holds its entries until run monitoring fails it — past the job's `dagster/max_runtime` —
and then the sweep relaunches them. Without run monitoring (an old local dagster.yaml), a run
past that same limit is treated as failed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry

from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job, route_run_config
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.new_feedback import (
    SWEEP_INTERVAL_SECONDS,
    FeedbackCursor,
    ids_in_active_runs,
    new_feedback_sensor,
    route_max_runtime,
)
from tests.routing.handmade import add_entry, seed_requests


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_ROUTE_BATCH_SIZE", "2")


def _instance(monitoring: bool) -> Iterator[dg.DagsterInstance]:
    overrides = {"run_monitoring": {"enabled": monitoring, "max_runtime_seconds": 7200}}
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


@pytest.fixture
def monitored() -> Iterator[dg.DagsterInstance]:
    yield from _instance(True)


@pytest.fixture
def unmonitored() -> Iterator[dg.DagsterInstance]:
    yield from _instance(False)


def _started_run(instance: dg.DagsterInstance, ids: list[int], seconds_ago: float) -> str:
    """A route run whose RUN_START event is `seconds_ago` old (a worker that died or hangs)."""
    run = instance.create_run_for_job(
        route_feedback_job, run_config=route_run_config(ids), tags=dict(route_feedback_job.tags)
    )
    instance.handle_new_event(
        EventLogEntry(
            error_info=None,
            level=logging.DEBUG,
            user_message="",
            run_id=run.run_id,
            timestamp=time.time() - seconds_ago,
            dagster_event=DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name),
        )
    )
    return run.run_id


def _sweep(instance: dg.DagsterInstance, url: str, after_id: int) -> list[list[int]]:
    cursor = FeedbackCursor(after_id, time.time() - SWEEP_INTERVAL_SECONDS - 1).serialize()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"store": StoreResource(database_url=url)}
    )
    result = new_feedback_sensor(context)
    if isinstance(result, dg.SkipReason):
        return []
    return [
        r.run_config["ops"]["route_feedback_batch"]["config"]["feedback_ids"]
        for r in result.run_requests
    ]


def test_the_job_sets_the_runtime_limit_monitoring_enforces() -> None:
    assert 0 < route_max_runtime() <= 3600


def test_a_started_run_holds_its_entries_until_run_monitoring_fails_it(
    monitored: dg.DagsterInstance, sqlite_url: str
) -> None:
    from dagster._daemon.monitoring.run_monitoring import check_run_timeout

    seeded = seed_requests(sqlite_url)
    ids = [add_entry(sqlite_url, f"need {n}", seeded.alice) for n in range(2)]
    # Older than the old 3,600 s guess, but the monitor has not failed it: still held.
    run_id = _started_run(monitored, ids, seconds_ago=route_max_runtime() + 60)
    assert monitored.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    assert ids_in_active_runs(monitored, time.time()) == set(ids)
    assert _sweep(monitored, sqlite_url, ids[-1]) == []

    # What the daemon's run monitoring does on its next pass: the job's dagster/max_runtime is
    # exceeded, so the run is failed (the instance default of 7,200 s would not have).
    (record,) = monitored.get_run_records(dg.RunsFilter(run_ids=[run_id]))
    check_run_timeout(
        monitored, record, logging.getLogger("test"), monitored.run_monitoring_max_runtime_seconds
    )
    assert monitored.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
    assert _sweep(monitored, sqlite_url, ids[-1]) == [ids]


def test_a_run_within_its_limit_is_not_failed_by_monitoring(
    monitored: dg.DagsterInstance, sqlite_url: str
) -> None:
    from dagster._daemon.monitoring.run_monitoring import check_run_timeout

    seeded = seed_requests(sqlite_url)
    ids = [add_entry(sqlite_url, "still running", seeded.alice)]
    run_id = _started_run(monitored, ids, seconds_ago=60)
    (record,) = monitored.get_run_records(dg.RunsFilter(run_ids=[run_id]))
    check_run_timeout(
        monitored, record, logging.getLogger("test"), monitored.run_monitoring_max_runtime_seconds
    )
    assert monitored.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    assert _sweep(monitored, sqlite_url, ids[-1]) == []


def test_without_run_monitoring_the_jobs_limit_is_the_fallback(
    unmonitored: dg.DagsterInstance, sqlite_url: str
) -> None:
    seeded = seed_requests(sqlite_url)
    young = [add_entry(sqlite_url, "young run", seeded.alice)]
    dead = [add_entry(sqlite_url, "dead run", seeded.alice)]
    _started_run(unmonitored, young, seconds_ago=60)
    _started_run(unmonitored, dead, seconds_ago=route_max_runtime() + 60)
    assert ids_in_active_runs(unmonitored, time.time()) == set(young)
    assert _sweep(unmonitored, sqlite_url, dead[-1]) == [dead]
