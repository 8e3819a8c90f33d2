"""`reminder_sensor`: due requests only, the run key changes with the work."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.reminders import reminder_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, utcnow
from tests.slack.support import seed_world


def _tick(url: str) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={"store": StoreResource(database_url=url)},
    )
    return reminder_sensor(context)


def test_due_request_is_launched_once_reminded_it_is_not(app_env: str) -> None:
    world = seed_world(app_env, with_approval=False)
    assert isinstance(_tick(app_env), dg.SkipReason)
    with session_scope(app_env) as session:
        request = session.get(Request, world.request_id)
        assert request is not None
        request.created_at = utcnow() - timedelta(minutes=61)
    result = _tick(app_env)
    assert isinstance(result, dg.RunRequest)
    assert result.run_config["ops"]["queue_reminders_op"]["config"] == {
        "request_ids": [world.request_id]
    }
    with session_scope(app_env) as session:
        request = session.get(Request, world.request_id)
        assert request is not None
        request.reminder_sent_at = utcnow()
    assert isinstance(_tick(app_env), dg.SkipReason)


def test_delay_comes_from_settings(app_env: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GTM_FEEDBACK_REMINDER_DELAY_MINUTES", "5")
    world = seed_world(app_env, with_approval=False)
    with session_scope(app_env) as session:
        request = session.get(Request, world.request_id)
        assert request is not None
        request.created_at = utcnow() - timedelta(minutes=6)
    assert isinstance(_tick(app_env), dg.RunRequest)
