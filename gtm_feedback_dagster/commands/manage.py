"""Management commands: requests, entries, follow/unfollow (areas, accounts, users: catalog.py).

Lists and details print aligned plain-text tables; `--json` prints the same data for scripts.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from gtm_feedback_dagster.commands.intake import ready_settings
from gtm_feedback_dagster.commands.output import format_fields, format_table, to_json
from gtm_feedback_dagster.feedback import entries
from gtm_feedback_dagster.notifications import shipped
from gtm_feedback_dagster.requests import lifecycle, queries
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import utcnow

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
limit_option = click.option("--limit", default=50, show_default=True, type=click.IntRange(1))


def format_money(value: float | None) -> str:
    return f"${value:,.0f}" if value is not None else "-"


def emit(data: Any, as_json: bool, render: Any) -> None:
    click.echo(to_json(data) if as_json else render(data))


# ---------------------------------------------------------------------------- requests


@click.group("requests")
def requests_group() -> None:
    """Feature requests: list, show, create, edit, ship, deprioritize, reopen."""


@requests_group.command("list")
@click.option("--area", default=None, help="Area slug or name.")
@click.option("--status", default=None, help="open|shipped|deprioritized|merged")
@click.option(
    "--sort",
    type=click.Choice(queries.SORTS),
    default="recent",
    show_default=True,
    help="recent: newest first; arr: ARR of the distinct accounts asking; entries: most entries.",
)
@limit_option
@json_option
def requests_list(
    area: str | None, status: str | None, sort: str, limit: int, as_json: bool
) -> None:
    """Requests with their demand (entries, accounts, ARR of distinct accounts)."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        rows = queries.list_requests(session, area=area, status=status, limit=limit, sort=sort)
    emit(
        rows,
        as_json,
        lambda r: format_table(
            [{**row, "arr": format_money(row["arr"])} for row in r],
            ["id", "slug", "status", "areas", "entries", "accounts", "arr", "followers", "title"],
            widths={"slug": 40, "title": 60},
        ),
    )


def _render_request(d: dict[str, Any]) -> str:
    severity = ", ".join(f"{k} {v}" for k, v in sorted(d["entries_by_severity"].items())) or "-"
    text = format_fields(
        [
            ("id", str(d["id"])),
            ("title", d["title"]),
            ("slug", d["slug"]),
            ("url", d["url"]),
            ("status", d["status"]),
            ("areas", ", ".join(a["slug"] for a in d["areas"]) or "-"),
            ("creator", d["creator"]["email"] if d["creator"] else "-"),
            ("entries", f"{d['entries']} ({severity})"),
            ("accounts", str(d["accounts"])),
            ("arr", f"{format_money(d['arr'])} (distinct accounts)"),
            (
                "related",
                f"{d['related_request']['slug']}" if d["related_request"] else "-",
            ),
            ("created", d["created_at"] or "-"),
            ("shipped", d["shipped_at"] or "-"),
        ]
    )
    followers = format_table(d["followers"], ["id", "email", "name"], empty="  (no followers)")
    accounts = format_table(
        [
            {**a, "arr": format_money(a["arr"]), "enterprise": "yes" if a["enterprise"] else ""}
            for a in d["account_list"]
        ],
        ["id", "name", "arr", "enterprise", "segment", "entries"],
        widths={"name": 40},
        empty="  (no accounts)",
    )
    opportunities = format_table(
        [{**o, "arr": format_money(o["arr"])} for o in d["opportunities"]],
        ["id", "name", "account", "arr", "stage", "close_date"],
        widths={"name": 40, "account": 30},
        empty="  (no opportunities)",
    )
    entry_rows = format_table(
        d["entry_list"],
        ["id", "created_at", "severity", "account", "submitter", "text"],
        widths={"account": 30, "submitter": 30, "text": 70},
        empty="  (no entries)",
    )
    shown = len(d["entry_list"])
    more = f" (newest {shown} of {d['entries']})" if shown < d["entries"] else ""
    old = f"\nold slugs (still work): {', '.join(d['old_slugs'])}" if d.get("old_slugs") else ""
    return (
        f"{text}{old}\n\n{d['description']}\n\n"
        f"accounts (ARR counted once per account):\n{accounts}\n\n"
        f"opportunities:\n{opportunities}\n\n"
        f"entries{more}:\n{entry_rows}\n\n"
        f"followers:\n{followers}"
    )


