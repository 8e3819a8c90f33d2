"""Answers to merge proposals (`requests/merge_proposals.py`): a Merge or Keep both click,
handed over by the Slack inbox dispatch.

A click is accepted from the DM's recipient only (matched by cached Slack id, else by email
through `users.info`, as approvals are); a proposal posted in a firehose channel (no owner
configured) may be answered by anyone there, as the web triage page may be used by any signed-in
user. The button must name a pair we proposed, in the direction proposed. Merge calls
`merge.merge_requests` (entries, followers and ARR kept; followers told once), Keep both
`lifecycle.keep_both`. Each answer runs in one transaction that locks both requests, re-checks
the pair, acts, queues the in-place edit of the DM (buttons replaced by what was done and by
whom) and closes the inbox row, so a double click, a retry or a late click changes nothing
twice and is told what was done.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.feedback.capture import cache_slack_id
from gtm_feedback_dagster.messaging import merge_blocks
from gtm_feedback_dagster.messaging.outbox import QUEUED, cancel_queued, enqueue
from gtm_feedback_dagster.messaging.replies import Done, InboxError, queue_reply, slack_reply
from gtm_feedback_dagster.requests.lifecycle import keep_both
from gtm_feedback_dagster.requests.merge import merge_requests, remove_from_serving_index
from gtm_feedback_dagster.requests.merge_proposals import (
    PROPOSAL_KIND,
    UPDATE_KIND,
    proposal_key,
    settled,
    update_key,
)
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store.schema import OutboxMessage, Request, User

log = logging.getLogger(__name__)


def _check_recipient(
    rt: Runtime, proposal: OutboxMessage, payload: dict[str, Any]
) -> tuple[int | None, str | None]:
    """A DM'd proposal may be answered by its recipient only. Returns (user id, Slack id to
    cache on them)."""
    if proposal.user_id is None:
        return None, None  # posted in a channel: anyone there may answer
    clicker = payload.get("user_id")
    refuse = InboxError(
        f"Slack user {clicker} is not the recipient of merge proposal {proposal.dedupe_key}",
        reply=slack_reply(payload, merge_blocks.NOT_PROPOSAL_OWNER_TEXT),
    )
    with rt.session() as session:
        owner = session.get(User, proposal.user_id)
        slack_id, email = (owner.slack_user_id, owner.email) if owner else (None, None)
    if not clicker:
        raise refuse
    if slack_id:
        if slack_id != clicker:
            raise refuse
        return proposal.user_id, None
    if rt.slack is None or not email:
        raise refuse
    profile = rt.slack.user_profile(clicker)
    if profile.email is None or profile.email != email.lower():
        raise refuse
    return proposal.user_id, clicker


def _lock_pair(session: Session, a: int, b: int) -> None:
    """Row locks on PostgreSQL (merge_requests takes the same, in the same order), so a Merge
    and a Keep both answered at once serialise and the second sees the first's result."""
    for request_id in sorted((a, b)):
        session.execute(select(Request.id).where(Request.id == request_id).with_for_update())
    for request_id in (a, b):
        request = session.get(Request, request_id)
        if request is not None:
            session.refresh(request)


def _queue_update(
    session: Session,
    proposal: OutboxMessage,
    status_line: str,
    channel: str | None,
    message_ts: str | None,
    fallback: str,
) -> None:
    """Edits the proposal DM in place: its sections plus the outcome, buttons removed. A
    proposal still waiting in the outbox is cancelled instead (its buttons would be stale)."""
    if proposal.status == QUEUED and cancel_queued(
        session,
        OutboxMessage.id == proposal.id,
        "superseded: the proposal was answered before this message was delivered",
    ):
        return
    channel = channel or proposal.slack_channel
    message_ts = message_ts or proposal.slack_ts
    if not (channel and message_ts):
        return  # the DM never reached Slack: nothing to edit
    low, high = (int(x) for x in proposal.dedupe_key.split(":")[1:])
    text, message_blocks = merge_blocks.merge_proposal_decision_message(
        proposal.blocks, status_line, fallback
    )
    enqueue(
        session,
        UPDATE_KIND,
        update_key(low, high),
        text,
        channel=channel,
        target_ts=message_ts,
        blocks=message_blocks,
        request_id=proposal.request_id,
    )


def decide(rt: Runtime, inbox_id: int, payload: dict[str, Any], now: datetime, done: Done) -> str:
    """A Merge / Keep both answer on a merge proposal (see the module docstring)."""
    try:
        duplicate_id = int(payload["duplicate_id"])
        target_id = int(payload["target_id"])
    except (KeyError, TypeError, ValueError):
        raise InboxError("merge proposal payload without its two requests") from None
    decision = payload.get("decision")
    if decision not in merge_blocks.MERGE_DECISIONS:
        raise InboxError(f"unknown merge proposal decision {str(decision)[:20]!r}")
    key = proposal_key(duplicate_id, target_id)
    with rt.session() as session:
        proposal = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
        if proposal is not None:
            session.expunge(proposal)
    # The button must name a pair we proposed, in the direction we proposed it (the proposal
    # row's request is the duplicate): a forged or stale value changes nothing.
    if proposal is None or proposal.kind != PROPOSAL_KIND or proposal.request_id != duplicate_id:
        raise InboxError(
            f"no merge proposal of #{duplicate_id} into #{target_id}",
            reply=slack_reply(payload, merge_blocks.MERGE_PROPOSAL_FAILED_TEXT),
        )
    owner_id, slack_id_to_cache = (None, None)
    if payload.get("source") == "slack":
        owner_id, slack_id_to_cache = _check_recipient(rt, proposal, payload)
    actor = payload.get("user_id") or payload.get("actor") or payload.get("source")
    channel, message_ts = payload.get("channel_id"), payload.get("message_ts")
    fallback = f"Merge request #{duplicate_id} into #{target_id}?"
    merged = None
    with rt.session() as session:
        _lock_pair(session, duplicate_id, target_id)
        cache_slack_id(session, owner_id, slack_id_to_cache)
        outcome_before = settled(session, duplicate_id, target_id)
        if outcome_before is not None:
            reply = slack_reply(payload, merge_blocks.merge_proposal_handled_text(outcome_before))
            if reply is not None:
                queue_reply(session, f"inbox-reply:{inbox_id}", reply)
            _queue_update(session, proposal, f"☑️ {outcome_before}", channel, message_ts, fallback)
            done(session)
            return "already_handled"
        if decision == "merge":
            merged = merge_requests(session, duplicate_id, target_id, rt.settings.app_url)
            line = merge_blocks.merged_status_text(
                duplicate_id, target_id, actor, merged.moved_entries, merged.notified
            )
            outcome = "merged"
        else:
            keep_both(session, duplicate_id, target_id)
            line = merge_blocks.kept_both_status_text(duplicate_id, target_id, actor)
            outcome = "kept_both"
        _queue_update(session, proposal, line, channel, message_ts, fallback)
        done(session)
    if merged is not None:
        # After the commit, as the web page and the CLI do.
        warning = remove_from_serving_index(rt.settings, merged.duplicate_id)
        if warning:
            log.warning("%s", warning)
    log.info("merge proposal %s: %s by %s at %s", key, outcome, actor, now.isoformat())
    return outcome
