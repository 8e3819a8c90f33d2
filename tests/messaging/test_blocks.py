"""Every Block Kit builder checked against Slack's own limits: the output is parsed with
slack-sdk's block models (`Block.parse` + `validate_json`, `View` for the modal) for huge and
hostile customer text, and customer text is literal everywhere — blocks and the `text` fallback
(no `<!channel>`, no link of the customer's, no raw `&`, no bidirectional override)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from gtm_feedback_dagster.messaging import blocks, merge_blocks, modal, mrkdwn

APP = "https://feedback.example.com"
SLUG = "export-dashboards-to-pdf"
HOSTILE = [
    "<script>alert(1)</script>",
    "<!channel> <!here> <@U0ANA00001>",
    "<https://evil.example|click me>",
    "Tom & Jerry &amp; &lt; &#x3c; &",
    "x" * 10_000,
    ("word " * 3000).strip(),
    "&" * 4000,
    "<" * 4000,
    "abc\u202edcba\u2066\u2069 \x00\x07\x1b[31m",
    "| pipe | label",
    "",
    " ",
]

Message = tuple[str, list[dict[str, Any]]]


def builders(title: str, pain: str, name: str) -> list[Message]:
    """Every message builder of blocks.py, fed `title`/`pain`/`name` wherever customer (or
    user) text goes."""
    request = blocks.approval_request_message(
        APP, 7, title, SLUG, pain, "high", [(title, "other-a"), (name, "other-b"), ("c", "c")]
    )
    question = blocks.first_section_text(request[1])
    proposal = merge_blocks.merge_proposal_message(
        APP,
        name,
        merge_blocks.ProposedRequest(12, title, SLUG, 1, 1, 9.9e11),
        merge_blocks.ProposedRequest(7, pain, "other-a", 46, 30, 7.45e6),
        0.8123,
        name,
    )
    return [
        proposal,
        merge_blocks.merge_proposal_decision_message(
            proposal[1], merge_blocks.merged_status_text(12, 7, f"web:{name}", 3, 1), title
        ),
        merge_blocks.merge_proposal_decision_message(
            None, merge_blocks.kept_both_status_text(12, 7, name), pain
        ),
        blocks.confirmation_message(APP, title, SLUG, pain, "high"),
        request,
        blocks.new_request_created_message(APP, title, SLUG, pain, None),
        blocks.approval_decision_message(question, blocks.APPROVED_STATUS_TEXT, pain),
        blocks.approval_decision_message(None, blocks.EXPIRED_STATUS_TEXT, title),
        blocks.reminder_message(APP, title, SLUG),
        blocks.shipped_message(APP, title, SLUG),
        blocks.shipped_firehose_message(APP, title, SLUG, 3, 1.5e12),
        blocks.entry_firehose_message(APP, title, SLUG, 42, pain, "medium", name, 1e9, name),
        blocks.entry_firehose_message(APP, title, SLUG, 42, pain, None, None, None, None),
        blocks.approved_confirmation_message(APP, title, SLUG, pain, "low"),
    ]


def plain_texts(title: str, pain: str) -> list[str]:
    return [
        blocks.shipped_result_text(title, 1, 3),
        blocks.shipped_result_text(title, 0, 0),
        blocks.already_shipped_text(title),
        blocks.invalid_shipped_url_text(APP),
        blocks.feedback_invalid_text(pain),
    ]


_OUR_LINK = re.compile(r"<" + re.escape(APP) + r"/requests/[a-z0-9-]+(\?eid=\d+)?\|[^<>|]*>")
_ENTITY = re.compile(r"&(amp|lt|gt);")


def assert_literal(text: str) -> None:
    """Only our own markup is left: links to our request pages, and the three entities."""
    without_links = _OUR_LINK.sub("", text)
    assert "<" not in without_links and ">" not in without_links, text[:300]
    assert "&" not in _ENTITY.sub("", without_links), text[:300]
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text)


def mrkdwn_texts(message_blocks: list[dict[str, Any]]) -> list[str]:
    texts = []
    for block in message_blocks:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts += [element["text"] for element in block["elements"]]
    return texts


def assert_valid_for_slack(message: Message) -> None:
    text, message_blocks = message
    assert 0 < len(text) <= mrkdwn.TEXT_MAX_CHARS
    assert_literal(text)
    assert 0 < len(message_blocks) <= 50  # Slack's limit per message
    for block in message_blocks:
        parsed = Block.parse(block)
        assert parsed is not None and parsed.to_dict() == block, block  # nothing unknown
        parsed.validate_json()  # raises SlackObjectFormationError past a limit
    for one in mrkdwn_texts(message_blocks):
        assert 0 < len(one) <= 3000  # section and context text objects
        # The quote marker "> " opens a line of ours; the rest must be literal.
        assert_literal(re.sub(r"(^|\n)> ", r"\1", one))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_builder_is_valid_and_literal_with_hostile_text(hostile: str) -> None:
    for message in builders(hostile, hostile, hostile):
        assert_valid_for_slack(message)
    for text in plain_texts(hostile, hostile):
        assert len(text) <= mrkdwn.TEXT_MAX_CHARS
        assert_literal(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(max_size=400) | st.sampled_from(HOSTILE),
    pain=st.text(max_size=4000) | st.sampled_from(HOSTILE),
    name=st.text(max_size=300),
)
def test_every_builder_is_valid_and_literal_for_any_text(title: str, pain: str, name: str) -> None:
    for message in builders(title, pain, name):
        assert_valid_for_slack(message)


def test_the_modal_view_is_valid_for_slack() -> None:
    view = modal.feedback_modal_view()
    View(**view).validate_json()
    for block in view["blocks"]:
        assert Block.parse(block).to_dict() == block  # type: ignore[union-attr]


def test_customer_markup_stays_text_in_the_fallback_too() -> None:
    text, _ = blocks.confirmation_message(APP, "<!channel> & <https://evil|x>", SLUG, "p", None)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;" in text


# -- cutting --------------------------------------------------------------------------------------


def test_a_long_section_is_cut_before_a_link_not_inside_it() -> None:
    url = f"{APP}/requests/{SLUG}"
    text = "a" * 2990 + f"<{url}|Export>" + " tail"
    cut = mrkdwn.truncate_mrkdwn(text)
    assert cut == "a" * 2990 + "…"


def test_a_long_section_is_cut_before_an_entity_not_inside_it() -> None:
    for offset in range(6):
        text = "a" * (2995 + offset) + "&amp; and more"
        cut = mrkdwn.truncate_mrkdwn(text)
        assert len(cut) <= 3000 and cut.endswith("…")
        assert "&" not in cut or cut.endswith("&amp;…")


def test_short_text_is_left_alone() -> None:
    assert mrkdwn.truncate_mrkdwn("<https://x|y> &amp;", 19) == "<https://x|y> &amp;"


_pieces = st.lists(
    st.one_of(
        st.text(alphabet="ab *_\n", min_size=1, max_size=30),
        st.builds(
            lambda label: mrkdwn.link(f"{APP}/requests/{SLUG}", label), st.text(max_size=400)
        ),
        st.text(max_size=40).map(mrkdwn.escape_mrkdwn),
    ),
    max_size=80,
)


@given(pieces=_pieces, limit=st.integers(min_value=1, max_value=3000))
def test_cutting_keeps_markup_whole(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    cut = mrkdwn.truncate_mrkdwn(text, limit)
    assert len(cut) <= limit
    if cut == text:
        return
    assert cut.endswith("…") and text.startswith(cut[:-1])
    head = cut[:-1]
    assert head.count("<") == head.count(">")  # no half link
    assert "&" not in _ENTITY.sub("", head)  # no half entity