@requests_group.command("show")
@click.argument("ref")
@click.option("--entries", "entry_limit", default=50, show_default=True, type=click.IntRange(1))
@json_option
def requests_show(ref: str, entry_limit: int, as_json: bool) -> None:
    """One request: its entries, the accounts asking (with ARR, each once), the opportunities
    named and its followers."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        detail = queries.request_detail(session, ref, settings.app_url, entry_limit=entry_limit)
    emit(detail, as_json, _render_request)


@requests_group.command("create")
@click.option("--title", required=True)
@click.option("--description", required=True)
@click.option(
    "--area", "areas", multiple=True, required=True, help="Area slug or name (repeatable)."
)
@click.option("--creator", required=True, help="User id, email or name.")
def requests_create(title: str, description: str, areas: tuple[str, ...], creator: str) -> None:
    """Create a request by hand (the creator follows it)."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        request = lifecycle.create_request(session, title, description, list(areas), creator)
        click.echo(f"request {request.id} created: {request.slug}")
        click.echo(queries.request_url(settings.app_url, request.slug))


@requests_group.command("edit")
@click.argument("ref")
@click.option("--title", default=None, help="New title.")
@click.option("--slug", default=None, help="New slug; the old one keeps finding the request.")
@click.option("--description", default=None, help="New description.")
@click.option("--add-area", "add_areas", multiple=True, help="Area slug or name (repeatable).")
@click.option(
    "--remove-area", "remove_areas", multiple=True, help="Area slug or name (repeatable)."
)
def requests_edit(
    ref: str,
    title: str | None,
    slug: str | None,
    description: str | None,
    add_areas: tuple[str, ...],
    remove_areas: tuple[str, ...],
) -> None:
    """Edit a request's title, slug, description or areas (a request keeps at least one)."""
    if not any((title, slug, description, add_areas, remove_areas)):
        raise click.UsageError(
            "nothing to change: give --title, --slug, --description, --add-area or --remove-area"
        )
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        request, changes = lifecycle.edit_request(
            session,
            ref,
            title=title,
            slug=slug,
            description=description,
            add_areas=add_areas,
            remove_areas=remove_areas,
        )
        if not changes:
            click.echo(f"{request.slug}: nothing changed")
            return
        click.echo(f"request {request.id} ({request.slug}) edited:")
        for line in changes:
            click.echo(f"  {line}")


@requests_group.command("ship")
@click.argument("ref")
def requests_ship(ref: str) -> None:
    """Mark a request shipped and queue its notices at once (a DM to each follower, a post in
    each area's firehose channel) in the outbox; the daemon's outbox sensor delivers them, or
    `gtm-feedback outbox send` does now."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        change = lifecycle.set_request_status(session, ref, "shipped")
        keys = None
        if change.changed:
            keys = shipped.queue_shipped_notices(session, change.request, settings, utcnow())
    if not change.changed:
        click.echo(change.message)
        return
    click.echo(f"{change.request.title!r} marked as shipped")
    if keys is None:
        click.echo("its notices were sent already; nothing queued")
    elif not keys.all:
        click.echo("no followers and no firehose channel: nothing to send")
    else:
        click.echo(
            f"queued {len(keys.follower_keys)} follower DM(s) and "
            f"{len(keys.firehose_keys)} firehose post(s) in the outbox; "
            "the Dagster daemon (`make ui`, with SLACK_BOT_TOKEN set) delivers them, or "
            "`gtm-feedback outbox send` does now; `gtm-feedback outbox` lists them"
        )


def _status_command(name: str, status: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("ref")
    def command(ref: str) -> None:
        settings = ready_settings()
        with session_scope(settings.database_url) as session:
            change = lifecycle.set_request_status(session, ref, status)
        click.echo(change.message)

    return command


requests_group.add_command(
    _status_command("deprioritize", "deprioritized", "Mark a request deprioritized.")
)
requests_group.add_command(_status_command("reopen", "open", "Set a request back to open."))


# ---------------------------------------------------------------------------- entries


@click.group("entries")
def entries_group() -> None:
    """Feedback entries: list, show, retry."""


@entries_group.command("list")
@click.option("--status", default=None, help="pending|routed|awaiting_approval|invalid|failed")
@click.option("--request", "request_ref", default=None, help="Request id, slug or URL.")
@limit_option
@json_option
def entries_list(status: str | None, request_ref: str | None, limit: int, as_json: bool) -> None:
    """Entries, newest first."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        rows = entries.list_entries(session, status=status, request=request_ref, limit=limit)
    emit(
        rows,
        as_json,
        lambda r: format_table(
            r,
            ["id", "status", "severity", "account", "submitter", "request", "text"],
            widths={"text": 60, "request": 30, "account": 24, "submitter": 28},
        ),
    )


