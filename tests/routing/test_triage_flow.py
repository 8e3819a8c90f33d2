"""Issue 11 item 4: "Not a match" and expired questions go to the area owner's triage queue
(not silently to a new request); one action — CLI or web, the same use case — attaches the entry
or creates the request, once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from slack_sdk.models.blocks import Block
from sqlalchemy import func, select

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.config import Secrets
from gtm_feedback_dagster.requests.triage import triage_items, waiting_entries
from gtm_feedback_dagster.routing import triage
from gtm_feedback_dagster.routing.approvals import expire_approvals
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack import inbox, payloads
from gtm_feedback_dagster.slack.dispatch import resolve_inbox
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, OutboxMessage, Request, utcnow
from tests.slack.support import ANA_SLACK, World, add_approval, seed_world


def _runtime(world: World, embedder: Any = None, **settings: Any) -> Runtime:
    rt = Runtime.from_settings(dataclasses.replace(world.settings, **settings), Secrets())
    rt.slack = None
    rt.llm = None
    if embedder is not None:
        rt.embedder = embedder
    return rt


def _decline(world: World, rt: Runtime, key: str = "d1") -> str:
    assert world.approval_id is not None
    with session_scope(world.url) as session:
        row = inbox.store_inbox(
            session,
            "interaction",
            key,
            payloads.approval_action(
                world.approval_id,
                "decline",
                source="slack",
                user_id=ANA_SLACK,
                channel_id="D0ANA00001",
                message_ts="1790000000.000001",
            ),
        )
    assert row is not None
    with session_scope(world.url) as session:
        from gtm_feedback_dagster.store.schema import User

        ana = session.get(User, world.ana_id)
        assert ana is not None
        ana.slack_user_id = ANA_SLACK
    report = resolve_inbox(rt, [row])
    return report.outcomes.get(row, str(report.errors.get(row)))


def _requests(url: str) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(Request)) or 0)


def test_not_a_match_goes_to_triage_and_tells_the_owner(sqlite_url: str) -> None:
    world = seed_world(sqlite_url)
    rt = _runtime(world, area_owners="billing=bob@example.com")
    before = _requests(sqlite_url)
    assert _decline(world, rt) == "rejected"
    assert _requests(sqlite_url) == before  # no request created silently
    with session_scope(sqlite_url) as s:
        entry = s.get(Feedback, world.entry_id)
        assert entry is not None and entry.status == "awaiting_approval"
        (waiting,) = waiting_entries(s)
        assert waiting["entry_id"] == world.entry_id and waiting["answer"] == "rejected"
        assert triage_items(s)["entries"] == [waiting]
        notice = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "triage_notice")).one()
        assert notice.user_id == world.bob_id  # the area's owner, a DM
        assert f"{world.settings.app_url}/triage" in notice.text
        assert "euros" not in notice.text  # customer text stays out of the owner notice
        for block in notice.blocks or []:
            Block.parse(block).validate_json()  # type: ignore[union-attr]
        # The question DM was never delivered: it is cancelled, not edited.
        question = s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "approval_request")
        ).one()
        assert question.status == "cancelled"


def test_owner_notice_once_a_day_and_to_the_firehose_without_an_owner(sqlite_url: str) -> None:
    world = seed_world(sqlite_url)
    rt = _runtime(world)
    assert _decline(world, rt) == "rejected"
    second_entry, second_approval = add_approval(world, "Invoices must show EUR for Acme")
    second = dataclasses.replace(world, entry_id=second_entry, approval_id=second_approval)
    assert _decline(second, rt, key="d2") == "rejected"
    third_entry, third_approval = add_approval(world, "Euro invoices, please")
    expired = expire_approvals(rt, [third_approval], now=utcnow() + timedelta(days=8))
    assert expired == [third_approval]
    with session_scope(sqlite_url) as s:
        notices = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "triage_notice")
                .order_by(OutboxMessage.id)
            )
        )
        # One a day per area: both declines of today share one; the expiry is a later day's.
        assert len(notices) == 2 and {n.channel for n in notices} == {"firehose-billing"}
        assert {e["entry_id"] for e in waiting_entries(s)} == {
            world.entry_id,
            second_entry,
            third_entry,
        }
        assert {e["answer"] for e in waiting_entries(s)} == {"rejected", "expired"}


def test_attach_from_triage_is_idempotent(sqlite_url: str) -> None:
    world = seed_world(sqlite_url)
    rt = _runtime(world)
    assert world.entry_id is not None
    _decline(world, rt)
    assert triage.attach(rt, world.entry_id, None, "web:bob@example.com") == "attached"
    assert triage.attach(rt, world.entry_id, None, "cli") == triage.ALREADY
    assert triage.create(rt, world.entry_id, "cli") == triage.ALREADY
    with session_scope(sqlite_url) as s:
        entry = s.get(Feedback, world.entry_id)
        assert entry is not None
        assert (entry.status, entry.match_type, entry.request_id) == (
            "routed",
            "manual",
            world.request_id,
        )
        assert waiting_entries(s) == []
        confirmations = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "triage_confirmation")
        )
        assert confirmations == 1


def test_create_from_triage_through_the_cli(
    sqlite_url: str, local_embedder: Any, monkeypatch: Any
) -> None:
    world = seed_world(sqlite_url)
    rt = _runtime(world, local_embedder)
    assert world.entry_id is not None
    _decline(world, rt)
    monkeypatch.setenv("GTM_FEEDBACK_DATABASE_URL", sqlite_url)
    listed = CliRunner().invoke(cli, ["triage", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"#{world.entry_id}" in listed.output and "not a match" in listed.output
    before = _requests(sqlite_url)
    assert triage.create(rt, world.entry_id, "cli") == "created"
    assert triage.create(rt, world.entry_id, "cli") == triage.ALREADY
    assert _requests(sqlite_url) == before + 1
    again = CliRunner().invoke(cli, ["triage", "attach", str(world.entry_id)])
    assert again.exit_code == 0 and "already handled" in again.output
    with session_scope(sqlite_url) as s:
        entry = s.get(Feedback, world.entry_id)
        assert entry is not None and entry.match_type == "new_request"
        assert entry.request_id != world.request_id
        created = s.get(Request, entry.request_id)
        # The pain is "Acme cannot get invoices in euros": the title drops the account's name.
        assert created is not None and "acme" not in created.title.lower(), created.title


def test_the_old_behaviour_stays_a_setting(sqlite_url: str, local_embedder: Any) -> None:
    world = seed_world(sqlite_url)
    rt = _runtime(world, local_embedder, decline_to="new_request")
    before = _requests(sqlite_url)
    assert _decline(world, rt) == "rejected"
    assert _requests(sqlite_url) == before + 1
    with session_scope(sqlite_url) as s:
        newest = s.scalars(select(Request).order_by(Request.id.desc()).limit(1)).one()
        assert "acme" not in newest.title.lower(), newest.title
    with session_scope(sqlite_url) as s:
        assert waiting_entries(s) == []
