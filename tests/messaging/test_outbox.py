"""Outbox delivery: queued in the database, sent once through the real WebClient, retried with
backoff on transient errors, failed with the reason on permanent ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.messaging import delivery as dv
from gtm_feedback_dagster.messaging import outbox as ob
from gtm_feedback_dagster.messaging.slack_client import SlackClient
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, OutboxMessage, utcnow
from tests.slack.support import ANA_SLACK, add_people, client_for, outbox, seed_world, user
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def _queue(url: str, key: str, **kw: Any) -> int:
    with session_scope(url) as session:
        message_id = ob.enqueue(session, kw.pop("kind", "test"), key, kw.pop("text", key), **kw)
    assert message_id is not None
    return message_id


def test_dm_resolves_slack_id_by_email_once_and_caches_it(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    first = _queue(sqlite_url, "dm-1", user_id=world.ana_id, text="first")
    second = _queue(sqlite_url, "dm-2", user_id=world.ana_id, text="second")
    report = dv.deliver_outbox(sqlite_url, client_for(slack))
    assert report.sent == [first, second]
    assert len(slack.calls("users.lookupByEmail")) == 1
    assert [c["channel"] for c in slack.calls("chat.postMessage")] == [ANA_SLACK, ANA_SLACK]
    assert user(sqlite_url, world.ana_id).slack_user_id == ANA_SLACK
    (row, _) = outbox(sqlite_url, status="sent")[:2]
    assert row.slack_channel == "D0ANA00001" and row.slack_ts and row.sent_at and row.attempts == 1


def test_channel_names_get_a_hash_and_ids_do_not(sqlite_url: str, slack: SlackStandin) -> None:
    seed_world(sqlite_url, with_approval=False)
    _queue(sqlite_url, "c1", channel="firehose-billing")
    _queue(sqlite_url, "c2", channel="C0FIRE0001", thread_ts="1700000000.000100")
    dv.deliver_outbox(sqlite_url, client_for(slack))
    calls = slack.calls("chat.postMessage")
    assert [c["channel"] for c in calls] == ["#firehose-billing", "C0FIRE0001"]
    assert calls[1]["thread_ts"] == "1700000000.000100"


def test_without_a_client_messages_stay_queued(sqlite_url: str) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    message_id = _queue(sqlite_url, "dm", user_id=world.ana_id)
    report = dv.deliver_outbox(sqlite_url, None)
    assert report.waiting == 1 and not report.sent
    (row,) = outbox(sqlite_url)
    assert (row.id, row.status, row.attempts) == (message_id, "queued", 0)


def test_enqueue_is_idempotent_by_dedupe_key(db_url: str) -> None:
    world = seed_world(db_url, with_approval=False)
    with session_scope(db_url) as session:
        assert ob.enqueue(session, "k", "same", "one", user_id=world.ana_id) is not None
    with session_scope(db_url) as session:
        assert ob.enqueue(session, "k", "same", "two", user_id=world.ana_id) is None
    assert [m.text for m in outbox(db_url)] == ["one"]


def test_permanent_error_fails_one_message_and_the_rest_go_on(
    sqlite_url: str, slack: SlackStandin
) -> None:
    seed_world(sqlite_url, with_approval=False)
    bad = _queue(sqlite_url, "bad", channel="C0GONE0001")
    good = _queue(sqlite_url, "good", channel="C0SALES01")
    slack.fail_method("chat.postMessage", "channel_not_found")
    report = dv.deliver_outbox(sqlite_url, client_for(slack))
    assert report.failed == [bad] and report.sent == [good]
    failed = outbox(sqlite_url, id=bad)[0]
    assert failed.status == "failed" and failed.last_error.startswith("channel_not_found")
    # Failed messages are not retried by later passes.
    assert dv.deliver_outbox(sqlite_url, client_for(slack)).sent == []
    assert len(slack.calls("chat.postMessage")) == 2


def test_unknown_slack_user_fails_the_dm_with_the_reason(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    with session_scope(sqlite_url) as session:
        carol = repo.get_or_create_user(session, "carol@example.com", "Carol")
    message_id = _queue(sqlite_url, "dm", user_id=carol.id)
    report = dv.deliver_outbox(sqlite_url, client_for(slack))
    assert report.failed == [message_id] and report.errors[message_id] == "users_not_found"
    assert slack.calls("chat.postMessage") == []
    assert world.ana_id  # the seeded users are untouched


def test_transient_error_backs_off_then_delivers(sqlite_url: str, slack: SlackStandin) -> None:
    seed_world(sqlite_url, with_approval=False)
    message_id = _queue(sqlite_url, "m", channel="C0SALES01")
    slack.fail_next(status=500, body="oops", content_type="text/plain", times=3)  # + 2 retries
    now = utcnow()
    report = dv.deliver_outbox(sqlite_url, client_for(slack), now=now)
    assert report.retrying == [message_id]
    row = outbox(sqlite_url)[0]
    assert row.status == "queued" and row.attempts == 1 and row.last_error.startswith("http_500")
    assert row.next_attempt_at == now + ob.backoff(1)
    # Not due before the backoff has passed ...
    assert (
        dv.deliver_outbox(sqlite_url, client_for(slack), now=now + timedelta(seconds=5)).sent == []
    )
    # ... and delivered after.
    later = dv.deliver_outbox(sqlite_url, client_for(slack), now=now + timedelta(seconds=31))
    assert later.sent == [message_id]
    assert outbox(sqlite_url)[0].attempts == 2


def test_rate_limit_beyond_client_retries_waits_for_retry_after(
    sqlite_url: str, slack: SlackStandin
) -> None:
    seed_world(sqlite_url, with_approval=False)
    _queue(sqlite_url, "m", channel="C0SALES01")
    slack.fail_next(
        status=429,
        headers={"Retry-After": "0"},
        body={"ok": False, "error": "ratelimited"},
        times=2,
    )
    slack.fail_next(
        status=429, headers={"Retry-After": "120"}, body={"ok": False, "error": "ratelimited"}
    )
    now = utcnow()
    report = dv.deliver_outbox(sqlite_url, client_for(slack), now=now)
    assert report.errors == {report.retrying[0]: "ratelimited"}
    assert outbox(sqlite_url)[0].next_attempt_at == now + timedelta(seconds=120)


def test_gives_up_after_max_attempts(sqlite_url: str, slack: SlackStandin) -> None:
    seed_world(sqlite_url, with_approval=False)
    message_id = _queue(sqlite_url, "m", channel="C0SALES01")
    with session_scope(sqlite_url) as session:
        session.get(OutboxMessage, message_id).attempts = ob.MAX_ATTEMPTS - 1  # type: ignore[union-attr]
    slack.fail_method("chat.postMessage", "internal_error")
    report = dv.deliver_outbox(sqlite_url, client_for(slack))
    assert report.failed == [message_id]
    assert outbox(sqlite_url)[0].last_error.startswith(f"gave up after {ob.MAX_ATTEMPTS} attempts")


def test_token_error_fails_that_message_and_defers_the_rest(
    sqlite_url: str, slack: SlackStandin
) -> None:
    seed_world(sqlite_url, with_approval=False)
    ids = [_queue(sqlite_url, f"m{i}", channel="C0SALES01") for i in range(3)]
    bad_client = SlackClient("xoxb-revoked-token", base_url=slack.api_url)
    now = utcnow()
    report = dv.deliver_outbox(sqlite_url, bad_client, now=now)
    assert report.aborted == "invalid_auth" and report.failed == [ids[0]]
    rows = outbox(sqlite_url)
    assert [r.status for r in rows] == ["failed", "queued", "queued"]
    assert all(r.next_attempt_at == now + ob.TOKEN_ERROR_DEFER for r in rows[1:])
    assert len(slack.requests_to("/api/chat.postMessage")) == 1
    assert "xoxb-revoked-token" not in (rows[0].last_error or "")


class CrashAfterSend(SlackClient):
    """Slack accepts the message, then the process dies before recording it."""

    def post_message(self, *args: Any, **kwargs: Any) -> tuple[str, str]:
        super().post_message(*args, **kwargs)
        raise KeyboardInterrupt("simulated crash between Slack's answer and our commit")


def test_crash_between_send_and_commit_resends_once_after_the_lease(
    db_url: str, slack: SlackStandin
) -> None:
    seed_world(db_url, with_approval=False)
    message_id = _queue(db_url, "m", channel="C0SALES01")
    now = utcnow()
    crashing = CrashAfterSend(slack.token, base_url=slack.api_url)
    with pytest.raises(KeyboardInterrupt):
        dv.deliver_outbox(db_url, crashing, now=now)
    row = outbox(db_url)[0]
    assert row.status == "sending" and row.attempts == 1 and row.slack_ts is None
    client = client_for(slack)
    # While the lease holds, nobody sends it again (the first sender may still be alive).
    assert dv.deliver_outbox(db_url, client, now=now + timedelta(minutes=1)).sent == []
    # After the lease: at-least-once — sent again, exactly once, then never again.
    later = now + ob.SENDING_LEASE + timedelta(seconds=1)
    assert dv.deliver_outbox(db_url, client, now=later).sent == [message_id]
    assert dv.deliver_outbox(db_url, client, now=later + timedelta(hours=2)).sent == []
    assert len(slack.calls("chat.postMessage")) == 2
    assert outbox(db_url)[0].status == "sent"


def test_rerun_after_success_sends_nothing(db_url: str, slack: SlackStandin) -> None:
    world = seed_world(db_url, with_approval=False)
    _queue(db_url, "a", user_id=world.ana_id)
    _queue(db_url, "b", channel="C0SALES01")
    client = client_for(slack)
    assert len(dv.deliver_outbox(db_url, client).sent) == 2
    assert dv.deliver_outbox(db_url, client).sent == []
    assert len(slack.calls("chat.postMessage")) == 2


def test_a_claimed_message_cannot_be_claimed_twice(db_url: str) -> None:
    seed_world(db_url, with_approval=False)
    message_id = _queue(db_url, "m", channel="C0SALES01")
    now = utcnow()
    with session_scope(db_url) as session:
        assert dv._claim(session, message_id, now)
    with session_scope(db_url) as session:
        assert not dv._claim(session, message_id, now)


def test_only_the_given_ids_are_delivered(sqlite_url: str, slack: SlackStandin) -> None:
    seed_world(sqlite_url, with_approval=False)
    first = _queue(sqlite_url, "a", channel="C0SALES01")
    _queue(sqlite_url, "b", channel="C0SALES01")
    assert dv.deliver_outbox(sqlite_url, client_for(slack), ids=[first]).sent == [first]
    assert [m.status for m in outbox(sqlite_url)] == ["sent", "queued"]


def test_approval_dm_location_is_recorded_and_edits_find_it(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url)
    dv.deliver_outbox(sqlite_url, client_for(slack))
    with session_scope(sqlite_url) as session:
        approval = session.get(Approval, world.approval_id)
        assert approval is not None
        assert (approval.slack_channel, approval.slack_ts) == ("D0ANA00001", "1790000000.000001")
        ob.enqueue(
            session,
            ob.KIND_APPROVAL_UPDATE,
            "upd",
            "decided",
            approval_id=world.approval_id,
            blocks=[],
        )
    dv.deliver_outbox(sqlite_url, client_for(slack))
    (update,) = slack.calls("chat.update")
    assert (update["channel"], update["ts"], update["blocks"]) == (
        "D0ANA00001",
        "1790000000.000001",
        [],
    )


def test_ephemeral_and_response_url_messages(
    sqlite_url: str, slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{slack.url}/hooks/")
    seed_world(sqlite_url, with_approval=False)
    _queue(sqlite_url, "e", channel="C0SALES01", ephemeral_user=ANA_SLACK, thread_ts="1.2")
    _queue(sqlite_url, "r", response_url=slack.response_url("cmd"), text="done")
    report = dv.deliver_outbox(sqlite_url, client_for(slack))
    assert len(report.sent) == 2
    (ephemeral,) = slack.calls("chat.postEphemeral")
    assert (ephemeral["channel"], ephemeral["user"], ephemeral["thread_ts"]) == (
        "C0SALES01",
        ANA_SLACK,
        "1.2",
    )
    assert slack.hook_calls("cmd")[0]["text"] == "done"


def test_requeue_gives_failed_messages_a_fresh_budget(sqlite_url: str, slack: SlackStandin) -> None:
    seed_world(sqlite_url, with_approval=False)
    message_id = _queue(sqlite_url, "m", channel="C0SALES01")
    slack.fail_method("chat.postMessage", "not_in_channel")
    dv.deliver_outbox(sqlite_url, client_for(slack))
    with session_scope(sqlite_url) as session:
        assert ob.requeue(session) == 1
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts) == ("queued", 0)
    assert dv.deliver_outbox(sqlite_url, client_for(slack)).sent == [message_id]
