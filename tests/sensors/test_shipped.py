"""`shipped_sensor`: newly shipped, not yet announced requests."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.shipped import shipped_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, utcnow
from tests.slack.support import seed_world


def _tick(url: str) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={"store": StoreResource(database_url=url)},
    )
    return shipped_sensor(context)


def _set(url: str, request_id: int, **values: object) -> None:
    with session_scope(url) as session:
        request = session.get(Request, request_id)
        for name, value in values.items():
            setattr(request, name, value)


def test_shipped_request_is_launched_until_announced(db_url: str) -> None:
    world = seed_world(db_url, with_approval=False)
    assert isinstance(_tick(db_url), dg.SkipReason)
    _set(db_url, world.request_id, status="shipped", shipped_at=utcnow())
    result = _tick(db_url)
    assert isinstance(result, dg.RunRequest)
    assert result.run_config["ops"]["queue_shipped_notices_op"]["config"] == {
        "request_ids": [world.request_id]
    }
    assert result.run_key == _tick(db_url).run_key  # type: ignore[union-attr]
    _set(db_url, world.request_id, shipped_notified_at=utcnow())
    assert isinstance(_tick(db_url), dg.SkipReason)


def test_history_is_not_announced(sqlite_url: str) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    _set(sqlite_url, world.request_id, status="shipped", shipped_at=utcnow() - timedelta(days=60))
    assert isinstance(_tick(sqlite_url), dg.SkipReason)
