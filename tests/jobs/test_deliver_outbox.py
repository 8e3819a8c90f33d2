"""`deliver_outbox_job` / `deliver_outbox_op` on an ephemeral Dagster instance."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from gtm_feedback_dagster.jobs.deliver_outbox import deliver_outbox_job, deliver_outbox_op
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.db import session_scope
from tests.slack.support import add_people, outbox, seed_world
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def _resources(url: str, slack: SlackStandin | None) -> dict[str, object]:
    return {
        "store": StoreResource(database_url=url),
        "slack": SlackResource(bot_token=dg.EnvVar("SLACK_BOT_TOKEN"), base_url=slack.api_url)
        if slack
        else SlackResource(),
    }


def _queue_three(url: str) -> None:
    world = seed_world(url, with_approval=False)
    with session_scope(url) as session:
        enqueue(session, "t", "dm", "hello ana", user_id=world.ana_id)
        enqueue(session, "t", "gone", "to nowhere", channel="C0GONE0001")
        enqueue(session, "t", "post", "to sales", channel="C0SALES01")


def test_job_delivers_and_records_per_message_outcomes(
    sqlite_url: str, slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    _queue_three(sqlite_url)
    slack.missing_channels.add("C0GONE0001")
    instance = dg.DagsterInstance.ephemeral()
    result = deliver_outbox_job.execute_in_process(
        instance=instance, resources=_resources(sqlite_url, slack)
    )
    assert result.success
    assert result.output_for_node("deliver_outbox_op") == {
        "sent": 2,
        "failed": 1,
        "retrying": 0,
        "cancelled": 0,
        "waiting_without_token": 0,
        "aborted": "",
    }
    assert [m.status for m in outbox(sqlite_url)] == ["sent", "failed", "sent"]
    # The token never shows up in the event log, the run config or stored errors.
    logs = serialize_value(instance.all_logs(result.run_id))
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert slack.token not in logs and slack.token not in serialize_value(run.run_config)
    assert all(slack.token not in (m.last_error or "") for m in outbox(sqlite_url))


def test_bad_token_never_leaks_either(
    sqlite_url: str, slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "xoxb-1234-wrong-token-value"
    monkeypatch.setenv("SLACK_BOT_TOKEN", wrong)
    _queue_three(sqlite_url)
    instance = dg.DagsterInstance.ephemeral()
    result = deliver_outbox_job.execute_in_process(
        instance=instance, resources=_resources(sqlite_url, slack)
    )
    assert (
        result.success and result.output_for_node("deliver_outbox_op")["aborted"] == "invalid_auth"
    )
    assert wrong not in serialize_value(instance.all_logs(result.run_id))
    assert all(wrong not in (m.last_error or "") for m in outbox(sqlite_url))


def test_without_token_the_job_succeeds_and_messages_wait(sqlite_url: str) -> None:
    _queue_three(sqlite_url)
    result = deliver_outbox_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), resources=_resources(sqlite_url, None)
    )
    assert result.success
    assert result.output_for_node("deliver_outbox_op")["waiting_without_token"] == 3
    assert {m.status for m in outbox(sqlite_url)} == {"queued"}


def test_only_configured_ids_and_usable_after_another_op(
    sqlite_url: str, slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    _queue_three(sqlite_url)
    first_id = outbox(sqlite_url)[0].id

    @dg.op
    def queue_something() -> int:
        return 1

    @dg.job(executor_def=dg.in_process_executor)
    def some_job() -> None:
        deliver_outbox_op(start_after=queue_something())

    result = some_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources=_resources(sqlite_url, slack),
        run_config={"ops": {"deliver_outbox_op": {"config": {"message_ids": [first_id]}}}},
    )
    assert result.success
    assert [m.status for m in outbox(sqlite_url)] == ["sent", "queued", "queued"]
