"""`outbox_sensor`: retries what is due, leaves fresh messages to their job, idles without token."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.outbox import FRESH_GRACE, outbox_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import OutboxMessage, utcnow


def _tick(url: str, token: str | None = "xoxb-test-token") -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "store": StoreResource(database_url=url),
            "slack": SlackResource(bot_token=token, base_url="http://127.0.0.1:9/api/"),
        },
    )
    return outbox_sensor(context)


def _queue(url: str, key: str, **values: object) -> int:
    with session_scope(url) as session:
        message_id = enqueue(session, "t", key, key, channel="C0SALES01")
        assert message_id is not None
        row = session.get(OutboxMessage, message_id)
        for name, value in values.items():
            setattr(row, name, value)
        return message_id


def test_without_token_the_sensor_skips_and_says_how_many_wait(sqlite_url: str) -> None:
    _queue(sqlite_url, "a")
    result = _tick(sqlite_url, token=None)
    assert isinstance(result, dg.SkipReason)
    assert "outbox-only mode" in (result.skip_message or "") and "1 message" in (
        result.skip_message or ""
    )


def test_launches_due_retries_stale_sends_and_forgotten_messages(db_url: str) -> None:
    now = utcnow()
    fresh = _queue(db_url, "fresh")  # its own job delivers it
    backing_off = _queue(db_url, "later", attempts=1, next_attempt_at=now + timedelta(minutes=5))
    due = _queue(db_url, "due", attempts=1, next_attempt_at=now - timedelta(seconds=1))
    stale = _queue(
        db_url, "stale", status="sending", attempts=1, next_attempt_at=now - timedelta(seconds=1)
    )
    forgotten = _queue(db_url, "forgotten", created_at=now - FRESH_GRACE - timedelta(seconds=1))
    _queue(db_url, "sent", status="sent")
    _queue(db_url, "failed", status="failed", next_attempt_at=now - timedelta(hours=1))
    result = _tick(db_url)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    ids = request.run_config["ops"]["deliver_outbox_op"]["config"]["message_ids"]
    assert ids == [due, stale, forgotten]
    assert fresh not in ids and backing_off not in ids
    # The same work in the same time bucket gets the same run key (Dagster launches it once).
    again = _tick(db_url)
    assert isinstance(again, dg.SensorResult) and again.run_requests[0].run_key == request.run_key


def test_nothing_due(sqlite_url: str) -> None:
    _queue(sqlite_url, "fresh")
    assert isinstance(_tick(sqlite_url), dg.SkipReason)
