"""Answers to the person who acted in Slack, and the error that closes one inbox row.

Shared by the use cases that act on Slack input (`routing.approvals`, `feedback.capture`,
`requests.shipping`) and by the transport's dispatch (`slack.dispatch`), so none of the use cases
needs to import `slack/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gtm_feedback_dagster.messaging.outbox import enqueue

Done = Callable[[Session], None]
"""Closes the inbox row that asked for the work, inside the transaction that writes its effect."""


@dataclass(frozen=True)
class Reply:
    """A message to the person who acted: ephemeral through a response URL, ephemeral in a
    channel, or a DM to a Slack user."""

    text: str
    response_url: str | None = None
    channel: str | None = None
    user: str | None = None
    thread_ts: str | None = None


class InboxError(Exception):
    """A permanent problem with one row: it is closed with this message."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


def queue_reply(session: Session, key: str, reply: Reply) -> None:
    if reply.response_url:
        enqueue(session, "reply", key, reply.text, response_url=reply.response_url)
    elif reply.channel and reply.user:
        enqueue(
            session,
            "reply",
            key,
            reply.text,
            channel=reply.channel,
            ephemeral_user=reply.user,
            thread_ts=reply.thread_ts,
        )
    elif reply.user:
        enqueue(session, "reply", key, reply.text, channel=reply.user)  # a DM by Slack user id


def slack_reply(payload: dict[str, Any], text: str) -> Reply | None:
    """An answer to the Slack user of `payload` (None when the action came from the CLI)."""
    if payload.get("source") != "slack":
        return None
    return Reply(
        text,
        response_url=payload.get("response_url"),
        channel=payload.get("channel_id"),
        user=payload.get("user_id"),
    )
