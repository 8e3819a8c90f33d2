"""A Merge click from Slack, end to end: the signed POST is stored once (Slack's redelivery
dropped), `resolve_slack_responses_job` merges, tells the follower and edits the proposal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gtm_feedback_dagster.jobs.resolve_slack_responses import resolve_slack_responses_job
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.requests.merge_proposals import propose_merges
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.slack.routes import build_slack_routes
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, SlackInbox
from tests.requests.merge_support import seed_pair
from tests.slack.support import (
    ANA_SLACK,
    BOB_SLACK,
    SIGNING_SECRET,
    add_people,
    client_for,
    interaction_body,
    outbox,
    settings_for,
    sign,
)
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        monkeypatch.setenv("SLACK_BOT_TOKEN", server.token)
        monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{server.url}/hooks/")
        yield server
    assert not server.errors


def test_a_signed_merge_click_is_stored_once_and_applied(
    sqlite_url: str, slack: SlackStandin
) -> None:
    pair = seed_pair(sqlite_url)
    with session_scope(sqlite_url) as session:
        propose_merges(session, pair.settings)
    deliver_outbox(sqlite_url, client_for(slack))
    (proposal,) = outbox(sqlite_url, kind="merge_proposal")
    (buttons,) = [b for b in proposal.blocks if b["type"] == "actions"]
    merge_button = buttons["elements"][0]
    payload = {
        "type": "block_actions",
        "user": {"id": ANA_SLACK, "username": "ana"},
        "team": {"id": "T0TEAM0001"},
        "container": {
            "type": "message",
            "channel_id": proposal.slack_channel,
            "message_ts": proposal.slack_ts,
        },
        "response_url": slack.response_url("act"),
        "actions": [{**merge_button, "action_ts": "1790000009.000100"}],
    }
    client = TestClient(
        Starlette(
            routes=build_slack_routes(settings_for(sqlite_url), signing_secret=SIGNING_SECRET)
        )
    )
    body = interaction_body(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(2):  # Slack redelivers the same click
        response = client.post(
            "/slack/interactions", content=body, headers={**headers, **sign(body)}
        )
        assert response.status_code == 200
    # A click on a value that is not ours is refused at the door.
    forged = json.loads(json.dumps(payload))
    forged["actions"][0]["value"] = "merge_proposal:1:1:merge"
    forged_body = interaction_body(forged)
    response = client.post(
        "/slack/interactions", content=forged_body, headers={**headers, **sign(forged_body)}
    )
    assert response.status_code == 400
    with session_scope(sqlite_url) as session:
        rows = list(session.scalars(select(SlackInbox)))
    assert len(rows) == 1 and rows[0].payload["merge_proposal"] is True

    result = resolve_slack_responses_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "store": StoreResource(database_url=sqlite_url),
            "slack": SlackResource(
                bot_token=dg.EnvVar("SLACK_BOT_TOKEN"),
                base_url=slack.api_url,
                retry_backoff_seconds=0.001,
            ),
            "embedder": EmbedderResource(),
            "vector_index": VectorIndexResource(),
            "llm": LLMResource(),
        },
        run_config={"ops": {"resolve_slack_responses_op": {"config": {"inbox_ids": [rows[0].id]}}}},
    )
    assert result.success
    assert result.output_for_node("resolve_slack_responses_op")["outcomes"] == {"merged": 1}
    assert result.output_for_node("deliver_outbox_op")["sent"] == 2  # follower notice + edit
    with session_scope(sqlite_url) as session:
        assert session.get(Request, pair.dup).status == "merged"  # type: ignore[union-attr]
    (notice,) = [c for c in slack.calls("chat.postMessage") if "was merged into" in c["text"]]
    assert notice["channel"] == BOB_SLACK
    (update,) = slack.calls("chat.update")
    assert "Merged #" in str(update["blocks"])
