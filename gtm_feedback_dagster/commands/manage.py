"""Management commands: requests, entries, areas, accounts, users, follow/unfollow.

Lists and details print aligned plain-text tables; `--json` prints the same data for scripts.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from gtm_feedback_dagster.catalog import entities, listings
from gtm_feedback_dagster.commands.intake import ready_settings
from gtm_feedback_dagster.commands.output import format_fields, format_table, to_json
from gtm_feedback_dagster.feedback import entries
from gtm_feedback_dagster.requests import lifecycle, queries
from gtm_feedback_dagster.store.db import session_scope

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
limit_option = click.option("--limit", default=50, show_default=True, type=click.IntRange(1))


def _money(value: float | None) -> str:
    return f"${value:,.0f}" if value is not None else "-"


def _emit(data: Any, as_json: bool, render: Any) -> None:
    click.echo(to_json(data) if as_json else render(data))


# ---------------------------------------------------------------------------- requests


@click.group("requests")
def requests_group() -> None:
    """Feature requests: list, show, create, ship, deprioritize, reopen."""


@requests_group.command("list")
@click.option("--area", default=None, help="Area slug or name.")
@click.option("--status", default=None, help="open|shipped|deprioritized|merged")
@limit_option
@json_option
def requests_list(area: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Requests, newest first, with their demand (entries, accounts, ARR of distinct accounts)."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        rows = queries.list_requests(session, area=area, status=status, limit=limit)
    _emit(
        rows,
        as_json,
        lambda r: format_table(
            [{**row, "arr": _money(row["arr"])} for row in r],
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
            ("arr", f"{_money(d['arr'])} (distinct accounts)"),
            (
                "related",
                f"{d['related_request']['slug']}" if d["related_request"] else "-",
            ),
            ("created", d["created_at"] or "-"),
            ("shipped", d["shipped_at"] or "-"),
        ]
    )
    followers = format_table(d["followers"], ["id", "email", "name"], empty="  (no followers)")
    return f"{text}\n\n{d['description']}\n\nfollowers:\n{followers}"


@requests_group.command("show")
@click.argument("ref")
@json_option
def requests_show(ref: str, as_json: bool) -> None:
    """One request: areas, followers, entries and the ARR of distinct accounts asking."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        detail = queries.request_detail(session, ref, settings.app_url)
    _emit(detail, as_json, _render_request)


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
    _status_command(
        "ship",
        "shipped",
        "Mark a request shipped; the shipped sensor then tells its followers (once).",
    )
)
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
    _emit(
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
    _emit(detail, as_json, _render_entry)


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


# ---------------------------------------------------------------------------- areas


@click.group("areas")
def areas_group() -> None:
    """Product areas: list, create."""


@areas_group.command("list")
@json_option
def areas_list(as_json: bool) -> None:
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        rows = listings.list_areas(session)
    _emit(
        rows,
        as_json,
        lambda r: format_table(
            r,
            ["id", "slug", "name", "firehose_channel", "open_requests", "description"],
            widths={"description": 60},
        ),
    )


@areas_group.command("create")
@click.argument("name")
@click.option("--slug", default=None, help="Defaults to the name, slugified.")
@click.option("--description", default="")
@click.option(
    "--firehose-channel", default=None, help="`api`, `firehose-api` and `#firehose-api` all work."
)
def areas_create(
    name: str, slug: str | None, description: str, firehose_channel: str | None
) -> None:
    """Create a product area (idempotent by slug)."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        area, created = entities.create_area(session, name, slug, description, firehose_channel)
        slug_value = area.slug
    if created:
        click.echo(f"area {slug_value!r} created")
        click.echo(
            "its Dagster partition is added by product_area_partitions_sensor within a minute "
            "(when the Dagster daemon runs)"
        )
    else:
        click.echo(f"area {slug_value!r} already exists (left unchanged)")


# ---------------------------------------------------------------------------- accounts, users


@click.group("accounts")
def accounts_group() -> None:
    """Customer accounts: list, show, create."""


@accounts_group.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@json_option
def accounts_list(limit: int, as_json: bool) -> None:
    """Accounts by ARR, with how much feedback they gave."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        rows = listings.list_accounts(session, limit=limit)
    _emit(
        rows,
        as_json,
        lambda r: format_table(
            [{**row, "arr": _money(row["arr"])} for row in r],
            ["id", "external_id", "name", "arr", "enterprise", "region", "entries", "requests"],
            widths={"name": 40},
        ),
    )


def _render_account(d: dict[str, Any]) -> str:
    head = format_fields(
        [
            ("id", str(d["id"])),
            ("name", d["name"]),
            ("external id", d["external_id"] or "-"),
            ("domain", d["domain"] or "-"),
            ("arr", _money(d["arr"])),
            ("enterprise", "yes" if d["enterprise"] else "no"),
            ("region", d["region"] or "-"),
            ("segment", d["segment"] or "-"),
            (
                "entries",
                ", ".join(f"{k} {v}" for k, v in sorted(d["entries_by_status"].items())) or "0",
            ),
        ]
    )
    opps = format_table(
        [{**o, "arr": _money(o["arr"])} for o in d["opportunities"]],
        ["id", "external_id", "name", "stage", "arr", "close_date"],
        empty="  (none)",
    )
    requests = format_table(
        d["requests"],
        ["id", "slug", "status", "entries", "title"],
        widths={"title": 60},
        empty="  (none)",
    )
    return f"{head}\n\nopportunities:\n{opps}\n\nrequests asked for:\n{requests}"


@accounts_group.command("show")
@click.argument("ref")
@json_option
def accounts_show(ref: str, as_json: bool) -> None:
    """One account with its opportunities and the requests it asked for."""
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        detail = listings.account_detail(session, ref, settings.app_url)
    _emit(detail, as_json, _render_account)


@accounts_group.command("create")
@click.argument("name")
@click.option("--external-id", default=None, help="CRM (e.g. Salesforce) id.")
@click.option("--arr", default=None, help="Annual recurring revenue, e.g. 120000 or 120k.")
@click.option("--enterprise/--no-enterprise", default=None)
@click.option("--domain", default=None, help="Company domain or website.")
@click.option("--region", default=None)
def accounts_create(
    name: str,
    external_id: str | None,
    arr: str | None,
    enterprise: bool | None,
    domain: str | None,
    region: str | None,
) -> None:
    """Add an account, or update it (by external id, else by name)."""
    from gtm_feedback_dagster.catalog.entities import upsert_account

    settings = ready_settings()
    values = {
        "name": name,
        "external_id": external_id,
        "arr": arr,
        "is_enterprise": enterprise,
        "domain": domain,
        "region": region,
    }
    with session_scope(settings.database_url) as session:
        outcome = upsert_account(session, None, {k: v for k, v in values.items() if v is not None})
    click.echo(f"account {name!r} {outcome}")


@click.group("users")
def users_group() -> None:
    """Users (submitters, request creators, followers): list, create."""


@users_group.command("create")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--slack-user-id", default=None, help="Slack member id (U…), for DMs.")
@click.option("--admin/--no-admin", default=None)
def users_create(
    email: str, name: str | None, slack_user_id: str | None, admin: bool | None
) -> None:
    """Add a user, or update one (by email)."""
    from gtm_feedback_dagster.catalog.entities import upsert_user

    settings = ready_settings()
    values = {"email": email, "name": name, "slack_user_id": slack_user_id, "is_admin": admin}
    with session_scope(settings.database_url) as session:
        outcome = upsert_user(session, None, {k: v for k, v in values.items() if v is not None})
    click.echo(f"user {email.strip().lower()} {outcome}")


@users_group.command("list")
@json_option
def users_list(as_json: bool) -> None:
    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        rows = listings.list_users(session)
    _emit(
        rows,
        as_json,
        lambda r: format_table(r, ["id", "email", "name", "slack_user_id", "admin", "entries"]),
    )


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
    for command in (
        requests_group,
        entries_group,
        areas_group,
        accounts_group,
        users_group,
        follow,
        unfollow,
    ):
        cli.add_command(command)
