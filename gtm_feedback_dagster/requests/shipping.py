"""`/shipped <request>`: the request is marked shipped, its followers and firehose channels are
notified, and the command is answered with "Notified N of M followers"."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.messaging.outbox import SENT, ids_for_keys
from gtm_feedback_dagster.messaging.replies import Done, Reply, queue_reply
from gtm_feedback_dagster.notifications.shipped import queue_shipped_notices, shipped_keys
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store.schema import OutboxMessage, Request

log = logging.getLogger(__name__)


def ship_from_command(
    rt: Runtime, inbox_id: int, payload: dict[str, Any], now: datetime, done: Done
) -> str:
    """Marks the request shipped and queues its notices (one transaction, remembering which
    command did it), delivers them, then answers with the count of followers reached. A rerun
    after a crash resumes: the command that shipped the request is recognised and counted."""
    reply = Reply(
        "",
        response_url=payload.get("response_url"),
        channel=payload.get("channel_id"),
        user=payload.get("user_id"),
    )
    slug = payload.get("slug")
    with rt.session() as session:
        request = (
            session.scalars(select(Request).where(Request.slug == slug)).first() if slug else None
        )
        if request is None:
            text = blocks.invalid_shipped_url_text(rt.settings.app_url)
            queue_reply(
                session,
                f"command-response:{inbox_id}",
                Reply(text, reply.response_url, reply.channel, reply.user),
            )
            done(session)
            return "shipped_unknown_request"
        meta = dict(request.meta or {})
        ours = meta.get("shipped_by_inbox_id") == inbox_id
        if request.status == "shipped" and not ours:
            text = blocks.already_shipped_text(request.title)
            queue_reply(
                session,
                f"command-response:{inbox_id}",
                Reply(text, reply.response_url, reply.channel, reply.user),
            )
            done(session)
            return "already_shipped"
        if request.status != "shipped":
            request.status = "shipped"
            request.shipped_at = now
            request.updated_at = now
            request.meta = {
                **meta,
                "shipped_by_inbox_id": inbox_id,
                "shipped_by_slack_user": payload.get("user_id"),
            }
            session.flush()
        queue_shipped_notices(session, request, rt.settings, now)
        keys = shipped_keys(session, request.id)
        request_id, title = request.id, request.title
    with rt.session() as session:
        message_ids = ids_for_keys(session, keys.all)
    deliver_outbox(rt.settings.database_url, rt.slack, ids=message_ids)
    with rt.session() as session:
        follower_rows = session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.dedupe_key.in_(keys.follower_keys))
        ).all()
        notified = sum(1 for status in follower_rows if status == SENT)
        text = blocks.shipped_result_text(title, notified, len(keys.follower_keys))
        queue_reply(
            session,
            f"command-response:{inbox_id}",
            Reply(text, reply.response_url, reply.channel, reply.user),
        )
        done(session)
    log.info("request %s shipped via /shipped: %s", request_id, text)
    return "shipped"
