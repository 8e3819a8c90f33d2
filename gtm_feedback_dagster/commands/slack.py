"""Slack commands: `outbox` (see / send / retry queued messages), `approvals` (list and decide
medium-confidence matches offline) and `slack check` (is the bot token valid?)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click
from sqlalchemy import select

from gtm_feedback_dagster.commands.intake import ready_settings
from gtm_feedback_dagster.commands.output import format_table, to_json
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import outbox as ob
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.messaging.slack_client import build_slack_client
from gtm_feedback_dagster.messaging.slack_errors import classify_error
from gtm_feedback_dagster.slack.inbox import store_inbox
from gtm_feedback_dagster.slack.payloads import approval_action
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    OutboxMessage,
    Request,
    SlackInbox,
    User,
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired")


# ---------------------------------------------------------------------------- outbox


def _recipient(message: OutboxMessage, user: User | None) -> str:
    if message.response_url:
        return "command reply"
    if message.ephemeral_user:
        return f"{message.ephemeral_user} in {message.channel} (ephemeral)"
    if user is not None:
        return user.email
    if message.target_ts or message.kind == ob.KIND_APPROVAL_UPDATE:
        return f"edit of {message.target_ts or 'the approval DM'}"
    return (
        f"#{message.channel}"
        if message.channel and not message.channel[:1].isupper()
        else str(message.channel)
    )


def outbox_rows(settings: Settings, status: str, limit: int) -> list[dict[str, Any]]:
    with session_scope(settings.database_url) as session:
        query = select(OutboxMessage, User).outerjoin(User, User.id == OutboxMessage.user_id)
        if status != "all":
            query = query.where(OutboxMessage.status == status)
        rows = session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit)).all()
        return [
            {
                "id": m.id,
                "status": m.status,
                "kind": m.kind,
                "recipient": _recipient(m, u),
                "attempts": m.attempts,
                "text": m.text,
                "error": m.last_error,
                "created_at": m.created_at.isoformat(timespec="seconds"),
                "sent_at": m.sent_at.isoformat(timespec="seconds") if m.sent_at else None,
            }
            for m, u in reversed(rows)
        ]


@click.group("outbox", invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice([*ob.STATUSES, "all"]),
    default="queued",
    show_default=True,
    help="Which messages to show.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@json_option
@click.pass_context
def outbox_group(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """Slack messages waiting in (or gone through) the outbox: recipient, kind, text.

    Without SLACK_BOT_TOKEN every message stays queued here; `outbox send` delivers the
    queue once a token is set.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = ready_settings()
    rows = outbox_rows(settings, status, limit)
    if as_json:
        click.echo(to_json(rows))
        return
    click.echo(
        format_table(
            rows,
            ["id", "status", "kind", "recipient", "attempts", "text", "error"],
            widths={"text": 70, "recipient": 32, "error": 40},
            empty=f"(no {status} messages)" if status != "all" else "(the outbox is empty)",
        )
    )
    with session_scope(settings.database_url) as session:
        counts = ob.status_counts(session)
    if counts:
        click.echo("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if not settings.slack_enabled and counts.get(ob.QUEUED):
        click.echo("SLACK_BOT_TOKEN is not set: queued messages wait here (outbox-only mode).")


@outbox_group.command("send")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1))
def outbox_send(limit: int) -> None:
    """Deliver the due messages now (needs SLACK_BOT_TOKEN)."""
    settings = ready_settings()
    client = build_slack_client(settings)
    if client is None:
        raise click.ClickException("SLACK_BOT_TOKEN is not set: nothing can be sent")
    report = deliver_outbox(settings.database_url, client, limit=limit)
    click.echo(report.summary())
    for message_id, code in report.errors.items():
        click.echo(f"  #{message_id}: {code}")


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Queue failed (or the given failed/cancelled) messages again with a fresh attempt budget,
    e.g. after fixing the token or inviting the bot to a channel."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        count = ob.requeue(session, list(ids) if ids else None)
    click.echo(f"{count} message(s) queued again")


# ---------------------------------------------------------------------------- approvals


@click.group("approvals")
def approvals_group() -> None:
    """Medium-confidence matches waiting for the submitter: list and decide them offline."""


