"""Acting on the Slack inbox: approvals, reactions, the modal, /shipped — each row once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.config import Secrets
from gtm_feedback_dagster.feedback.capture import UNKNOWN_ACCOUNT_NAME
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.routing.approvals import due_expired_approvals, expire_approvals
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack import inbox, payloads
from gtm_feedback_dagster.slack.dispatch import resolve_inbox
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Account,
    Approval,
    Feedback,
    Request,
    RequestVector,
    SlackInbox,
    utcnow,
)
from tests.slack.support import (
    ANA_SLACK,
    BOB_SLACK,
    World,
    add_people,
    client_for,
    outbox,
    seed_world,
)
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{server.url}/hooks/")
        monkeypatch.delenv("GTM_FEEDBACK_DEFAULT_ACCOUNT", raising=False)
        yield server
    assert not server.errors


def env_for(world: World, slack: SlackStandin | None, embedder: Any = None) -> Runtime:
    rt = Runtime.from_settings(world.settings, Secrets())
    rt.slack = client_for(slack) if slack else None
    rt.llm = None
    if embedder is not None:
        rt.embedder = embedder
    return rt


def store(url: str, kind: str, key: str, payload: dict[str, Any]) -> int:
    with session_scope(url) as session:
        row_id = inbox.store_inbox(session, kind, key, payload)
    assert row_id is not None
    return row_id


def click(
    world: World, decision: str = "approve", user: str = ANA_SLACK, **kw: Any
) -> dict[str, Any]:
    assert world.approval_id is not None
    return payloads.approval_action(
        world.approval_id,
        decision,
        source="slack",
        user_id=user,
        channel_id=kw.get("channel_id", "D0ANA00001"),
        message_ts=kw.get("message_ts", "1790000000.000001"),
        response_url=kw.get("response_url"),
    )


def entry(url: str, entry_id: int) -> Feedback:
    with session_scope(url) as session:
        found = session.get(Feedback, entry_id)
        assert found is not None
        return found


def approval(url: str, approval_id: int) -> Approval:
    with session_scope(url) as session:
        found = session.get(Approval, approval_id)
        assert found is not None
        return found


def followers(url: str, request_id: int) -> list[int]:
    with session_scope(url) as session:
        return repo.follower_ids(session, request_id)


# ---------------------------------------------------------------------------- approvals


def test_submitter_approves_twice_and_it_applies_once(db_url: str, slack: SlackStandin) -> None:
    world = seed_world(db_url)
    env = env_for(world, slack)
    deliver_outbox(db_url, env.slack)  # the approval DM reaches Slack
    first = store(db_url, "interaction", "a1", click(world))
    second = store(db_url, "interaction", "a2", click(world))  # e.g. a retry with a new key
    report = resolve_inbox(env, [first, second])
    assert report.outcomes == {first: "approved", second: "already_decided"}
    assert world.entry_id is not None and world.approval_id is not None
    routed = entry(db_url, world.entry_id)
    assert (routed.status, routed.request_id, routed.match_type) == (
        "routed",
        world.request_id,
        "approved",
    )
    assert routed.routed_at is not None and routed.confidence == pytest.approx(0.85)
    decided = approval(db_url, world.approval_id)
    assert (decided.status, decided.decided_by) == ("approved", ANA_SLACK)
    assert followers(db_url, world.request_id) == [world.ana_id]
    # Processing the same rows again changes nothing.
    assert resolve_inbox(env, [first, second]).skipped == [first, second]
    deliver_outbox(db_url, env.slack)
    (update,) = slack.calls("chat.update")
    assert (update["channel"], update["ts"]) == ("D0ANA00001", "1790000000.000001")
    assert "✅ Adding feedback to existing request..." in str(update["blocks"])
    assert all(block["type"] != "actions" for block in update["blocks"])
    dms = [c for c in slack.calls("chat.postMessage") if "added to" in c["text"]]
    assert len(dms) == 1 and "Invoices in EUR" in dms[0]["text"]
    (note,) = slack.calls("chat.postEphemeral")  # the second decision is told it is late
    assert note["user"] == ANA_SLACK and "already handled" in note["text"]


def test_only_the_submitter_may_decide(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url)
    env = env_for(world, slack)
    row = store(
        sqlite_url,
        "interaction",
        "b",
        click(world, user=BOB_SLACK, response_url=slack.response_url("act")),
    )
    report = resolve_inbox(env, [row])
    assert report.failed == [row] and "not the submitter" in report.errors[row]
    assert approval(sqlite_url, world.approval_id or 0).status == "pending"
    assert entry(sqlite_url, world.entry_id or 0).status == "awaiting_approval"
    deliver_outbox(sqlite_url, env.slack)
    (reply,) = slack.hook_calls("act")
    assert (
        reply["text"].startswith("Only the person who submitted")
        and reply["response_type"] == "ephemeral"
    )


def test_submitter_is_recognised_by_email_and_cached(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url)
    env = env_for(world, slack)
    row = store(sqlite_url, "interaction", "a", click(world))
    assert resolve_inbox(env, [row]).outcomes == {row: "approved"}
    assert slack.calls("users.info")[0]["user"] == ANA_SLACK
    with session_scope(sqlite_url) as session:
        assert repo.resolve_user(session, ANA_SLACK).id == world.ana_id


def test_decision_before_the_dm_was_delivered_cancels_the_dm(sqlite_url: str) -> None:
    world = seed_world(sqlite_url)
    payload = payloads.approval_action(
        world.approval_id or 0, "approve", source="cli", actor="cli:ops"
    )
    row = store(sqlite_url, "cli", "cli:approval", payload)
    assert resolve_inbox(env_for(world, None), [row]).outcomes == {row: "approved"}
    kinds = {m.kind: m.status for m in outbox(sqlite_url)}
    assert kinds == {"approval_request": "cancelled", "approval_confirmation": "queued"}


def test_not_a_match_creates_a_new_request_once(
    db_url: str, slack: SlackStandin, local_embedder: Any
) -> None:
    world = seed_world(db_url)
    # The old behaviour, kept as a setting (the default sends it to triage: routing/triage.py).
    world.settings = dataclasses.replace(world.settings, decline_to="new_request")
    env = env_for(world, slack, local_embedder)
    deliver_outbox(db_url, env.slack)
    first = store(db_url, "interaction", "d1", click(world, "decline"))
    second = store(db_url, "interaction", "d2", click(world, "decline"))
    report = resolve_inbox(env, [first, second])
    assert report.outcomes == {first: "rejected", second: "already_decided"}, report.errors
    routed = entry(db_url, world.entry_id or 0)
    assert (routed.status, routed.match_type) == ("routed", "new_request")
    assert routed.request_id not in (None, world.request_id)
    with session_scope(db_url) as session:
        new = session.get(Request, routed.request_id)
        assert new is not None and new.creator_id == world.ana_id and new.created_by_routing
        assert [a.slug for a in new.areas] == ["billing"]  # voted from the declined request
        assert session.get(RequestVector, new.id) is not None
        assert (
            session.scalar(select(Approval.status).where(Approval.id == world.approval_id))
            == "rejected"
        )
    assert followers(db_url, routed.request_id or 0) == [world.ana_id]
    deliver_outbox(db_url, env.slack)
    (update,) = slack.calls("chat.update")
    assert "❌ Creating new request..." in str(update["blocks"])
    assert any(
        "new feature request was created" in c["text"] for c in slack.calls("chat.postMessage")
    )


def test_unanswered_approvals_expire_to_a_new_request(sqlite_url: str, local_embedder: Any) -> None:
    world = seed_world(sqlite_url)
    now = utcnow()
    with session_scope(sqlite_url) as session:
        assert due_expired_approvals(session, world.settings, now) == []
        later = now + timedelta(days=world.settings.approval_expiry_days, minutes=1)
        assert due_expired_approvals(session, world.settings, later) == [world.approval_id]
    world.settings = dataclasses.replace(world.settings, decline_to="new_request")
    env = env_for(world, None, local_embedder)
    assert expire_approvals(env, [world.approval_id or 0], now=now) == []  # not due yet
    assert expire_approvals(env, [world.approval_id or 0], now=later) == [world.approval_id]
    assert expire_approvals(env, [world.approval_id or 0], now=later) == []
    assert approval(sqlite_url, world.approval_id or 0).status == "expired"
    assert entry(sqlite_url, world.entry_id or 0).match_type == "new_request"


def test_transient_slack_failure_leaves_the_row_for_a_retry(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url)
    env = env_for(world, slack)
    row = store(sqlite_url, "interaction", "a", click(world))
    slack.fail_next(
        status=500, body="down", content_type="text/plain", path="/api/users.info", times=3
    )
    now = utcnow()
    report = resolve_inbox(env, [row], now=now)
    assert report.retrying == [row]
    with session_scope(sqlite_url) as session:
        stored = session.get(SlackInbox, row)
        assert stored is not None and stored.processed_at is None and stored.attempts == 1
        assert stored.next_attempt_at == now + inbox.BASE_BACKOFF
        assert "http_500" in (stored.error or "")
    assert resolve_inbox(env, [row], now=now + timedelta(seconds=5)).skipped == [row]
    assert resolve_inbox(env, [row], now=now + timedelta(minutes=1)).outcomes == {row: "approved"}


# ---------------------------------------------------------------------------- reactions


def thread(slack: SlackStandin) -> None:
    slack.add_thread(
        "C0SALES01",
        [
            {
                "ts": "1700000000.000100",
                "user": BOB_SLACK,
                "text": "<@U0ANA00001> Globex says exporting invoices as PDF times out for big accounts. They cannot close the month without it.",
            },
            {
                "ts": "1700000000.000200",
                "user": ANA_SLACK,
                "text": "Same at Initech :sweat: they need bulk PDF export before renewal https://initech.example.com/t/9",
            },
            {"ts": "1700000000.000300", "user": BOB_SLACK, "text": "thanks!", "subtype": None},
        ],
    )


def reaction(
    ts: str = "1700000000.000200", user: str = ANA_SLACK, event_id: str = "Ev1"
) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "event_id": event_id,
        "team_id": "T0TEAM0001",
        "user_id": user,
        "reaction": "gtm-feedback",
        "channel_id": "C0SALES01",
        "message_ts": ts,
        "event_ts": "1700000001.000100",
    }


def test_reaction_on_a_reply_captures_the_whole_thread_once(
    db_url: str, slack: SlackStandin
) -> None:
    world = seed_world(db_url, with_approval=False)
    thread(slack)
    env = env_for(world, slack)
    first = store(db_url, "event", "event:Ev1", reaction())
    second = store(
        db_url,
        "event",
        "event:Ev2",
        reaction(ts="1700000000.000100", user=BOB_SLACK, event_id="Ev2"),
    )
    report = resolve_inbox(env, [first, second])
    assert report.outcomes == {first: "reaction_captured", second: "reaction_duplicate"}
    # The reply's ts gave only the reply; the root's ts gave the whole thread.
    assert [c["ts"] for c in slack.calls("conversations.replies")][:2] == [
        "1700000000.000200",
        "1700000000.000100",
    ]
    with session_scope(db_url) as session:
        (captured,) = session.scalars(select(Feedback).where(Feedback.source == "reaction")).all()
        account = session.get(Account, captured.account_id)
        assert account is not None and account.name == UNKNOWN_ACCOUNT_NAME and account.arr == 0
        assert captured.external_id == "C0SALES01:1700000000.000100"
        assert (captured.status, captured.severity) == ("pending", "medium")
        assert captured.submitter_id == world.ana_id
        assert "PDF" in captured.customer_pain and "<@" not in captured.customer_pain
        assert "https://" not in captured.customer_pain and ":sweat:" not in captured.customer_pain
        assert len(captured.customer_pain) <= 500
        assert captured.links == ["https://standin.slack.com/archives/C0SALES01/p1700000000000100"]
        assert captured.meta["summary_method"] == "extractive"
    deliver_outbox(db_url, env.slack)
    acks = slack.calls("chat.postEphemeral")
    assert [(a["user"], a["thread_ts"], a["text"]) for a in acks] == [
        (ANA_SLACK, "1700000000.000100", "Taking a look..."),
        (BOB_SLACK, "1700000000.000100", "This thread is already captured as customer feedback."),
    ]


def test_reaction_uses_the_configured_default_account(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    thread(slack)
    world = dataclasses.replace(
        world, settings=dataclasses.replace(world.settings, default_account="001ACME")
    )
    row = store(sqlite_url, "event", "e", reaction())
    resolve_inbox(env_for(world, slack), [row])
    with session_scope(sqlite_url) as session:
        captured = session.scalars(select(Feedback).where(Feedback.source == "reaction")).one()
        assert captured.account_id == world.account_id


def test_reaction_by_a_user_without_email_is_closed_with_the_reason(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    thread(slack)
    slack.add_user("U0NOMAIL01", None, "No Mail")
    row = store(sqlite_url, "event", "e", reaction(user="U0NOMAIL01"))
    report = resolve_inbox(env_for(world, slack), [row])
    assert report.failed == [row] and "users:read.email" in report.errors[row]
    with session_scope(sqlite_url) as session:
        assert session.scalars(select(Feedback)).all() == []
        assert session.get(SlackInbox, row).processed_at is not None  # type: ignore[union-attr]


def test_reaction_in_a_channel_the_bot_has_not_joined(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    thread(slack)
    slack.channels_needing_join.add("C0SALES01")
    row = store(sqlite_url, "event", "e", reaction())
    assert resolve_inbox(env_for(world, slack), [row]).outcomes == {row: "reaction_captured"}
    assert slack.calls("conversations.join") == [{"channel": "C0SALES01"}]


# ---------------------------------------------------------------------------- modal


def modal(view_id: str = "V0VIEW0001", account: str = "Acme") -> dict[str, Any]:
    return {
        "type": "view_submission",
        "view_id": view_id,
        "user_id": ANA_SLACK,
        "user_name": "ana",
        "team_id": "T0TEAM0001",
        "severity": "high",
        "account": account,
        "opportunity": None,
        "customer_pain": "Acme needs SAML single sign-on before renewal.",
        "links": ["https://acme.example.com/ticket/1"],
    }


def test_modal_submission_becomes_one_pending_entry(db_url: str, slack: SlackStandin) -> None:
    world = seed_world(db_url, with_approval=False)
    env = env_for(world, slack)
    first = store(db_url, "interaction", "view:V0VIEW0001", modal())
    again = store(db_url, "interaction", "replayed", modal())
    assert resolve_inbox(env, [first, again]).outcomes == {
        first: "modal_entry",
        again: "modal_entry",
    }
    with session_scope(db_url) as session:
        (stored,) = session.scalars(select(Feedback).where(Feedback.source == "slack")).all()
        assert (stored.external_id, stored.status, stored.severity) == (
            "V0VIEW0001",
            "pending",
            "high",
        )
        assert (stored.account_id, stored.submitter_id) == (world.account_id, world.ana_id)
        assert stored.links == ["https://acme.example.com/ticket/1"]


def test_modal_with_an_account_gone_meanwhile_is_kept_as_invalid(
    sqlite_url: str, slack: SlackStandin
) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    env = env_for(world, slack)
    row = store(sqlite_url, "interaction", "v", modal(account="Globex"))
    assert resolve_inbox(env, [row]).outcomes == {row: "modal_invalid"}
    with session_scope(sqlite_url) as session:
        stored = session.scalars(select(Feedback)).one()
        assert stored.status == "invalid" and "Globex" in (stored.error or "")
    deliver_outbox(sqlite_url, env.slack)
    (dm,) = slack.calls("chat.postMessage")
    assert dm["channel"] == ANA_SLACK and "could not be filed" in dm["text"]


# ---------------------------------------------------------------------------- /shipped


def shipped(text_slug: str | None, slack: SlackStandin, trigger: str = "1.2.3") -> dict[str, Any]:
    return {
        "type": "command",
        "command": "/shipped",
        "text": f"https://feedback.example.com/requests/{text_slug}",
        "slug": text_slug,
        "user_id": BOB_SLACK,
        "channel_id": "C0SALES01",
        "team_id": "T0TEAM0001",
        "trigger_id": trigger,
        "response_url": slack.response_url(trigger),
    }


def test_shipped_notifies_followers_and_answers_with_the_count(
    db_url: str, slack: SlackStandin
) -> None:
    world = seed_world(db_url, with_approval=False)
    with session_scope(db_url) as session:
        carol = repo.get_or_create_user(session, "carol@example.com", "Carol")  # not in Slack
        for user_id in (world.ana_id, world.bob_id, carol.id):
            repo.follow(session, user_id, world.request_id)
    env = env_for(world, slack)
    row = store(db_url, "command", "c1", shipped(world.request_slug, slack))
    assert resolve_inbox(env, [row]).outcomes == {row: "shipped"}
    with session_scope(db_url) as session:
        request = session.get(Request, world.request_id)
        assert request is not None and request.status == "shipped"
        assert request.shipped_at is not None and request.shipped_notified_at is not None
    posts = slack.calls("chat.postMessage")
    assert sorted(p["channel"] for p in posts) == ["#firehose-billing", ANA_SLACK, BOB_SLACK]
    assert all("🎉" in p["text"] for p in posts if p["channel"] != "#firehose-billing")
    deliver_outbox(db_url, env.slack)
    (answer,) = slack.hook_calls("1.2.3")
    assert answer["text"].endswith("Notified 2 of 3 followers.")
    # A rerun of the same command (e.g. after a crash) neither re-sends nor changes the count.
    with session_scope(db_url) as session:
        stored = session.get(SlackInbox, row)
        assert stored is not None
        stored.processed_at = None
    assert resolve_inbox(env, [row]).outcomes == {row: "shipped"}
    assert len(slack.calls("chat.postMessage")) == 3


def test_shipped_twice_says_already_shipped(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    env = env_for(world, slack)
    first = store(sqlite_url, "command", "c1", shipped(world.request_slug, slack, "1.1.1"))
    second = store(sqlite_url, "command", "c2", shipped(world.request_slug, slack, "2.2.2"))
    assert resolve_inbox(env, [first, second]).outcomes == {
        first: "shipped",
        second: "already_shipped",
    }
    deliver_outbox(sqlite_url, env.slack)
    assert slack.hook_calls("1.1.1")[0]["text"].endswith("It has no followers to notify.")
    assert slack.hook_calls("2.2.2")[0]["text"] == '"Invoices in EUR" is already marked as shipped.'


def test_shipped_with_an_unknown_request(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url, with_approval=False)
    env = env_for(world, slack)
    row = store(sqlite_url, "command", "c", shipped("no-such-request", slack))
    assert resolve_inbox(env, [row]).outcomes == {row: "shipped_unknown_request"}
    deliver_outbox(sqlite_url, env.slack)
    assert slack.hook_calls("1.2.3")[0]["text"].startswith("Invalid feedback URL")


def test_reaction_summary_comes_from_the_llm_when_configured(
    sqlite_url: str, slack: SlackStandin, openai_standin: Any
) -> None:
    from gtm_feedback_dagster.ai.llm import ChatLLM

    world = seed_world(sqlite_url, with_approval=False)
    thread(slack)
    slack.add_thread(
        "C0SALES01",
        [
            {
                "ts": "1700000009.000100",
                "user": BOB_SLACK,
                "text": "Okta SCIM provisioning fails for Umbrella, they cannot onboard users.",
            }
        ],
    )
    summary = "Large customers need bulk PDF export of invoices; the export times out."
    openai_standin.chat_replies.append({"summary": summary})
    openai_standin.chat_replies.append("this is not JSON")  # a bad answer: extractive fallback
    env = env_for(world, slack)
    env.llm = ChatLLM(
        api_key="sk-test", model="gpt-4o-mini", base_url=openai_standin.base_url, max_retries=0
    )
    first = store(sqlite_url, "event", "e1", reaction())
    second = store(sqlite_url, "event", "e2", reaction(ts="1700000009.000100", event_id="Ev9"))
    assert set(resolve_inbox(env, [first, second]).outcomes.values()) == {"reaction_captured"}
    with session_scope(sqlite_url) as session:
        by_thread = {f.external_id: f for f in session.scalars(select(Feedback))}
    llm_entry = by_thread["C0SALES01:1700000000.000100"]
    assert (llm_entry.customer_pain, llm_entry.meta["summary_method"]) == (summary, "llm")
    fallback = by_thread["C0SALES01:1700000009.000100"]
    assert fallback.meta["summary_method"] == "extractive" and "SCIM" in fallback.customer_pain
    prompt = str(openai_standin.requests_to("/v1/chat/completions")[0].json)
    assert "PDF" in prompt and "<@U0ANA00001>" not in prompt
