"""Slack message content (Block Kit), in one module.

Every builder returns `(text, blocks)`: `text` is the plain fallback Slack shows in notifications
and to clients without Block Kit, `blocks` the rich layout. Builders only compose content; they
never send anything (messages are queued in the outbox and delivered elsewhere).

Plain Python, no Slack client import, so any job, command or test can build messages. Escaping
and safe cutting of mrkdwn are in `messaging.mrkdwn`; the Add Feedback modal in `messaging.modal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.core.validation import severity_label
from gtm_feedback_dagster.messaging.mrkdwn import (
    EMPTY_TEXT,
    SECTION_MAX_CHARS,
    TEXT_MAX_CHARS,
    escape_mrkdwn,
    link,
    plain_title,
    shorten,
    truncate_mrkdwn,
)

Blocks = list[dict[str, Any]]

# Interactive ids of the medium-confidence approval buttons (names from the reference app).
APPROVAL_APPROVE_ACTION_ID = "feedback_match_approval_approve"
APPROVAL_DECLINE_ACTION_ID = "feedback_match_approval_decline"
APPROVAL_VALUE_PREFIX = "feedback_match_approval"

_QUOTE_MAX_CHARS = 600


# ---------------------------------------------------------------------------- helpers


def request_url(app_url: str, slug: str) -> str:
    return f"{app_url.rstrip('/')}/requests/{slug}"


def _quote(text: str, max_chars: int = _QUOTE_MAX_CHARS) -> str:
    return "> " + escape_mrkdwn(shorten(" ".join(text.split()), max_chars))


def _mrkdwn(text: str, max_chars: int = SECTION_MAX_CHARS) -> str:
    """Slack refuses an empty text object (`invalid_blocks`): a blank one says so instead."""
    return truncate_mrkdwn(text, max_chars) if text.strip() else EMPTY_TEXT


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(text)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(text)}]}


def _fallback(text: str) -> str:
    return _mrkdwn(text, TEXT_MAX_CHARS)


def _feedback_context(customer_pain: str, severity: str | None) -> dict[str, Any]:
    return _context(f"*Your feedback* · {severity_label(severity)}\n{_quote(customer_pain)}")


# ---------------------------------------------------------------------------- routing messages


def confirmation_message(
    app_url: str,
    request_title: str,
    request_slug: str,
    customer_pain: str,
    severity: str | None,
) -> tuple[str, Blocks]:
    """DM after an automatic attach: the request was found and the feedback added to it."""
    url = request_url(app_url, request_slug)
    headline = (
        f"We found this request, your feedback was added automatically: *{link(url, request_title)}*. "
        "You now follow it and will hear when it ships."
    )
    text = _fallback(
        "We found this request, your feedback was added automatically: "
        f"{plain_title(request_title)} ({url})"
    )
    blocks: Blocks = [
        _section(headline),
        _feedback_context(customer_pain, severity),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "View feature request"},
                    "url": url,
                    "action_id": "view_feature_request",
                }
            ],
        },
    ]
    return text, blocks


def approval_action_value(approval_id: int, decision: str) -> str:
    """The button value: which approval, and which answer (approve | decline)."""
    if decision not in ("approve", "decline"):
        raise ValueError(f"decision must be approve or decline, got {decision!r}")
    return f"{APPROVAL_VALUE_PREFIX}:{approval_id}:{decision}"


def parse_approval_action_value(value: str) -> tuple[int, str]:
    """Inverse of `approval_action_value`; raises ValueError on anything else."""
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != APPROVAL_VALUE_PREFIX or not parts[1].isdigit():
        raise ValueError(f"not an approval button value: {value[:80]!r}")
    if parts[2] not in ("approve", "decline"):
        raise ValueError(f"unknown approval decision {parts[2][:20]!r}")
    return int(parts[1]), parts[2]


def approval_request_message(
    app_url: str,
    approval_id: int,
    request_title: str,
    request_slug: str,
    customer_pain: str,
    severity: str | None,
    other_candidates: Sequence[tuple[str, str]] = (),
) -> tuple[str, Blocks]:
    """DM asking the submitter whether their feedback belongs to an existing request, with
    Approve / Not a match buttons. Deliberately not phrased as "found a match": the system is
    unsure, and the submitter decides. `other_candidates` ((title, slug), at most 2 shown) are
    listed as plain links when routing was unsure which request it is; the buttons stay for
    the first one."""
    url = request_url(app_url, request_slug)
    question = (
        "Would you like to add your feedback to this existing feature request? "
        f"*{link(url, request_title)}*"
    )
    text = (
        "Would you like to add your feedback to this existing feature request? "
        f"{plain_title(request_title)} ({url})"
    )
    others = [(t, request_url(app_url, s)) for t, s in list(other_candidates)[:2]]
    blocks: Blocks = [_section(question)]
    if others:
        blocks.append(
            _section(
                "Other close requests: "
                + ", ".join(link(other_url, title) for title, other_url in others)
            )
        )
        text += "; other close requests: " + ", ".join(f"{plain_title(t)} ({u})" for t, u in others)
    text = _fallback(text)
    blocks += [
        _feedback_context(customer_pain, severity),
        {
            "type": "actions",
            "block_id": f"feedback_match_approval_{approval_id}",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "action_id": APPROVAL_APPROVE_ACTION_ID,
                    "value": approval_action_value(approval_id, "approve"),
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Not a match"},
                    "action_id": APPROVAL_DECLINE_ACTION_ID,
                    "value": approval_action_value(approval_id, "decline"),
                },
            ],
        },
    ]
    return text, blocks


def new_request_created_message(
    app_url: str,
    request_title: str,
    request_slug: str,
    customer_pain: str,
    severity: str | None,
) -> tuple[str, Blocks]:
    """DM after routing created a new request from the submitter's feedback."""
    url = request_url(app_url, request_slug)
    headline = (
        f"No existing request covered your feedback, so a new feature request was created: "
        f"*{link(url, request_title)}*. You follow it and will hear when it ships."
    )
    text = _fallback(
        f"A new feature request was created from your feedback: {plain_title(request_title)} "
        f"({url})"
    )
    blocks: Blocks = [
        _section(headline),
        _feedback_context(customer_pain, severity),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "View feature request"},
                    "url": url,
                    "action_id": "view_feature_request",
                }
            ],
        },
    ]
    return text, blocks