def _render_entry(d: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = [
        ("id", str(d["id"])),
        ("status", d["status"]),
        ("severity", d["severity_label"] or "-"),
        ("account", d["account"]["name"] if d["account"] else "-"),
        ("opportunity", d["opportunity"]["name"] if d["opportunity"] else "-"),
        ("submitter", d["submitter"]["email"] if d["submitter"] else "-"),
        ("source", f"{d['source']} ({d['external_id'] or 'no external id'})"),
        ("request", f"{d['request']['slug']}  {d['request']['url']}" if d["request"] else "-"),
        ("match", d["match_type"] or "-"),
        ("created", d["created_at"] or "-"),
    ]
    if d["confidence"] is not None:
        pairs.append(("confidence", f"{d['confidence']:.2f}"))
    if d["reason"]:
        pairs.append(("reason", d["reason"]))
    if d["links"]:
        pairs.append(("links", ", ".join(d["links"])))
    if d["error"]:
        pairs.append(("error", d["error"]))
    return f"{format_fields(pairs)}\n\n{d['customer_pain'] or '(no text)'}"


@entries_group.command("show")
@click.argument("entry_id", type=int)
@json_option
def entries_show(entry_id: int, as_json: bool) -> None:
    """One entry, with the reason when it is invalid or failed."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        detail = entries.entry_detail(session, entry_id, settings.app_url)
    emit(detail, as_json, _render_entry)


@entries_group.command("retry")
@click.argument("entry_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Every failed or invalid entry.")
def entries_retry(entry_id: int | None, all_failed: bool) -> None:
    """Put a failed/invalid entry back to pending once it validates again.

    Exits 1 when an entry is still invalid.
    """
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        results = entries.retry_entries(
            session, entry_id, all_failed, max_chars=settings.max_text_chars
        )
    for result in results:
        click.echo(result.message)
    if all_failed:
        pending = sum(r.status == "pending" for r in results)
        click.echo(f"{pending} of {len(results)} entries back to pending")
    if any(r.status in ("invalid", "failed") for r in results):
        sys.exit(1)


@click.command("follow")
@click.argument("request_ref")
@click.option("--user", "user_ref", required=True, help="User id, email or name.")
def follow(request_ref: str, user_ref: str) -> None:
    """Follow a request (get its shipped notice)."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        click.echo(lifecycle.follow(session, request_ref, user_ref, on=True))


@click.command("unfollow")
@click.argument("request_ref")
@click.option("--user", "user_ref", required=True, help="User id, email or name.")
def unfollow(request_ref: str, user_ref: str) -> None:
    """Stop following a request."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        click.echo(lifecycle.follow(session, request_ref, user_ref, on=False))


def register(cli: click.Group) -> None:
    for command in (requests_group, entries_group, follow, unfollow):
        cli.add_command(command)
