"""`notify_shipped_job`: one DM per follower and one firehose post per area, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pytest

from gtm_feedback_dagster.jobs.notify_shipped import notify_shipped_job
from gtm_feedback_dagster.notifications.shipped import due_shipped_requests
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, Request, RequestArea, utcnow
from tests.slack.support import ANA_SLACK, APP_URL, BOB_SLACK, add_people, seed_world
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    monkeypatch.setenv("GTM_FEEDBACK_APP_URL", APP_URL)  # the op reads settings from the env
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def run(url: str, slack: SlackStandin, request_ids: list[int]) -> dg.ExecuteInProcessResult:
    return notify_shipped_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "store": StoreResource(database_url=url),
            "slack": SlackResource(bot_token=slack.token, base_url=slack.api_url),
        },
        run_config={"ops": {"queue_shipped_notices_op": {"config": {"request_ids": request_ids}}}},
    )


def test_followers_and_area_channels_are_told_once(db_url: str, slack: SlackStandin) -> None:
    world = seed_world(db_url, with_approval=False)
    with session_scope(db_url) as session:
        for user_id in (world.ana_id, world.bob_id):
            repo.follow(session, user_id, world.request_id)
        session.add(RequestArea(request_id=world.request_id, area_id=world.other_area_id))
        other = repo.resolve_area(session, world.other_area_id)
        other.firehose_channel = "firehose-dashboards"
        session.add(
            Feedback(
                source="cli",
                customer_pain="EUR invoices",
                severity="high",
                account_id=world.account_id,
                submitter_id=world.ana_id,
                request_id=world.request_id,
                status="routed",
            )
        )
        request = session.get(Request, world.request_id)
        assert request is not None
        request.status, request.shipped_at = "shipped", utcnow()
    with session_scope(db_url) as session:
        assert due_shipped_requests(session, utcnow()) == [world.request_id]
    result = run(db_url, slack, [world.request_id])
    assert result.success
    assert result.output_for_node("queue_shipped_notices_op")["messages_queued"] == 4
    posts = slack.calls("chat.postMessage")
    assert sorted(p["channel"] for p in posts) == [
        "#firehose-billing",
        "#firehose-dashboards",
        ANA_SLACK,
        BOB_SLACK,
    ]
    dm = next(p for p in posts if p["channel"] == ANA_SLACK)
    assert dm["text"].startswith("🎉 Invoices in EUR has shipped!")
    assert "https://feedback.example.com/requests/invoices-in-eur" in str(dm["blocks"])
    assert "View feature request" in str(dm["blocks"])
    firehose = next(p for p in posts if p["channel"] == "#firehose-billing")
    assert "2 followers" in firehose["text"] and "$120.0K ARR" in firehose["text"]
    with session_scope(db_url) as session:
        assert due_shipped_requests(session, utcnow()) == []
    # Rerun (the sensor ticked again, or Dagster retried): nothing more is sent.
    assert run(db_url, slack, [world.request_id]).success
    assert len(slack.calls("chat.postMessage")) == 4


def test_old_or_unshipped_requests_are_not_announced(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    with session_scope(sqlite_url) as session:
        repo.follow(session, world.ana_id, world.request_id)
        request = session.get(Request, world.request_id)
        assert request is not None
        request.status, request.shipped_at = "shipped", utcnow() - timedelta(days=30)
    with session_scope(sqlite_url) as session:
        assert due_shipped_requests(session, utcnow()) == []
        request = session.get(Request, world.request_id)
        assert request is not None
        request.status = "open"
    result = run(sqlite_url, slack, [world.request_id])
    assert result.success
    assert result.output_for_node("queue_shipped_notices_op")["skipped"] == 1
    assert slack.calls("chat.postMessage") == []
