"""Catalogue commands: product areas, customer accounts, users (list, show, create).

Lists and details print aligned plain-text tables; `--json` prints the same data for scripts.
"""

from __future__ import annotations

from typing import Any

import click

from gtm_feedback_dagster.catalog import entities, listings
from gtm_feedback_dagster.commands.intake import ready_settings
from gtm_feedback_dagster.commands.manage import emit, format_money, json_option
from gtm_feedback_dagster.commands.output import format_fields, format_table
from gtm_feedback_dagster.store.db import session_scope

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
    emit(
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
    emit(
        rows,
        as_json,
        lambda r: format_table(
            [{**row, "arr": format_money(row["arr"])} for row in r],
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
            ("arr", format_money(d["arr"])),
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
        [{**o, "arr": format_money(o["arr"])} for o in d["opportunities"]],
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
    emit(detail, as_json, _render_account)


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
    emit(
        rows,
        as_json,
        lambda r: format_table(r, ["id", "email", "name", "slack_user_id", "admin", "entries"]),
    )


def register(cli: click.Group) -> None:
    for command in (areas_group, accounts_group, users_group):
        cli.add_command(command)
