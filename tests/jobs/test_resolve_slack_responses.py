"""`resolve_slack_responses_job`: inbox rows in, effects applied once, messages delivered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from dagster._serdes import serialize_value
from sqlalchemy import select, update

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.jobs.resolve_slack_responses import resolve_slack_responses_job
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.slack import inbox, payloads
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, SlackInbox
from tests.slack.support import ANA_SLACK, add_approval, add_people, outbox, seed_world
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        monkeypatch.setenv("SLACK_BOT_TOKEN", server.token)
        yield server
    assert not server.errors


def resources(url: str, slack: SlackStandin) -> dict[str, object]:
    return {
        "store": StoreResource(database_url=url),
        "slack": SlackResource(
            bot_token=dg.EnvVar("SLACK_BOT_TOKEN"),
            base_url=slack.api_url,
            retry_backoff_seconds=0.001,
        ),
        "embedder": EmbedderResource(),
        "vector_index": VectorIndexResource(),
        "llm": LLMResource(),
    }


def run(
    url: str, slack: SlackStandin, inbox_ids: list[int], instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    return resolve_slack_responses_job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        resources=resources(url, slack),
        run_config={"ops": {"resolve_slack_responses_op": {"config": {"inbox_ids": inbox_ids}}}},
    )


def test_approve_click_is_applied_and_the_dm_updated_in_one_run(
    db_url: str, slack: SlackStandin
) -> None:
    world = seed_world(db_url)
    assert world.approval_id is not None and world.entry_id is not None
    # The approval DM went out earlier (routing's final op); the click refers to it.
    from gtm_feedback_dagster.messaging.delivery import deliver_outbox
    from tests.slack.support import client_for

    deliver_outbox(db_url, client_for(slack))
    with session_scope(db_url) as session:
        row = inbox.store_inbox(
            session,
            "interaction",
            "click",
            payloads.approval_action(
                world.approval_id,
                "approve",
                source="slack",
                user_id=ANA_SLACK,
                channel_id="D0ANA00001",
                message_ts="1790000000.000001",
            ),
        )
    assert row is not None
    instance = dg.DagsterInstance.ephemeral()
    result = run(db_url, slack, [row], instance)
    assert result.success
    assert result.output_for_node("resolve_slack_responses_op")["outcomes"] == {"approved": 1}
    assert result.output_for_node("deliver_outbox_op")["sent"] == 2  # confirmation + edit
    with session_scope(db_url) as session:
        assert session.get(Approval, world.approval_id).status == "approved"  # type: ignore[union-attr]
        assert session.get(Feedback, world.entry_id).match_type == "approved"  # type: ignore[union-attr]
        assert session.get(SlackInbox, row).processed_at is not None  # type: ignore[union-attr]
    assert len(slack.calls("chat.update")) == 1
    # A rerun of the same run config (e.g. Dagster retry) does nothing more.
    assert run(db_url, slack, [row]).success
    assert len(slack.calls("chat.update")) == 1
    assert len(slack.calls("chat.postMessage")) == 2
    assert slack.token not in serialize_value(instance.all_logs(result.run_id))


def test_cli_decision_with_no_slack_message_yet(sqlite_url: str, slack: SlackStandin) -> None:
    world = seed_world(sqlite_url)
    with session_scope(sqlite_url) as session:
        row = inbox.store_inbox(
            session,
            "cli",
            "cli:approval:1",
            payloads.approval_action(
                world.approval_id or 0, "approve", source="cli", actor="cli:ops"
            ),
        )
    result = run(sqlite_url, slack, [row or 0])
    assert result.success
    statuses = {m.kind: m.status for m in outbox(sqlite_url)}
    assert statuses == {"approval_request": "cancelled", "approval_confirmation": "sent"}
    assert slack.calls("chat.update") == []


@pytest.mark.model
def test_expiries_in_one_run_open_the_vector_index_once(
    sqlite_url: str,
    slack: SlackStandin,
    monkeypatch: pytest.MonkeyPatch,
    local_embedder: LocalEmbedder,
) -> None:
    # Expiries take the new-request path: each one needs the serving index, which the run opens
    # once (reading every stored vector) and keeps current itself.
    monkeypatch.setenv("GTM_FEEDBACK_DECLINE_TO", "new_request")
    world = seed_world(sqlite_url)
    assert world.approval_id is not None
    ids = [world.approval_id]
    for pain in ("Acme wants Swiss franc invoices", "Receipts should show the VAT id"):
        ids.append(add_approval(world, pain)[1])
    with session_scope(sqlite_url) as session:
        session.execute(
            update(Approval)
            .where(Approval.id.in_(ids))
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
    opened: list[str] = []
    open_index = VectorIndexResource.open

    def counting_open(self: VectorIndexResource, session: Any, model_id: str, dim: int) -> Any:
        opened.append(model_id)
        return open_index(self, session, model_id, dim)

    monkeypatch.setattr(VectorIndexResource, "open", counting_open)
    result = resolve_slack_responses_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources=resources(sqlite_url, slack),
        run_config={
            "ops": {"resolve_slack_responses_op": {"config": {"expire_approval_ids": ids}}}
        },
    )
    assert result.success
    assert result.output_for_node("resolve_slack_responses_op")["approvals_expired"] == 3
    assert opened == [local_embedder.model_id]
    with session_scope(sqlite_url) as session:
        statuses = session.scalars(select(Approval.status).where(Approval.id.in_(ids))).all()
        created = session.scalars(
            select(Feedback.match_type).where(
                Feedback.id.in_(select(Approval.feedback_id).where(Approval.id.in_(ids)))
            )
        ).all()
    assert set(statuses) == {"expired"}
    assert created == ["new_request"] * 3
