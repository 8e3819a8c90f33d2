"""`gtm-feedback db upgrade|current`: schema migrations of the app database."""

from __future__ import annotations

import click

from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.store import db


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group("db")
def db_group() -> None:
    """App database schema (SQLite by default, PostgreSQL via GTM_FEEDBACK_DATABASE_URL)."""


@db_group.command("upgrade")
def upgrade() -> None:
    """Create or migrate the app database to the latest schema."""
    settings = load_settings()
    db.upgrade(settings.database_url)
    click.echo(
        f"database at {_redacted(settings.database_url)} is at revision "
        f"{db.current_revision(settings.database_url)}"
    )


@db_group.command("current")
def current() -> None:
    """Show the schema revision of the app database."""
    settings = load_settings()
    click.echo(
        db.current_revision(settings.database_url) or "empty (run `gtm-feedback db upgrade`)"
    )


def register(cli: click.Group) -> None:
    cli.add_command(db_group)