@approvals_group.command("list")
@click.option(
    "--status",
    type=click.Choice([*APPROVAL_STATUSES, "all"]),
    default="pending",
    show_default=True,
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@json_option
def approvals_list(status: str, limit: int, as_json: bool) -> None:
    """Approvals with the entry, its submitter and the suggested request."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        query = (
            select(Approval, Feedback, Request, User)
            .join(Feedback, Feedback.id == Approval.feedback_id)
            .join(Request, Request.id == Approval.request_id)
            .outerjoin(User, User.id == Feedback.submitter_id)
        )
        if status != "all":
            query = query.where(Approval.status == status)
        rows = [
            {
                "id": a.id,
                "status": a.status,
                "entry": f.id,
                "submitter": u.email if u else None,
                "confidence": a.confidence,
                "request": f"{r.title} ({r.slug})",
                "pain": f.customer_pain,
                "created_at": a.created_at.isoformat(timespec="seconds"),
                "decided_by": a.decided_by,
            }
            for a, f, r, u in session.execute(query.order_by(Approval.id).limit(limit)).all()
        ]
    if as_json:
        click.echo(to_json(rows))
        return
    from gtm_feedback_dagster.routing.decide import format_confidence

    shown = [{**row, "confidence": format_confidence(row["confidence"])} for row in rows]
    click.echo(
        format_table(
            shown,
            ["id", "status", "entry", "submitter", "confidence", "request", "pain"],
            widths={"request": 50, "pain": 50, "submitter": 30},
            empty=f"(no {status} approvals)",
        )
    )


def _queue_decision(settings: Settings, approval_id: int, decision: str) -> tuple[int, bool]:
    """Writes the inbox row a button click would; returns (inbox id, newly queued). A decision
    already waiting for this approval is reused instead of queuing a second one."""
    prefix = f"cli:approval:{approval_id}:"
    with session_scope(settings.database_url) as session:
        approval = session.get(Approval, approval_id)
        if approval is None:
            raise click.ClickException(f"unknown approval #{approval_id}")
        if approval.status != "pending":
            raise click.ClickException(f"approval #{approval_id} is already {approval.status}")
        earlier = session.execute(
            select(SlackInbox.id, SlackInbox.processed_at).where(
                SlackInbox.dedupe_key.like(prefix + "%")
            )
        ).all()
        waiting = [row_id for row_id, processed_at in earlier if processed_at is None]
        if waiting:
            return waiting[0], False
        actor = f"cli:{getpass.getuser()}"
        payload = approval_action(approval_id, decision, source="cli", actor=actor)
        inbox_id = store_inbox(session, "cli", f"{prefix}{len(earlier) + 1}", payload)
    if inbox_id is None:  # a concurrent command queued it first
        return _queue_decision(settings, approval_id, decision)
    return inbox_id, True


def _decide(approval_id: int, decision: str, now: bool) -> None:
    settings = ready_settings()
    inbox_id, queued = _queue_decision(settings, approval_id, decision)
    if not queued:
        click.echo(f"a decision on approval #{approval_id} is already queued (inbox #{inbox_id})")
        if not now:
            return
    verb = "approve" if decision == "approve" else "reject"
    if not now:
        click.echo(
            f"queued: {verb} approval #{approval_id} (inbox #{inbox_id}); "
            "slack_response_sensor processes it, or rerun with --now"
        )
        return
    from gtm_feedback_dagster.runtime import Runtime
    from gtm_feedback_dagster.slack.dispatch import resolve_inbox

    rt = Runtime.from_settings(settings)
    client = rt.slack = build_slack_client(settings)
    assert inbox_id is not None
    report = resolve_inbox(rt, [inbox_id])
    delivery = deliver_outbox(settings.database_url, client)
    if inbox_id in report.errors:
        click.echo(f"error: {report.errors[inbox_id]}", err=True)
        sys.exit(1)
    outcome = report.outcomes.get(inbox_id, "skipped (another process has it)")
    click.echo(f"approval #{approval_id}: {outcome}; messages: {delivery.summary()}")


@approvals_group.command("approve")
@click.argument("approval_id", type=int)
@click.option("--now", is_flag=True, help="Process it right away instead of via the sensor.")
def approvals_approve(approval_id: int, now: bool) -> None:
    """Add the entry to the suggested request (as the submitter's Approve button does)."""
    _decide(approval_id, "approve", now)


@approvals_group.command("reject")
@click.argument("approval_id", type=int)
@click.option("--now", is_flag=True, help="Process it right away instead of via the sensor.")
def approvals_reject(approval_id: int, now: bool) -> None:
    """Not a match: a new request is created from the entry (as "Not a match" does)."""
    _decide(approval_id, "decline", now)


# ---------------------------------------------------------------------------- slack


@click.group("slack")
def slack_group() -> None:
    """The Slack connection."""


@slack_group.command("check")
def slack_check() -> None:
    """Call auth.test with SLACK_BOT_TOKEN and show the workspace and bot it belongs to."""
    settings = ready_settings()
    client = build_slack_client(settings, timeout=10)
    if client is None:
        raise click.ClickException(
            "SLACK_BOT_TOKEN is not set: messages stay in the outbox (`gtm-feedback outbox`)"
        )
    try:
        info = client.auth_test()
    except Exception as exc:  # reported by Slack error code only; never the token
        raise click.ClickException(f"Slack rejected the call: {classify_error(exc).code}") from None
    click.echo(
        f"ok: team {info.get('team')} ({info.get('team_id')}), bot user {info.get('user')} "
        f"({info.get('user_id')})"
    )


def register(cli: click.Group) -> None:
    cli.add_command(outbox_group)
    cli.add_command(approvals_group)
    cli.add_command(slack_group)