# ---------------------------------------------------------------------------- Slack loop
# Decisions on approvals, reactions, reminders, shipped notices and firehose posts (see
# routing/approvals.py, feedback/capture.py, notifications/); the Add Feedback modal is in
# messaging/modal.py.


APPROVED_STATUS_TEXT = "✅ Adding feedback to existing request..."
DECLINED_STATUS_TEXT = "❌ Creating new request..."
EXPIRED_STATUS_TEXT = "⌛ No answer in time — creating a new request..."
DECLINED_TRIAGE_TEXT = "❌ Not a match — the product owner will file it."
EXPIRED_TRIAGE_TEXT = "⌛ No answer in time — the product owner will file it."
REACTION_ACK_TEXT = "Taking a look..."
REACTION_DUPLICATE_TEXT = "This thread is already captured as customer feedback."
SHIPPING_ACK_TEXT = "🚀 Marking this feature request as shipped..."
APPROVAL_FAILED_TEXT = "❌ Failed to process approval. Please try again."
NOT_SUBMITTER_TEXT = "Only the person who submitted this feedback can decide where it goes."
APPROVAL_ALREADY_DECIDED_TEXT = "This feedback was already handled."


def first_section_text(message_blocks: Blocks | None) -> str | None:
    for block in message_blocks or []:
        if block.get("type") == "section":
            text = (block.get("text") or {}).get("text")
            if isinstance(text, str) and text:
                return text
    return None


def approval_decision_message(
    question: str | None, status_line: str, fallback: str
) -> tuple[str, Blocks]:
    """The approval DM after the decision: its question (our own mrkdwn, taken from the queued
    message) plus the outcome, buttons gone."""
    body = question or escape_mrkdwn(fallback)
    text = _fallback(f"{status_line} {escape_mrkdwn(fallback)}")
    return text, [_section(body), _context(status_line)]


def _button_link(url: str, label: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": label},
                "url": url,
                "action_id": action_id,
            }
        ],
    }


def reminder_message(app_url: str, request_title: str, request_slug: str) -> tuple[str, Blocks]:
    """DM to a request's creator when it still has no customer feedback after the delay."""
    url = request_url(app_url, request_slug)
    headline = (
        f"👋 Your feature request *{link(url, request_title)}* has no customer feedback yet. "
        "Add the customers who asked for it (account and severity), so it can be prioritised "
        "by the revenue behind it."
    )
    text = _fallback(
        f"Your feature request {plain_title(request_title)} has no customer feedback yet: "
        f"add the customers who asked for it. {url}"
    )
    return text, [_section(headline), _button_link(url, "Add feedback", "add_feedback_link")]


