"""Slack payloads -> the small, validated shapes stored in the inbox.

Everything in a payload is untrusted, even after the signature check (a signed payload can still
carry a user's arbitrary text): ids must look like Slack ids, texts are bounded, and only the
fields the app uses are kept. The CLI writes the same shapes (`approval_action` with
source "cli"), so one processor serves both.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from gtm_feedback_dagster.core.validation import (
    ValidationError,
    clean_text,
    parse_links,
    parse_severity,
)
from gtm_feedback_dagster.messaging import blocks, merge_blocks, modal
from gtm_feedback_dagster.messaging.slack_client import allowed_response_url

USER_ID = re.compile(r"^[UWB][A-Z0-9]{2,30}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,30}$")
MESSAGE_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
EVENT_ID = re.compile(r"^Ev[A-Za-z0-9]{2,60}$")
VIEW_ID = re.compile(r"^V[A-Z0-9]{2,40}$")
TRIGGER_ID = re.compile(r"^[A-Za-z0-9._\-]{3,200}$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_NAME_CHARS = 200
MAX_REF_CHARS = 200
SHIPPED_COMMANDS = ("/shipped",)


class PayloadError(ValueError):
    """A payload that does not have the shape Slack sends (answered with HTTP 400)."""


def _id(value: Any, pattern: re.Pattern[str], what: str, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise PayloadError(f"missing {what}")
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise PayloadError(f"malformed {what}")
    return value


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:limit]


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return value


# ---------------------------------------------------------------------------- events


def reaction_event(payload: dict[str, Any], emoji: str) -> dict[str, Any] | None:
    """A `reaction_added` of our emoji on a message, or None for any other event."""
    event = _dict(payload.get("event"), "event")
    if event.get("type") != "reaction_added" or event.get("reaction") != emoji:
        return None
    item = _dict(event.get("item"), "event.item")
    if item.get("type") != "message":
        return None
    return {
        "type": "reaction_added",
        "event_id": _id(payload.get("event_id"), EVENT_ID, "event_id"),
        "team_id": _id(payload.get("team_id"), TEAM_ID, "team_id", required=False),
        "user_id": _id(event.get("user"), USER_ID, "event.user"),
        "reaction": emoji,
        "channel_id": _id(item.get("channel"), CHANNEL_ID, "event.item.channel"),
        "message_ts": _id(item.get("ts"), MESSAGE_TS, "event.item.ts"),
        "event_ts": _id(event.get("event_ts"), MESSAGE_TS, "event.event_ts", required=False),
    }


# ---------------------------------------------------------------------------- interactions


def approval_action(
    approval_id: int,
    decision: str,
    *,
    source: str,
    user_id: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
    actor: str | None = None,
    action_ts: str | None = None,
) -> dict[str, Any]:
    """The stored shape of an Approve / Not a match click (source "slack") or of
    `gtm-feedback approvals approve|reject` (source "cli")."""
    if decision not in ("approve", "decline"):
        raise ValueError(f"decision must be approve or decline, got {decision!r}")
    return {
        "type": "block_actions",
        "source": source,
        "action_id": blocks.APPROVAL_APPROVE_ACTION_ID
        if decision == "approve"
        else blocks.APPROVAL_DECLINE_ACTION_ID,
        "value": blocks.approval_action_value(approval_id, decision),
        "approval_id": approval_id,
        "decision": decision,
        "user_id": user_id,
        "channel_id": channel_id,
        "message_ts": message_ts,
        "response_url": response_url,
        "actor": actor,
        "action_ts": action_ts,
    }


def merge_proposal_action(
    duplicate_id: int,
    target_id: int,
    decision: str,
    *,
    source: str,
    user_id: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
    actor: str | None = None,
    action_ts: str | None = None,
) -> dict[str, Any]:
    """The stored shape of a Merge / Keep both click on a merge proposal."""
    return {
        "type": "block_actions",
        "source": source,
        "action_id": merge_blocks.MERGE_PROPOSAL_MERGE_ACTION_ID
        if decision == "merge"
        else merge_blocks.MERGE_PROPOSAL_KEEP_ACTION_ID,
        "value": merge_blocks.merge_proposal_action_value(duplicate_id, target_id, decision),
        "merge_proposal": True,
        "duplicate_id": duplicate_id,
        "target_id": target_id,
        "decision": decision,
        "user_id": user_id,
        "channel_id": channel_id,
        "message_ts": message_ts,
        "response_url": response_url,
        "actor": actor,
        "action_ts": action_ts,
    }


def _click_context(payload: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    """Who clicked, on which message, and where to answer: the fields every click keeps."""
    user = _dict(payload.get("user"), "user")
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    response_url = payload.get("response_url")
    return {
        "user_id": _id(user.get("id"), USER_ID, "user.id"),
        "channel_id": _id(
            container.get("channel_id") or channel.get("id"), CHANNEL_ID, "channel", False
        ),
        "message_ts": _id(
            container.get("message_ts") or message.get("ts"), MESSAGE_TS, "message ts", False
        ),
        "response_url": response_url if allowed_response_url(response_url) else None,
        "action_ts": _id(action.get("action_ts"), MESSAGE_TS, "action_ts", required=False),
    }


def block_action(payload: dict[str, Any]) -> dict[str, Any] | None:
    """An approval or merge proposal button click, or None for other actions (e.g. link
    buttons)."""
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadError("block_actions without actions")
    action = _dict(actions[0], "actions[0]")
    if action.get("action_id") in (
        merge_blocks.MERGE_PROPOSAL_MERGE_ACTION_ID,
        merge_blocks.MERGE_PROPOSAL_KEEP_ACTION_ID,
    ):
        try:
            duplicate_id, target_id, decision = merge_blocks.parse_merge_proposal_action_value(
                str(action.get("value") or "")
            )
        except ValueError as exc:
            raise PayloadError(str(exc)) from None
        return merge_proposal_action(
            duplicate_id, target_id, decision, source="slack", **_click_context(payload, action)
        )
    if action.get("action_id") not in (
        blocks.APPROVAL_APPROVE_ACTION_ID,
        blocks.APPROVAL_DECLINE_ACTION_ID,
    ):
        return None
    try:
        approval_id, decision = blocks.parse_approval_action_value(str(action.get("value") or ""))
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    return approval_action(approval_id, decision, source="slack", **_click_context(payload, action))


def _state_value(values: dict[str, Any], block_id: str, action_id: str) -> Any:
    block = values.get(block_id)
    if not isinstance(block, dict):
        return None
    element = block.get(action_id)
    if not isinstance(element, dict):
        return None
    if element.get("type") == "static_select":
        selected = element.get("selected_option")
        return selected.get("value") if isinstance(selected, dict) else None
    return element.get("value")


def view_submission(
    payload: dict[str, Any], max_chars: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """The Add Feedback modal's values and the per-block errors Slack shows in the modal
    (empty when valid). Account existence is checked by the caller (it needs the database)."""
    view = _dict(payload.get("view"), "view")
    user = _dict(payload.get("user"), "user")
    state = view.get("state") if isinstance(view.get("state"), dict) else {}
    values = state.get("values") if isinstance(state.get("values"), dict) else {}
    errors: dict[str, str] = {}

    severity = None
    try:
        severity = parse_severity(
            _state_value(values, modal.SEVERITY_BLOCK_ID, modal.SEVERITY_ACTION_ID)
        )
    except ValidationError as exc:
        errors[modal.SEVERITY_BLOCK_ID] = "; ".join(exc.problems)
    pain = ""
    try:
        pain = clean_text(
            _state_value(values, modal.PAIN_BLOCK_ID, modal.PAIN_ACTION_ID),
            max_chars,
            what="customer pain",
        )
    except ValidationError as exc:
        errors[modal.PAIN_BLOCK_ID] = "; ".join(exc.problems)
    account = _text(_state_value(values, modal.ACCOUNT_BLOCK_ID, modal.ACCOUNT_ACTION_ID), 300)
    if not account:
        errors[modal.ACCOUNT_BLOCK_ID] = "account is required"
    elif len(account) > MAX_REF_CHARS:
        errors[modal.ACCOUNT_BLOCK_ID] = f"at most {MAX_REF_CHARS} characters"
    opportunity = _text(
        _state_value(values, modal.OPPORTUNITY_BLOCK_ID, modal.OPPORTUNITY_ACTION_ID), 300
    )
    if len(opportunity) > MAX_REF_CHARS:
        errors[modal.OPPORTUNITY_BLOCK_ID] = f"at most {MAX_REF_CHARS} characters"
    links: list[str] = []
    raw_links = _state_value(values, modal.LINKS_BLOCK_ID, modal.LINKS_ACTION_ID)
    try:
        links = parse_links(raw_links if isinstance(raw_links, str) else None)
    except ValidationError as exc:
        errors[modal.LINKS_BLOCK_ID] = "; ".join(exc.problems)
    normalized = {
        "type": "view_submission",
        "view_id": _id(view.get("id"), VIEW_ID, "view.id"),
        "user_id": _id(user.get("id"), USER_ID, "user.id"),
        "user_name": _text(user.get("name") or user.get("username"), MAX_NAME_CHARS),
        "team_id": _id(
            (payload.get("team") or {}).get("id")
            if isinstance(payload.get("team"), dict)
            else None,
            TEAM_ID,
            "team.id",
            required=False,
        ),
        "severity": severity,
        "account": account,
        "opportunity": opportunity or None,
        "customer_pain": pain,
        "links": links,
    }
    return normalized, errors


def shortcut(payload: dict[str, Any]) -> dict[str, Any] | None:
    if payload.get("callback_id") != modal.FEEDBACK_SHORTCUT_CALLBACK_ID:
        return None
    user = _dict(payload.get("user"), "user")
    return {
        "type": "shortcut",
        "callback_id": modal.FEEDBACK_SHORTCUT_CALLBACK_ID,
        "trigger_id": _id(payload.get("trigger_id"), TRIGGER_ID, "trigger_id"),
        "user_id": _id(user.get("id"), USER_ID, "user.id"),
    }


# ---------------------------------------------------------------------------- commands


def request_slug_from(text: str) -> str | None:
    """`/shipped` argument -> request slug: a `/requests/<slug>` (or legacy `/feedback/<slug>`)
    URL, optionally in Slack's `<url|label>` form, or a bare slug. None when it is neither."""
    text = (text or "").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].split("|", 1)[0]
    if not text or len(text) > 1000 or any(c.isspace() for c in text):
        return None
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https"):
            return None
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) != 2 or segments[0] not in ("requests", "feedback"):
            return None
        text = segments[1]
    slug = text.lower()
    return slug if len(slug) <= 220 and SLUG.match(slug) else None


def shipped_command(form: dict[str, str]) -> dict[str, Any]:
    command = _text(form.get("command"), 40)
    if command not in SHIPPED_COMMANDS:
        raise PayloadError(f"unknown command {command[:40]!r}")
    response_url = form.get("response_url")
    text = _text(form.get("text"), 1000)
    return {
        "type": "command",
        "command": command,
        "text": text,
        "slug": request_slug_from(text),
        "user_id": _id(form.get("user_id"), USER_ID, "user_id"),
        "channel_id": _id(form.get("channel_id"), CHANNEL_ID, "channel_id", required=False),
        "team_id": _id(form.get("team_id"), TEAM_ID, "team_id", required=False),
        "trigger_id": _id(form.get("trigger_id"), TRIGGER_ID, "trigger_id"),
        "response_url": response_url if allowed_response_url(response_url) else None,
    }
