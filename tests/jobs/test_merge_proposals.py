"""`propose_merges_job`: proposals queued and delivered in one run; a rerun posts nothing new."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from gtm_feedback_dagster.jobs.merge_proposals import propose_merges_job
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from tests.requests.merge_support import seed_pair
from tests.slack.support import ANA_SLACK, add_people
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        monkeypatch.setenv("SLACK_BOT_TOKEN", server.token)
        monkeypatch.setenv("GTM_FEEDBACK_AREA_OWNERS", "billing=ana@example.com")
        yield server
    assert not server.errors


def run(url: str, slack: SlackStandin, areas: list[str]) -> dg.ExecuteInProcessResult:
    return propose_merges_job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "store": StoreResource(database_url=url),
            "slack": SlackResource(
                bot_token=dg.EnvVar("SLACK_BOT_TOKEN"),
                base_url=slack.api_url,
                retry_backoff_seconds=0.001,
            ),
        },
        run_config={"ops": {"queue_merge_proposals_op": {"config": {"areas": areas}}}},
    )


def test_the_job_posts_each_proposal_once(sqlite_url: str, slack: SlackStandin) -> None:
    pair = seed_pair(sqlite_url)
    first = run(sqlite_url, slack, ["billing"])
    assert first.success
    assert first.output_for_node("queue_merge_proposals_op")["proposed"] == 1
    assert first.output_for_node("deliver_outbox_op")["sent"] == 1
    again = run(sqlite_url, slack, [])  # every area, e.g. a re-execution from the UI
    assert again.success
    assert again.output_for_node("queue_merge_proposals_op")["proposed"] == 0
    (dm,) = slack.calls("chat.postMessage")
    assert dm["channel"] == ANA_SLACK
    assert f"merge_proposal:{pair.dup}:{pair.keep}:merge" in str(dm["blocks"])
