"""Message texts of the Slack loop (builders in slack/blocks.py)."""

from __future__ import annotations

import json

import pytest

from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.slack.payloads import request_slug_from


@pytest.mark.parametrize(
    ("arr", "text"),
    [
        (0, "$0"),
        (None, "$0"),
        (950, "$950"),
        (1_000, "$1.0K"),
        (120_000, "$120.0K"),
        (2_450_000, "$2.5M"),
    ],
)
def test_arr_format(arr: float | None, text: str) -> None:
    assert blocks.format_arr(arr) == text


def test_user_text_is_escaped_in_mrkdwn() -> None:
    text, message_blocks = blocks.shipped_message(
        "https://app", "<!channel> & <https://evil|x>", "s"
    )
    rendered = json.dumps(message_blocks, ensure_ascii=False)
    assert "<!channel>" not in rendered and "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil∣x&gt;" in rendered


def test_shipped_texts() -> None:
    assert (
        blocks.shipped_result_text("SSO", 2, 3)
        == "🚀 *SSO* is now marked as shipped. Notified 2 of 3 followers."
    )
    assert blocks.shipped_result_text("SSO", 1, 1).endswith("Notified 1 of 1 follower.")
    assert blocks.already_shipped_text("SSO") == '"SSO" is already marked as shipped.'
    assert blocks.invalid_shipped_url_text("https://app").startswith("Invalid feedback URL")


def test_decision_message_keeps_the_question_and_drops_the_buttons() -> None:
    _, request_blocks = blocks.approval_request_message(
        "https://app", 7, "SSO", "sso", "pain", "high"
    )
    question = blocks.first_section_text(request_blocks)
    text, decided = blocks.approval_decision_message(
        question, blocks.APPROVED_STATUS_TEXT, "fallback"
    )
    assert decided[0]["text"]["text"] == question
    assert all(b["type"] != "actions" for b in decided)
    assert text.startswith("✅ Adding feedback to existing request...")


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("https://feedback.example.com/requests/sso-login", "sso-login"),
        ("<https://feedback.example.com/requests/sso-login?eid=4|SSO>", "sso-login"),
        ("https://feedback.example.com/feedback/sso-login/", "sso-login"),
        ("sso-login", "sso-login"),
        ("https://feedback.example.com/areas/billing", None),
        ("https://feedback.example.com/requests/a/b", None),
        ("javascript:alert(1)", None),
        ("two words", None),
        ("", None),
    ],
)
def test_shipped_argument_parsing(text: str, slug: str | None) -> None:
    assert request_slug_from(text) == slug
