"""`send_reminders_job`: one reminder DM per request without feedback after the delay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pytest

from gtm_feedback_dagster.jobs.send_reminders import send_reminders_job
from gtm_feedback_dagster.notifications.reminders import due_reminders
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, Request, utcnow
from tests.slack.support import APP_URL, BOB_SLACK, World, add_people, seed_world
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    monkeypatch.setenv("GTM_FEEDBACK_APP_URL", APP_URL)  # the op reads settings from the env
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def run(url: str, slack: SlackStandin, request_ids: list[int]) -> dg.ExecuteInProcessResult:
    return send_reminders_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "store": StoreResource(database_url=url),
            "slack": SlackResource(bot_token=slack.token, base_url=slack.api_url),
        },
        run_config={"ops": {"queue_reminders_op": {"config": {"request_ids": request_ids}}}},
    )


def age(world: World, request_id: int, minutes: int) -> None:
    with session_scope(world.url) as session:
        request = session.get(Request, request_id)
        assert request is not None
        request.created_at = utcnow() - timedelta(minutes=minutes)


def test_one_reminder_after_the_delay_and_never_again(db_url: str, slack: SlackStandin) -> None:
    world = seed_world(db_url, with_approval=False)  # request created by Bob, no feedback
    now = utcnow()
    with session_scope(db_url) as session:
        assert due_reminders(session, world.settings, now) == []  # too young
    age(world, world.request_id, 61)
    with session_scope(db_url) as session:
        assert due_reminders(session, world.settings, utcnow()) == [world.request_id]
    result = run(db_url, slack, [world.request_id])
    assert result.success and result.output_for_node("queue_reminders_op")["requests"] == 1
    (dm,) = slack.calls("chat.postMessage")
    assert dm["channel"] == BOB_SLACK and "has no customer feedback yet" in dm["text"]
    assert "https://feedback.example.com/requests/invoices-in-eur" in dm["text"]
    with session_scope(db_url) as session:
        request = session.get(Request, world.request_id)
        assert request is not None and request.reminder_sent_at is not None
        assert due_reminders(session, world.settings, utcnow()) == []
    assert run(db_url, slack, [world.request_id]).success
    assert len(slack.calls("chat.postMessage")) == 1


def test_requests_with_feedback_or_too_old_get_no_reminder(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    with session_scope(sqlite_url) as session:
        area = repo.resolve_area(session, world.area_id)
        with_entry = repo.create_request(
            session, "SSO", "Single sign-on", [area], creator_id=world.ana_id
        )
        ancient = repo.create_request(
            session, "Old one", "From the import", [area], creator_id=world.ana_id
        )
        session.add(
            Feedback(
                source="cli",
                customer_pain="SSO please",
                severity="low",
                account_id=world.account_id,
                submitter_id=world.ana_id,
                request_id=with_entry.id,
                status="routed",
            )
        )
        ids = [with_entry.id, ancient.id]
    age(world, ids[0], 120)
    age(world, ids[1], 60 * 24 * 30)
    with session_scope(sqlite_url) as session:
        assert due_reminders(session, world.settings, utcnow()) == []
    # Even when asked directly, the job re-checks and skips them.
    result = run(sqlite_url, slack, ids)
    assert result.success and result.output_for_node("queue_reminders_op")["skipped"] == 2
    assert slack.calls("chat.postMessage") == []
