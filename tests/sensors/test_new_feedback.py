"""`new_feedback_sensor`: high-water-mark cursor, batch run keys, bounded ticks and the sweep of
entries left pending behind the cursor — on SQLite and PostgreSQL (app database and instance)."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job, route_run_config
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.new_feedback import (
    MAX_RUNS_PER_TICK,
    SWEEP_INTERVAL_SECONDS,
    FeedbackCursor,
    new_feedback_sensor,
)
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback
from tests.routing.handmade import add_entry, seed_requests


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_ROUTE_BATCH_SIZE", "2")


def _tick(instance: dg.DagsterInstance, url: str, cursor: str | None):  # type: ignore[no-untyped-def]
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"store": StoreResource(database_url=url)}
    )
    return new_feedback_sensor(context), context


def _ids(request: dg.RunRequest) -> list[int]:
    return request.run_config["ops"]["route_feedback_batch"]["config"]["feedback_ids"]


def _recent_sweep() -> str:
    return FeedbackCursor(0, time.time()).serialize()


def test_new_entries_in_bounded_batches_with_stable_run_keys(dagster_env) -> None:  # type: ignore[no-untyped-def]
    instance, url = dagster_env
    seeded = seed_requests(url)
    ids = [add_entry(url, f"need number {n}", seeded.alice) for n in range(7)]

    result, _ = _tick(instance, url, _recent_sweep())
    assert isinstance(result, dg.SensorResult)
    assert len(result.run_requests) == MAX_RUNS_PER_TICK == 3
    assert [_ids(r) for r in result.run_requests] == [ids[0:2], ids[2:4], ids[4:6]]
    assert [r.run_key for r in result.run_requests] == [
        f"route:{ids[0]}-{ids[1]}:2",
        f"route:{ids[2]}-{ids[3]}:2",
        f"route:{ids[4]}-{ids[5]}:2",
    ]
    assert result.run_requests[0].tags["gtm/batch_size"] == "2"
    cursor = FeedbackCursor.parse(result.cursor)
    assert cursor.after_id == ids[5]

    # The same tick evaluated again proposes the same keys: Dagster launches each once.
    again, _ = _tick(instance, url, _recent_sweep())
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in result.run_requests]

    following, _ = _tick(instance, url, result.cursor)
    assert [_ids(r) for r in following.run_requests] == [[ids[6]]]
    assert FeedbackCursor.parse(following.cursor).after_id == ids[6]

    with session_scope(url) as s:
        for i in ids:
            row = s.get(Feedback, i)
            assert row is not None
            row.status = "routed"
    done, context = _tick(instance, url, following.cursor)
    assert isinstance(done, dg.SkipReason)
    assert FeedbackCursor.parse(context.cursor).after_id == ids[6]


def test_only_pending_entries_are_launched(dagster_env) -> None:  # type: ignore[no-untyped-def]
    instance, url = dagster_env
    seeded = seed_requests(url)
    a = add_entry(url, "first", seeded.alice)
    b = add_entry(url, "second", seeded.alice)
    with session_scope(url) as s:
        row = s.get(Feedback, a)
        assert row is not None
        row.status = "invalid"
    result, _ = _tick(instance, url, _recent_sweep())
    assert [_ids(r) for r in result.run_requests] == [[b]]


def test_sweep_relaunches_entries_left_pending_behind_the_cursor(dagster_env) -> None:  # type: ignore[no-untyped-def]
    instance, url = dagster_env
    seeded = seed_requests(url)
    ids = [add_entry(url, f"need {n}", seeded.alice) for n in range(4)]
    # The cursor is past all four (their runs were launched), but they are still pending:
    # two belong to a run that is still queued, two to a run that failed.
    instance.create_run_for_job(route_feedback_job, run_config=route_run_config(ids[:2]))
    failed = instance.create_run_for_job(route_feedback_job, run_config=route_run_config(ids[2:]))
    instance.report_run_failed(failed)
    old = FeedbackCursor(after_id=ids[-1], swept_at=time.time() - SWEEP_INTERVAL_SECONDS - 1)

    result, _ = _tick(instance, url, old.serialize())
    assert isinstance(result, dg.SensorResult)
    (sweep,) = result.run_requests
    assert _ids(sweep) == ids[2:]  # the queued run still holds the first two
    window = int(time.time() // SWEEP_INTERVAL_SECONDS)
    assert sweep.run_key in {f"sweep:{ids[2]}-{ids[3]}:2:{w}" for w in (window - 1, window)}
    assert sweep.tags["gtm/route_pass"] == "sweep"
    swept = FeedbackCursor.parse(result.cursor)
    assert swept.after_id == ids[-1] and swept.swept_at > old.swept_at

    # The next tick is inside the sweep interval: no second sweep.
    quiet, _ = _tick(instance, url, result.cursor)
    assert isinstance(quiet, dg.SkipReason)


def test_a_bare_number_cursor_is_accepted() -> None:
    assert FeedbackCursor.parse("42") == FeedbackCursor(42, 0.0)
    assert FeedbackCursor.parse(None) == FeedbackCursor()
    raw = FeedbackCursor(7, 1.5).serialize()
    assert json.loads(raw) == {"after_id": 7, "swept_at": 1.5}
    assert FeedbackCursor.parse(raw) == FeedbackCursor(7, 1.5)


def test_the_sensor_is_registered_for_the_job() -> None:
    assert new_feedback_sensor.job_name == "route_feedback_job"
    assert new_feedback_sensor.default_status == dg.DefaultSensorStatus.RUNNING