def shipped_message(app_url: str, request_title: str, request_slug: str) -> tuple[str, Blocks]:
    """DM to each follower of a shipped request."""
    url = request_url(app_url, request_slug)
    headline = (
        f"🎉 *{link(url, request_title)}* has shipped! Thanks for your feedback and your "
        "patience — now is a great time to tell your customers."
    )
    text = _fallback(
        f"🎉 {plain_title(request_title)} has shipped! Thanks for your feedback. {url}"
    )
    return text, [
        _section(headline),
        _button_link(url, "View feature request", "view_feature_request"),
    ]


def shipped_firehose_message(
    app_url: str, request_title: str, request_slug: str, followers: int, arr: float
) -> tuple[str, Blocks]:
    """Post in an area's firehose channel when one of its requests ships."""
    url = request_url(app_url, request_slug)
    people = f"{followers} follower{'s' if followers != 1 else ''}"
    headline = f"🚀 Shipped: *{link(url, request_title)}*"
    details = f"{people} · {format_arr(arr)} ARR asked for it"
    text = _fallback(
        f"🚀 Shipped: {plain_title(request_title)} ({people}, {format_arr(arr)} ARR) {url}"
    )
    return text, [_section(headline), _context(details)]


def entry_firehose_message(
    app_url: str,
    request_title: str,
    request_slug: str,
    entry_id: int,
    customer_pain: str,
    severity: str | None,
    account_name: str | None,
    account_arr: float | None,
    submitter_name: str | None,
) -> tuple[str, Blocks]:
    """Post in an area's firehose channel when a new entry lands on one of its requests."""
    url = f"{request_url(app_url, request_slug)}?eid={entry_id}"
    account = plain_title(account_name or "Unknown account")
    headline = f"📣 New feedback on *{link(url, request_title)}*"
    details = f"{severity_label(severity)} · *{account}* ({format_arr(account_arr)} ARR)"
    if submitter_name:
        details += f" · from {plain_title(submitter_name)}"
    text = _fallback(
        f"New feedback on {plain_title(request_title)}: {severity_label(severity)} from "
        f"{account} {url}"
    )
    return text, [_section(headline), _context(details), _section(_quote(customer_pain))]


def shipped_result_text(request_title: str, notified: int, followers: int) -> str:
    """The final answer to `/shipped`."""
    text = f"🚀 *{plain_title(request_title)}* is now marked as shipped."
    if followers == 0:
        return text + " It has no followers to notify."
    return text + f" Notified {notified} of {followers} follower{'s' if followers != 1 else ''}."


def already_shipped_text(request_title: str) -> str:
    return f'"{plain_title(request_title)}" is already marked as shipped.'


def invalid_shipped_url_text(app_url: str) -> str:
    return (
        "Invalid feedback URL. Use `/shipped &lt;feature request link&gt;`, e.g. "
        f"`/shipped {request_url(app_url, '&lt;slug&gt;')}`."
    )


def feedback_invalid_text(problems: str) -> str:
    return _fallback(
        f"Your feedback could not be filed: {escape_mrkdwn(problems)}. It is kept; please resubmit."
    )


def approved_confirmation_message(
    app_url: str,
    request_title: str,
    request_slug: str,
    customer_pain: str,
    severity: str | None,
) -> tuple[str, Blocks]:
    """DM after the submitter approved a suggested match."""
    url = request_url(app_url, request_slug)
    headline = (
        f"Done: your feedback was added to *{link(url, request_title)}*. "
        "You now follow it and will hear when it ships."
    )
    text = _fallback(f"Your feedback was added to {plain_title(request_title)} ({url})")
    return text, [
        _section(headline),
        _feedback_context(customer_pain, severity),
        _button_link(url, "View feature request", "view_feature_request"),
    ]


def triage_notice_message(app_url: str, area_name: str, waiting: int) -> tuple[str, Blocks]:
    """To an area's product owner: feedback waits in triage (no customer text: a link only)."""
    url = f"{app_url.rstrip('/')}/triage"
    what = f"{waiting} feedback entr{'y waits' if waiting == 1 else 'ies wait'}"
    headline = (
        f"🗂️ {what} for you in *{plain_title(area_name)}*: the submitter said "
        "the suggested request is not a match, or did not answer. Attach each to a request or "
        "create one."
    )
    text = _fallback(f"{what} in triage for {plain_title(area_name)}: {url}")
    return text, [_section(headline), _button_link(url, "Open triage", "open_triage")]
