"""One DM per submitter for the questions of a routing batch (issue 11 item 6): the digest's
Block Kit, its queueing in place of the per-ask DMs, and its in-place edit after a decision.

The digest's buttons carry the same action ids and values as the single-ask DM, so a click takes
the same path (`routing/approvals.py`). When a submitter has two or more asks in one batch, their
still-queued single DMs are cancelled and one digest is queued; after a decision the digest is
edited (`chat.update`) with that ask's buttons replaced by the outcome, or rewritten while it is
still queued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.messaging.blocks import (
    APPROVAL_APPROVE_ACTION_ID,
    APPROVAL_DECLINE_ACTION_ID,
    Blocks,
    _context,
    _fallback,
    _feedback_context,
    _section,
    approval_action_value,
    link,
    plain_title,
    request_url,
)
from gtm_feedback_dagster.messaging.outbox import (
    QUEUED,
    SENT,
    cancel_queued,
    enqueue,
)
from gtm_feedback_dagster.store.schema import Approval, Feedback, OutboxMessage, Request

KIND_DIGEST = "approval_digest"
KIND_DIGEST_UPDATE = "approval_digest_update"


def approval_digest_message(
    app_url: str, asks: Sequence[tuple[int, str, str, str, str | None]]
) -> tuple[str, Blocks]:
    """One DM for a submitter's questions of one routing batch (issue 11 item 6), instead of one
    DM each: per ask (approval id, request title, slug, customer pain, severity) the suggested
    request, the feedback quoted, and Approve / Not a match buttons (the same action ids and
    values as `approval_request_message`, so decisions take the same path)."""
    asks = list(asks)[:MAX_DIGEST_ASKS]
    message_blocks: Blocks = [
        _section(
            f"Routing is unsure about {len(asks)} of your feedback entries. Would you add each "
            "to the suggested existing feature request?"
        )
    ]
    titles = []
    for approval_id, title, slug, pain, severity in asks:
        url = request_url(app_url, slug)
        titles.append(f"{plain_title(title)} ({url})")
        message_blocks += [
            {"type": "divider"},
            _section(f"*{link(url, title)}*"),
            _feedback_context(pain, severity),
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
    text = _fallback(
        f"{len(asks)} of your feedback entries may belong to existing requests: "
        + "; ".join(titles)
    )
    return text, message_blocks


# Slack allows 50 blocks per message: 1 header + 4 per ask.
MAX_DIGEST_ASKS = 12


def digest_approval_ids(message_blocks: Blocks | None) -> list[int]:
    """The approvals a digest DM asks about (from its actions blocks)."""
    ids = []
    for block in message_blocks or []:
        block_id = str(block.get("block_id") or "")
        if block.get("type") == "actions" and block_id.startswith("feedback_match_approval_"):
            tail = block_id.removeprefix("feedback_match_approval_")
            if tail.isdigit():
                ids.append(int(tail))
    return ids


def digest_after_decision(message_blocks: Blocks, approval_id: int, status_line: str) -> Blocks:
    """The digest with one ask decided: its buttons replaced by the outcome."""
    return [
        _context(status_line)
        if block.get("block_id") == f"feedback_match_approval_{approval_id}"
        else block
        for block in message_blocks
    ]


def digest_asks(session: Session, app_url: str, asks: Mapping[int, Sequence[int]]) -> int:
    """For each submitter (app user id) with two or more approvals asked in this batch: their
    queued single-ask DMs are cancelled and one digest queued. Returns digests queued."""
    queued = 0
    for user_id, approval_ids in asks.items():
        ids = sorted(set(approval_ids))[:MAX_DIGEST_ASKS]
        if len(ids) < 2:
            continue
        rows = session.execute(
            select(
                Approval.id, Request.title, Request.slug, Feedback.customer_pain, Feedback.severity
            )
            .join(Request, Request.id == Approval.request_id)
            .join(Feedback, Feedback.id == Approval.feedback_id)
            .where(Approval.id.in_(ids), Approval.status == "pending")
            .order_by(Approval.id)
        ).all()
        if len(rows) < 2:
            continue
        cancel_queued(
            session,
            (OutboxMessage.approval_id.in_([r[0] for r in rows]))
            & (OutboxMessage.kind == "approval_request"),
            "superseded: asked in one digest with the submitter's other questions of the batch",
        )
        text, message_blocks = approval_digest_message(app_url, [tuple(r) for r in rows])  # type: ignore[misc]
        enqueue(
            session,
            KIND_DIGEST,
            "approval-digest:" + ",".join(str(r[0]) for r in rows),
            text,
            user_id=user_id,
            blocks=message_blocks,
        )
        queued += 1
    return queued


def queue_digest_update(session: Session, approval_id: int, status_line: str) -> None:
    """After a decision: the digest that asked about `approval_id` shows the outcome instead of
    that ask's buttons (rewritten while queued; edited in Slack once sent)."""
    key_part = str(approval_id)
    for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == KIND_DIGEST).order_by(OutboxMessage.id)
    ):
        if key_part not in row.dedupe_key.removeprefix("approval-digest:").split(","):
            continue
        new_blocks = digest_after_decision(list(row.blocks or []), approval_id, status_line)
        if row.status == QUEUED:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.status == QUEUED)
                .values(blocks=new_blocks)
                .execution_options(synchronize_session=False)
            )
            session.refresh(row)
            if row.status == QUEUED:
                continue
        if row.status == SENT and row.slack_channel and row.slack_ts:
            # Keep later edits cumulative: the stored blocks are the digest's current state.
            row.blocks = new_blocks
            enqueue(
                session,
                KIND_DIGEST_UPDATE,
                f"digest-update:{row.id}:{approval_id}",
                row.text or "",
                channel=row.slack_channel,
                target_ts=row.slack_ts,
                blocks=new_blocks,
            )
