"""Merge proposal buttons: their values round-trip and nothing else parses; the actor shown in
a status line is a mention only for a real Slack id."""

from __future__ import annotations

import pytest

from gtm_feedback_dagster.messaging import merge_blocks


def test_button_values_round_trip() -> None:
    for decision in ("merge", "keep"):
        value = merge_blocks.merge_proposal_action_value(12, 7, decision)
        assert merge_blocks.parse_merge_proposal_action_value(value) == (12, 7, decision)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "merge_proposal:12:7",
        "merge_proposal:12:7:delete",
        "merge_proposal:12:12:merge",
        "merge_proposal:-1:7:merge",
        "merge_proposal:1e3:7:merge",
        "feedback_match_approval:12:approve",
        "merge_proposal:12:7:merge:extra",
        "merge_proposal:" + "9" * 40 + ":7:merge",
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        merge_blocks.parse_merge_proposal_action_value(value)


def test_the_actor_is_a_mention_only_for_a_slack_id() -> None:
    assert merge_blocks.slack_actor("U0ANA00001") == "<@U0ANA00001>"
    assert merge_blocks.slack_actor("<!channel>") == "&lt;!channel&gt;"
    assert merge_blocks.slack_actor("web:ana@example.com") == "web:ana@example.com"
    assert merge_blocks.slack_actor(None) == "someone"
