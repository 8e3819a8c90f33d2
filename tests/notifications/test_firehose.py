"""`firehose_sensor`: entries routed by the pipeline are posted to their areas' channels once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pytest

from gtm_feedback_dagster.jobs.deliver_outbox import deliver_outbox_job
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.firehose import firehose_sensor
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, utcnow
from tests.slack.support import APP_URL, add_people, outbox, seed_world
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    monkeypatch.setenv("GTM_FEEDBACK_APP_URL", APP_URL)
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def _tick(url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        cursor=cursor,
        resources={"store": StoreResource(database_url=url)},
    )
    result = firehose_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _routed_entry(url: str, world, match_type: str, pain: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope(url) as session:
        entry, _ = repo.add_feedback(
            session,
            {
                "source": "cli",
                "customer_pain": pain,
                "severity": "high",
                "account_id": world.account_id,
                "submitter_id": world.ana_id,
                "request_id": world.request_id,
                "status": "routed",
                "match_type": match_type,
                "routed_at": utcnow(),
            },
        )
        return entry.id


def test_routed_entries_are_posted_once(db_url: str, slack: SlackStandin) -> None:
    world = seed_world(db_url, with_approval=False)
    start = _tick(db_url, None)
    assert not start.run_requests and start.cursor  # starts from now: no history is posted
    cursor = json.dumps({"since": (utcnow() - timedelta(seconds=1)).isoformat()})
    entry_id = _routed_entry(db_url, world, "auto", "Acme <!channel> needs EUR invoices & VAT")
    _routed_entry(db_url, world, "manual", "imported by hand: not announced")
    result = _tick(db_url, cursor)
    (request,) = result.run_requests
    (message,) = outbox(db_url, kind="firehose_entry")
    assert message.channel == "firehose-billing" and message.feedback_id == entry_id
    assert request.run_config["ops"]["deliver_outbox_op"]["config"]["message_ids"] == [message.id]
    # The overlap window sees the entry again, but it is queued only once.
    assert not _tick(db_url, result.cursor).run_requests
    assert not _tick(db_url, cursor).run_requests
    run = deliver_outbox_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "store": StoreResource(database_url=db_url),
            "slack": SlackResource(bot_token=slack.token, base_url=slack.api_url),
        },
        run_config=request.run_config,
    )
    assert run.success
    (post,) = slack.calls("chat.postMessage")
    assert post["channel"] == "#firehose-billing"
    text = json.dumps(post["blocks"])
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "&amp; VAT" in text
    assert f"{APP_URL}/requests/{world.request_slug}?eid={entry_id}" in text
    assert "$120.0K ARR" in text and "Acme" in text


def test_areas_without_a_channel_get_nothing(sqlite_url: str) -> None:
    world = seed_world(sqlite_url, with_approval=False, firehose=None)
    cursor = json.dumps({"since": (utcnow() - timedelta(seconds=1)).isoformat()})
    _routed_entry(sqlite_url, world, "approved", "pain")
    result = _tick(sqlite_url, cursor)
    assert not result.run_requests and outbox(sqlite_url) == []
    with session_scope(sqlite_url) as session:
        assert session.query(Feedback).count() == 1
