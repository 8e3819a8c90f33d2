"""Slack messages of merge proposals (Block Kit): a likely-duplicate pair put to its area's
product owner with Merge / Keep both buttons (`requests/merge_proposals.py`), and the edit that
replaces the buttons with what was done. Escaping and cutting as in `messaging.blocks`: every
title goes through `link` / `plain_title`, every builder returns `(text, blocks)`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.messaging.blocks import (
    Blocks,
    _context,
    _fallback,
    _section,
    request_url,
)
from gtm_feedback_dagster.messaging.mrkdwn import escape_mrkdwn, link, plain_title, shorten

MERGE_PROPOSAL_MERGE_ACTION_ID = "merge_proposal_merge"
MERGE_PROPOSAL_KEEP_ACTION_ID = "merge_proposal_keep_both"
MERGE_PROPOSAL_VALUE_PREFIX = "merge_proposal"
MERGE_DECISIONS = ("merge", "keep")

NOT_PROPOSAL_OWNER_TEXT = (
    "Only the product owner this proposal was sent to can merge these requests or keep both."
)
MERGE_PROPOSAL_FAILED_TEXT = "❌ Failed to process this merge proposal. Please try again."


@dataclass(frozen=True)
class ProposedRequest:
    """One side of a merge proposal, with its demand (distinct accounts, their ARR)."""

    id: int
    title: str
    slug: str
    entries: int
    accounts: int
    arr: float


def merge_proposal_action_value(duplicate_id: int, target_id: int, decision: str) -> str:
    """The button value: merge `duplicate_id` into `target_id`, or keep both."""
    if decision not in MERGE_DECISIONS:
        raise ValueError(f"decision must be merge or keep, got {decision!r}")
    return f"{MERGE_PROPOSAL_VALUE_PREFIX}:{duplicate_id}:{target_id}:{decision}"


def parse_merge_proposal_action_value(value: str) -> tuple[int, int, str]:
    """Inverse of `merge_proposal_action_value`; raises ValueError on anything else."""
    parts = value.split(":")
    if (
        len(parts) != 4
        or parts[0] != MERGE_PROPOSAL_VALUE_PREFIX
        or not (parts[1].isdigit() and parts[2].isdigit())
        or len(parts[1]) > 12
        or len(parts[2]) > 12
    ):
        raise ValueError(f"not a merge proposal button value: {value[:80]!r}")
    if parts[3] not in MERGE_DECISIONS:
        raise ValueError(f"unknown merge proposal decision {parts[3][:20]!r}")
    if parts[1] == parts[2]:
        raise ValueError("a merge proposal needs two different requests")
    return int(parts[1]), int(parts[2]), parts[3]


def _demand_line(request: ProposedRequest) -> str:
    entries = f"{request.entries} entr{'y' if request.entries == 1 else 'ies'}"
    accounts = f"{request.accounts} account{'' if request.accounts == 1 else 's'}"
    return f"{entries} · {accounts} · {format_arr(request.arr)} ARR"


def merge_proposal_message(
    app_url: str,
    area_name: str,
    duplicate: ProposedRequest,
    target: ProposedRequest,
    similarity: float,
    basis: str,
) -> tuple[str, Blocks]:
    """DM to an area's product owner: two requests look like the same need. Merge moves the
    duplicate's entries and followers into the target (followers are told once); Keep both
    records that they are different, and the pair is never proposed again."""
    dup_url = request_url(app_url, duplicate.slug)
    target_url = request_url(app_url, target.slug)
    headline = (
        f"🔁 Two requests in *{plain_title(area_name)}* look like the same need "
        f"({escape_mrkdwn(basis)}, similarity {similarity:.2f}). Merge them, or keep both?"
    )
    text = _fallback(
        f"Likely duplicate requests in {plain_title(area_name)}: "
        f"{plain_title(duplicate.title)} ({dup_url}) and {plain_title(target.title)} "
        f"({target_url}). Merge or keep both?"
    )
    blocks: Blocks = [
        _section(headline),
        _section(
            f"*Merge* #{duplicate.id} *{link(dup_url, duplicate.title)}*\n{_demand_line(duplicate)}"
        ),
        _section(f"*into* #{target.id} *{link(target_url, target.title)}*\n{_demand_line(target)}"),
        _context(
            "ARR counts each account once per request. Merging moves every entry and follower "
            "into the second request; followers are told once."
        ),
        {
            "type": "actions",
            "block_id": f"merge_proposal_{duplicate.id}_{target.id}",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Merge"},
                    "action_id": MERGE_PROPOSAL_MERGE_ACTION_ID,
                    "value": merge_proposal_action_value(duplicate.id, target.id, "merge"),
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Merge these requests?"},
                        "text": {
                            "type": "plain_text",
                            "text": (
                                f"#{duplicate.id} is marked merged; its entries and followers "
                                f"move to #{target.id}. This cannot be undone."
                            ),
                        },
                        "confirm": {"type": "plain_text", "text": "Merge"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Keep both"},
                    "action_id": MERGE_PROPOSAL_KEEP_ACTION_ID,
                    "value": merge_proposal_action_value(duplicate.id, target.id, "keep"),
                },
            ],
        },
    ]
    return text, blocks


def slack_actor(actor: str | None) -> str:
    """Who acted, for a status line: a Slack mention for a Slack user id (checked by the
    payload parser), else the escaped actor text."""
    if actor and re.fullmatch(r"[UW][A-Z0-9]{2,30}", actor):
        return f"<@{actor}>"
    return escape_mrkdwn(shorten(actor or "someone", 100))


def merged_status_text(
    duplicate_id: int, target_id: int, actor: str | None, moved_entries: int, notified: int
) -> str:
    return (
        f"✅ Merged #{duplicate_id} into #{target_id} by {slack_actor(actor)}: "
        f"{moved_entries} entr{'y' if moved_entries == 1 else 'ies'} moved, "
        f"{notified} follower{'' if notified == 1 else 's'} told."
    )


def kept_both_status_text(duplicate_id: int, target_id: int, actor: str | None) -> str:
    return (
        f"↔️ Kept #{duplicate_id} and #{target_id} as separate requests by {slack_actor(actor)}; "
        "this pair will not be proposed again."
    )


def merge_proposal_handled_text(outcome: str) -> str:
    """The ephemeral answer to a click on a proposal already settled (a double click, or a
    decision taken on the web page or the CLI)."""
    return f"This merge proposal was already handled: {outcome}"


def merge_proposal_decision_message(
    original_blocks: Blocks | None, status_line: str, fallback: str
) -> tuple[str, Blocks]:
    """The proposal DM after the decision: its sections (our own mrkdwn, taken from the queued
    message) plus the outcome, buttons gone."""
    sections = [b for b in original_blocks or [] if b.get("type") == "section"]
    body = sections or [_section(escape_mrkdwn(fallback))]
    text = _fallback(f"{status_line} {escape_mrkdwn(fallback)}")
    return text, [*body, _context(status_line)]
