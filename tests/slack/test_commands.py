"""`gtm-feedback outbox | approvals | slack check` through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, SlackInbox
from tests.slack.support import APP_URL, add_people, outbox, seed_world
from tests.standins.slack_standin import SlackStandin


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        monkeypatch.setenv("SLACK_BOT_TOKEN", server.token)
        monkeypatch.setenv("GTM_FEEDBACK_SLACK_BASE_URL", server.api_url)
        yield server
    assert not server.errors


def test_outbox_shows_what_waits_without_a_token(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_APP_URL", APP_URL)
    seed_world(app_env)  # routing queued an approval DM for ana
    result = run("outbox")
    assert result.exit_code == 0
    assert "approval_request" in result.output and "ana@example.com" in result.output
    assert "Would you like to add your feedback" in result.output
    assert "outbox-only mode" in result.output
    rows = json.loads(run("outbox", "--status", "all", "--json").output)
    assert [(r["kind"], r["recipient"], r["status"]) for r in rows] == [
        ("approval_request", "ana@example.com", "queued")
    ]
    assert "(no sent messages)" in run("outbox", "--status", "sent").output


def test_approvals_list_and_offline_approve(app_env: str) -> None:
    world = seed_world(app_env)
    listing = run("approvals", "list")
    assert f"{world.approval_id}" in listing.output and "Invoices in EUR" in listing.output
    queued = run("approvals", "approve", str(world.approval_id))
    assert queued.exit_code == 0 and "queued: approve" in queued.output
    with session_scope(app_env) as session:
        row = session.scalars(select(SlackInbox)).one()
        assert row.kind == "cli" and row.payload["decision"] == "approve"
        assert row.payload["value"] == f"feedback_match_approval:{world.approval_id}:approve"
    again = run("approvals", "approve", str(world.approval_id), "--now")
    assert "already queued" in again.output and "approved" in again.output
    with session_scope(app_env) as session:
        assert session.get(Approval, world.approval_id).status == "approved"  # type: ignore[union-attr]
        assert session.get(Feedback, world.entry_id).status == "routed"  # type: ignore[union-attr]
    refused = CliRunner().invoke(cli, ["approvals", "reject", str(world.approval_id)])
    assert refused.exit_code != 0 and "already approved" in refused.output
    assert "(no pending approvals)" in run("approvals", "list").output
    kinds = {m.kind: m.status for m in outbox(app_env)}
    assert kinds == {"approval_request": "cancelled", "approval_confirmation": "queued"}


def test_unknown_approval(app_env: str) -> None:
    result = CliRunner().invoke(cli, ["approvals", "approve", "999"])
    assert result.exit_code != 0 and "unknown approval #999" in result.output


def test_outbox_send_and_retry_with_a_token(app_env: str, slack: SlackStandin) -> None:
    seed_world(app_env)
    slack.fail_method("chat.postMessage", "is_archived")
    sent = run("outbox", "send")
    assert "failed 1" in sent.output and "is_archived" in sent.output
    assert "1 message(s) queued again" in run("outbox", "retry").output
    assert "sent 1" in run("outbox", "send").output
    assert len(slack.calls("chat.postMessage")) == 2


def test_slack_check(app_env: str, slack: SlackStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("slack", "check")
    assert result.exit_code == 0 and "team Standin (T0STANDIN)" in result.output
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-valid-0000")
    bad = CliRunner().invoke(cli, ["slack", "check"])
    assert bad.exit_code != 0 and "invalid_auth" in bad.output
    assert "xoxb-not-valid-0000" not in bad.output
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    none = CliRunner().invoke(cli, ["slack", "check"])
    assert none.exit_code != 0 and "SLACK_BOT_TOKEN is not set" in none.output
