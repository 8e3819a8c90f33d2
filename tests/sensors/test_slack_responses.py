"""`slack_response_sensor`: batches of new inbox rows, retries, and approval expiries."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.slack_responses import ROWS_PER_RUN, slack_response_sensor
from gtm_feedback_dagster.slack import inbox
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, SlackInbox, utcnow
from tests.slack.support import seed_world


def _tick(url: str, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        cursor=cursor,
        resources={"store": StoreResource(database_url=url)},
    )
    return slack_response_sensor(context)


def _store(url: str, n: int) -> list[int]:
    with session_scope(url) as session:
        return [
            inbox.store_inbox(session, "event", f"event:Ev{i}", {"type": "x"}) or 0
            for i in range(n)
        ]


def _config(request: dg.RunRequest) -> dict:  # type: ignore[type-arg]
    return request.run_config["ops"]["resolve_slack_responses_op"]["config"]


def test_new_rows_are_launched_in_batches_with_stable_run_keys(db_url: str) -> None:
    ids = _store(db_url, ROWS_PER_RUN + 5)
    result = _tick(db_url)
    assert isinstance(result, dg.SensorResult)
    first, second = result.run_requests
    assert _config(first)["inbox_ids"] == ids[:ROWS_PER_RUN]
    assert _config(second)["inbox_ids"] == ids[ROWS_PER_RUN:]
    assert first.run_key == f"slack-inbox:{ids[0]}-{ids[ROWS_PER_RUN - 1]}"
    assert result.cursor == str(ids[-1])
    # Next tick: the launched rows are in flight (not claimed yet) and are not launched again.
    assert isinstance(_tick(db_url, result.cursor), dg.SkipReason)


def test_rows_back_from_a_failed_attempt_are_retried_once_due(sqlite_url: str) -> None:
    (row,) = _store(sqlite_url, 1)
    now = utcnow()
    with session_scope(sqlite_url) as session:
        assert inbox.claim(session, row, now)
        inbox.mark_retry(session, row, "http_500", now)
    assert isinstance(_tick(sqlite_url, str(row)), dg.SkipReason)  # backoff not over
    with session_scope(sqlite_url) as session:
        stored = session.get(SlackInbox, row)
        assert stored is not None
        stored.next_attempt_at = now - timedelta(seconds=1)
    result = _tick(sqlite_url, str(row))
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    assert _config(request)["inbox_ids"] == [row] and request.run_key.startswith(
        "slack-inbox-retry:"
    )


def test_rows_of_a_run_that_never_started_come_back_after_the_lease(sqlite_url: str) -> None:
    (row,) = _store(sqlite_url, 1)
    with session_scope(sqlite_url) as session:
        stored = session.get(SlackInbox, row)
        assert stored is not None
        stored.received_at = utcnow() - inbox.CLAIM_LEASE - timedelta(seconds=1)
    result = _tick(sqlite_url, str(row))
    assert isinstance(result, dg.SensorResult) and _config(result.run_requests[0])["inbox_ids"] == [
        row
    ]


def test_processed_rows_and_exhausted_rows_are_left_alone(sqlite_url: str) -> None:
    done, exhausted = _store(sqlite_url, 2)
    with session_scope(sqlite_url) as session:
        inbox.mark_processed(session, done)
        stored = session.get(SlackInbox, exhausted)
        assert stored is not None
        stored.attempts = inbox.MAX_ATTEMPTS
    assert isinstance(_tick(sqlite_url), dg.SkipReason)


def test_expired_approvals_are_launched(sqlite_url: str) -> None:
    world = seed_world(sqlite_url)
    with session_scope(sqlite_url) as session:
        approval = session.get(Approval, world.approval_id)
        assert approval is not None
        approval.expires_at = utcnow() - timedelta(minutes=1)
    result = _tick(sqlite_url)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    assert _config(request) == {"inbox_ids": [], "expire_approval_ids": [world.approval_id]}
