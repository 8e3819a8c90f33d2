"""The Slack messages routing queues: wording, links, buttons, escaping."""

from __future__ import annotations

import json

import pytest

from gtm_feedback_dagster.messaging import blocks

APP = "https://feedback.example.com/"


def _all_text(message_blocks: list[dict]) -> str:
    return json.dumps(message_blocks, ensure_ascii=False)


def test_confirmation_after_auto_attach() -> None:
    text, message_blocks = blocks.confirmation_message(
        APP, "Export dashboards to PDF", "export-dashboards-to-pdf", "They need PDFs", "high"
    )
    url = "https://feedback.example.com/requests/export-dashboards-to-pdf"
    assert "we found this request, your feedback was added automatically" in text.lower()
    assert url in text
    rendered = _all_text(message_blocks)
    assert f"<{url}|Export dashboards to PDF>" in rendered
    assert "View feature request" in rendered
    assert "🚨 Dealbreaker" in rendered  # severity label and emoji of the entry


def test_approval_request_asks_and_has_two_buttons() -> None:
    text, message_blocks = blocks.approval_request_message(
        APP, 42, "IP allowlisting", "ip-allowlisting", "Block logins from outside", "medium"
    )
    question = "Would you like to add your feedback to this existing feature request?"
    assert question in text and question in _all_text(message_blocks)
    assert "found a match" not in (text + _all_text(message_blocks)).lower()
    assert "<https://feedback.example.com/requests/ip-allowlisting|IP allowlisting>" in (
        _all_text(message_blocks)
    )
    (actions,) = [b for b in message_blocks if b["type"] == "actions"]
    approve, decline = actions["elements"]
    assert approve["action_id"] == "feedback_match_approval_approve"
    assert decline["action_id"] == "feedback_match_approval_decline"
    assert approve["text"]["text"] == "Approve" and decline["text"]["text"] == "Not a match"
    assert blocks.parse_approval_action_value(approve["value"]) == (42, "approve")
    assert blocks.parse_approval_action_value(decline["value"]) == (42, "decline")


def test_new_request_created_dm() -> None:
    text, message_blocks = blocks.new_request_created_message(
        APP, "Offline mobile app", "offline-mobile-app", "Reps need offline", "low"
    )
    assert "new feature request was created" in text
    assert "https://feedback.example.com/requests/offline-mobile-app" in text
    assert "👌 Nice to have" in _all_text(message_blocks)


def test_user_text_is_escaped_and_cannot_break_links() -> None:
    _, message_blocks = blocks.approval_request_message(
        APP, 1, "A|B <script>", "a-b", "<!channel> & friends", "low"
    )
    rendered = _all_text(message_blocks)
    assert "<!channel>" not in rendered and "&lt;!channel&gt; &amp; friends" in rendered
    assert "|A∣B &lt;script&gt;>" in rendered


@pytest.mark.parametrize(
    "value",
    ["feedback_match_approval:x:approve", "other:1:approve", "feedback_match_approval:1:maybe"],
)
def test_foreign_button_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        blocks.parse_approval_action_value(value)


def test_approval_request_can_list_other_close_requests() -> None:
    text, message_blocks = blocks.approval_request_message(
        APP,
        7,
        "IP allowlisting",
        "ip-allowlisting",
        "Block logins from outside",
        None,
        other_candidates=[
            ("SSO only", "sso-only"),
            ("Session limits", "session-limits"),
            ("X", "x"),
        ],
    )
    rendered = _all_text(message_blocks)
    assert "<https://feedback.example.com/requests/sso-only|SSO only>" in rendered
    assert "session-limits" in rendered and "/requests/x|" not in rendered  # at most two
    assert "other close requests: SSO only" in text
    (actions,) = [b for b in message_blocks if b["type"] == "actions"]
    assert [blocks.parse_approval_action_value(b["value"]) for b in actions["elements"]] == [
        (7, "approve"),
        (7, "decline"),
    ]
