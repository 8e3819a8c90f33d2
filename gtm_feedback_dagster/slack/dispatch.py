"""The Slack inbox dispatch (transport): claims each stored row, hands it by kind to its use
case, and closes or retries it. `resolve_slack_responses_job` is its Dagster shell.

Row kinds and who acts on them:
- approval clicks (`block_actions`) and `gtm-feedback approvals approve|reject`:
  `routing.approvals.decide`;
- Merge / Keep both clicks on a merge proposal: `requests.merge_answers.decide`;
- `:gtm-feedback:` reactions and "Add Feedback" modal submissions: `feedback.capture`;
- `/shipped <request>`: `requests.shipping.ship_from_command`;
- the message shortcut only opens the modal (answered by the HTTP route): closed as is.

Every row is claimed (attempt counted, lease set), handled, and closed in the transaction that
writes its effect (the use case calls `done(session)`), so a rerun never applies a row twice. A
permanent problem closes the row with the error (and tells the user when it can); a transient
one (Slack 429/5xx, network, database hiccup) leaves it for a later run with a backoff, up to
`inbox.MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackClientError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import EmbeddingError
from gtm_feedback_dagster.feedback.capture import capture_modal, capture_reaction
from gtm_feedback_dagster.messaging import blocks, merge_blocks
from gtm_feedback_dagster.messaging.replies import InboxError, queue_reply, slack_reply
from gtm_feedback_dagster.messaging.slack_client import redact
from gtm_feedback_dagster.messaging.slack_errors import classify_error
from gtm_feedback_dagster.requests import merge_answers
from gtm_feedback_dagster.requests.shipping import ship_from_command
from gtm_feedback_dagster.routing.approvals import decide
from gtm_feedback_dagster.routing.engine import is_transient as routing_is_transient
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack import inbox
from gtm_feedback_dagster.store.schema import SlackInbox, utcnow
from gtm_feedback_dagster.vectors.base import VectorIndexError

log = logging.getLogger(__name__)


@dataclass
class ResolveReport:
    processed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # closed with an error
    retrying: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # claimed elsewhere / not due
    expired: list[int] = field(default_factory=list)  # approval ids
    outcomes: dict[int, str] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return {
            "processed": len(self.processed),
            "failed": len(self.failed),
            "retrying": len(self.retrying),
            "skipped": len(self.skipped),
            "approvals_expired": len(self.expired),
            "outcomes": counts,
        }


def _is_transient(exc: BaseException) -> bool:
    """Worth another attempt later: Slack rate limits/5xx/network, a database hiccup, an
    embedding or index service that is down. Everything else closes the row."""
    if isinstance(exc, InboxError | IntegrityError):
        return False
    if isinstance(exc, SQLAlchemyError):
        return routing_is_transient(exc)
    if isinstance(exc, EmbeddingError | VectorIndexError):
        return bool(getattr(exc, "retryable", False))
    if isinstance(exc, SlackClientError | OSError | TimeoutError):
        return not classify_error(exc).permanent
    return False


def _describe(exc: BaseException) -> str:
    module = type(exc).__module__ or ""
    if module.startswith("slack_sdk") or isinstance(exc, OSError):
        return f"Slack call failed: {classify_error(exc).code}"
    return f"{type(exc).__name__}: {exc}"


def _redact(rt: Runtime, text: str) -> str:
    return rt.slack.redact(text) if rt.slack is not None else redact(text)


def resolve_inbox(
    rt: Runtime, inbox_ids: Sequence[int], now: datetime | None = None
) -> ResolveReport:
    """Processes the given inbox rows, each on its own (see the module docstring)."""
    report = ResolveReport()
    for inbox_id in sorted({int(i) for i in inbox_ids}):
        at = now or utcnow()
        with rt.session() as session:
            claimed = inbox.claim(session, inbox_id, at)
            row = session.get(SlackInbox, inbox_id) if claimed else None
            kind, payload = (row.kind, dict(row.payload or {})) if row else ("", {})
        if not claimed:
            report.skipped.append(inbox_id)
            continue
        try:
            outcome = _dispatch(rt, inbox_id, kind, payload, at)
        except Exception as exc:
            message = _redact(rt, str(exc) if isinstance(exc, InboxError) else _describe(exc))
            transient = _is_transient(exc)
            if not transient and not isinstance(exc, InboxError):
                log.exception("inbox row %s failed", inbox_id)
            with rt.session() as session:
                retrying = transient and inbox.mark_retry(session, inbox_id, message, at)
                if not retrying:
                    if not transient:
                        inbox.mark_processed(session, inbox_id, error=message)
                    reply = exc.reply if isinstance(exc, InboxError) else None
                    if reply is None and payload.get("type") == "block_actions":
                        reply = slack_reply(
                            payload,
                            merge_blocks.MERGE_PROPOSAL_FAILED_TEXT
                            if payload.get("merge_proposal")
                            else blocks.APPROVAL_FAILED_TEXT,
                        )
                    if reply is not None:
                        queue_reply(session, f"inbox-reply:{inbox_id}", reply)
            (report.retrying if retrying else report.failed).append(inbox_id)
            report.errors[inbox_id] = message
            continue
        report.processed.append(inbox_id)
        report.outcomes[inbox_id] = outcome
    return report


def _dispatch(rt: Runtime, inbox_id: int, kind: str, payload: dict[str, Any], now: datetime) -> str:
    def done(session: Session) -> None:
        inbox.mark_processed(session, inbox_id)

    kind_of_payload = payload.get("type")
    if kind_of_payload == "block_actions" and payload.get("merge_proposal"):
        return merge_answers.decide(rt, inbox_id, payload, now, done)
    if kind_of_payload == "block_actions":
        return decide(rt, inbox_id, payload, now, done)
    if kind_of_payload == "reaction_added":
        return capture_reaction(rt, payload, done)
    if kind_of_payload == "view_submission":
        return capture_modal(rt, payload, done)
    if kind_of_payload == "command":
        return ship_from_command(rt, inbox_id, payload, now, done)
    if kind_of_payload == "shortcut":
        with rt.session() as session:
            done(session)
        return "shortcut"
    raise InboxError(f"unknown {kind} payload type {str(kind_of_payload)[:40]!r}")
