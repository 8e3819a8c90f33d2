"""A failed run is reported once to the operators' channel, with its link."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import select

from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.run_failures import run_failure_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import OutboxMessage


@dg.op
def _explodes() -> None:
    raise RuntimeError("index <unreachable> & gone")


@dg.job
def _failing_job() -> None:
    _explodes()


def _evaluate(instance: dg.DagsterInstance, result: dg.ExecuteInJobResult) -> None:
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
        resources={"store": StoreResource()},
    ).for_run_failure()
    run_failure_sensor(context)


def test_failed_run_is_queued_once_for_the_ops_channel(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_OPS_CHANNEL", "C0OPS")
    monkeypatch.setenv("GTM_FEEDBACK_DAGSTER_URL", "http://dagster.example:3000")
    with dg.instance_for_test() as instance:
        result = _failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        _evaluate(instance, result)
        _evaluate(instance, result)  # a re-evaluated tick queues nothing twice
    with session_scope(app_env) as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 1
    assert rows[0].channel == "C0OPS" and rows[0].kind == "run_failure"
    assert f"http://dagster.example:3000/runs/{result.run_id}" in rows[0].text
    assert "_failing_job" in rows[0].text
    assert "<unreachable>" not in rows[0].text  # customer-controlled text is escaped


def test_no_ops_channel_means_no_message(app_env: str) -> None:
    with dg.instance_for_test() as instance:
        result = _failing_job.execute_in_process(instance=instance, raise_on_error=False)
        _evaluate(instance, result)
    with session_scope(app_env) as session:
        assert session.scalars(select(OutboxMessage)).all() == []
