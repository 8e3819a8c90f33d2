"""Feedback captured from Slack: a `:gtm-feedback:` reaction (the message or its whole thread
becomes a pending entry, source "reaction", one per thread, with an ephemeral "Taking a
look..." in the thread) and the "Add Feedback" modal (a pending entry, source "slack", one per
view, or an invalid one kept with the reason and a DM saying why)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.llm_reports import summarize_thread
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.feedback.submission import RefResolver, prepare_feedback, store_feedback
from gtm_feedback_dagster.feedback.summarize import (
    MAX_SUMMARY_CHARS,
    clean_slack_text,
    extractive_summary,
)
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.messaging.replies import Done, InboxError, Reply
from gtm_feedback_dagster.messaging.slack_client import SlackClient
from gtm_feedback_dagster.messaging.slack_errors import classify_error
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import Account, User, utcnow

log = logging.getLogger(__name__)

UNKNOWN_ACCOUNT_EXTERNAL_ID = "gtm-feedback:unknown-account"
UNKNOWN_ACCOUNT_NAME = "Unknown account"
REACTION_SEVERITY = "medium"
MAX_THREAD_MESSAGES = 200
_IGNORED_SUBTYPES = frozenset({"channel_join", "channel_leave", "channel_topic", "channel_purpose"})


def cache_slack_id(session: Session, user_id: int | None, slack_id: str | None) -> None:
    """Remembers a Slack id on a user that has none (unless another user has it)."""
    if user_id is None or not slack_id:
        return
    taken = session.scalar(select(User.id).where(User.slack_user_id == slack_id))
    user = session.get(User, user_id)
    if user is not None and user.slack_user_id is None and taken is None:
        user.slack_user_id = slack_id


def default_account_id(session: Session, settings: Settings) -> int:
    """The account of reaction-captured feedback (a reaction carries none): the account named
    by GTM_FEEDBACK_DEFAULT_ACCOUNT, else an "Unknown account" (ARR 0) created on demand, so
    the entry counts as demand without inventing revenue; it can be re-assigned later."""
    ref = settings.default_account
    if ref:
        try:
            return repo.resolve_account(session, ref).id
        except repo.NotFoundError:
            log.warning(
                "GTM_FEEDBACK_DEFAULT_ACCOUNT %r is unknown; using %r", ref, UNKNOWN_ACCOUNT_NAME
            )
    repo.insert_ignore(
        session,
        Account,
        {
            "external_id": UNKNOWN_ACCOUNT_EXTERNAL_ID,
            "name": UNKNOWN_ACCOUNT_NAME,
            "arr": 0.0,
            "is_enterprise": False,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        ["external_id"],
    )
    account_id = session.scalar(
        select(Account.id).where(Account.external_id == UNKNOWN_ACCOUNT_EXTERNAL_ID)
    )
    assert account_id is not None
    return int(account_id)


def thread_messages(client: SlackClient, channel: str, ts: str) -> tuple[list[dict[str, Any]], str]:
    """The reacted message's whole thread (or the message alone) and the thread's root ts."""
    try:
        messages = client.replies(channel, ts, MAX_THREAD_MESSAGES)
    except Exception as exc:
        if classify_error(exc).code != "not_in_channel":
            raise
        client.join_channel(channel)  # public channels: channels:join, then read
        messages = client.replies(channel, ts, MAX_THREAD_MESSAGES)
    target = next((m for m in messages if m.get("ts") == ts), messages[0] if messages else None)
    if target is None:
        raise InboxError(f"message {ts} in {channel} was not found")
    root = target.get("thread_ts") if isinstance(target.get("thread_ts"), str) else None
    root = root or ts
    if root != ts and not any(m.get("ts") == root for m in messages):
        # A reply: Slack answers with the reply only; fetch the whole thread from its root.
        messages = client.replies(channel, root, MAX_THREAD_MESSAGES)
    return messages, root


def capture_reaction(rt: Runtime, payload: dict[str, Any], done: Done) -> str:
    """A `:gtm-feedback:` reaction: the message or its whole thread becomes a pending entry."""
    client = rt.slack
    if client is None:
        raise InboxError("SLACK_BOT_TOKEN is not set: cannot read the reacted message")
    channel, ts, user_id = payload["channel_id"], payload["message_ts"], payload["user_id"]
    messages, root = thread_messages(client, channel, ts)
    texts = [
        m["text"]
        for m in messages
        if isinstance(m.get("text"), str) and m.get("subtype") not in _IGNORED_SUBTYPES
    ]
    pain, method = None, "extractive"
    if rt.llm is not None:
        # Cleaned first: Slack markup (user ids, links, emoji codes) is noise to the model.
        pain = summarize_thread(rt.llm, [clean_slack_text(t) for t in texts])
        method = "llm" if pain else method
    if not pain:
        pain = extractive_summary(texts, MAX_SUMMARY_CHARS)
    pain = (pain or "").strip()[: rt.settings.max_text_chars]
    if not pain:
        raise InboxError(
            "the reacted message has no text to take as feedback",
            reply=Reply(
                "There is no text in that message to file as feedback.",
                channel=channel,
                user=user_id,
                thread_ts=root,
            ),
        )
    profile = client.user_profile(user_id)
    if profile.email is None:
        raise InboxError(
            f"Slack user {user_id} has no visible email (the app needs users:read.email)",
            reply=Reply(
                "I could not read your email address, so I cannot file this feedback for you.",
                channel=channel,
                user=user_id,
                thread_ts=root,
            ),
        )
    permalink = client.permalink(channel, root)
    with rt.session() as session:
        user = repo.get_or_create_user(session, profile.email, profile.name, user_id)
        cache_slack_id(session, user.id, user_id)
        entry, created = repo.add_feedback(
            session,
            {
                "source": "reaction",
                "external_id": f"{channel}:{root}",
                "customer_pain": pain,
                "severity": REACTION_SEVERITY,
                "account_id": default_account_id(session, rt.settings),
                "submitter_id": user.id,
                "links": [permalink] if permalink else [],
                "meta": {
                    "slack": {
                        "channel": channel,
                        "message_ts": ts,
                        "thread_ts": root,
                        "reacted_by": user_id,
                        "messages": len(texts),
                    },
                    "summary_method": method,
                },
            },
        )
        if created:
            enqueue(
                session,
                "reaction_ack",
                f"reaction-ack:{channel}:{root}",
                blocks.REACTION_ACK_TEXT,
                channel=channel,
                ephemeral_user=user_id,
                thread_ts=root,
                feedback_id=entry.id,
            )
        else:
            enqueue(
                session,
                "reaction_ack",
                f"reaction-dup:{channel}:{root}:{user_id}",
                blocks.REACTION_DUPLICATE_TEXT,
                channel=channel,
                ephemeral_user=user_id,
                thread_ts=root,
                feedback_id=entry.id,
            )
        done(session)
    return "reaction_captured" if created else "reaction_duplicate"


# ---------------------------------------------------------------------------- modal


def capture_modal(rt: Runtime, payload: dict[str, Any], done: Done) -> str:
    """An Add Feedback modal submission: a pending entry, or an invalid one and a DM why."""
    client = rt.slack
    user_id = payload["user_id"]
    if client is None:
        raise InboxError("SLACK_BOT_TOKEN is not set: cannot resolve the submitting Slack user")
    profile = client.user_profile(user_id)
    if profile.email is None:
        raise InboxError(
            f"Slack user {user_id} has no visible email (the app needs users:read.email)",
            reply=Reply(
                blocks.feedback_invalid_text("your Slack profile shows no email address"),
                user=user_id,
            ),
        )
    with rt.session() as session:
        user = repo.get_or_create_user(session, profile.email, profile.name, user_id)
        cache_slack_id(session, user.id, user_id)
        record = {
            "customer_pain": payload.get("customer_pain"),
            "severity": payload.get("severity"),
            "account": payload.get("account"),
            "opportunity": payload.get("opportunity"),
            "links": payload.get("links") or [],
            "submitter": str(user.id),
        }
        prepared = prepare_feedback(
            record, RefResolver(session), max_chars=rt.settings.max_text_chars
        )
        stored = store_feedback(
            session,
            prepared,
            source="slack",
            external_id=payload["view_id"],
            raw=record,
            meta={"slack": {"user_id": user_id, "view_id": payload["view_id"]}},
        )
        if stored.outcome == "invalid":
            enqueue(
                session,
                "feedback_invalid",
                f"view-invalid:{payload['view_id']}",
                blocks.feedback_invalid_text("; ".join(stored.problems)),
                user_id=user.id,
                feedback_id=stored.id,
            )
        done(session)
    return "modal_invalid" if stored.outcome == "invalid" else "modal_entry"
