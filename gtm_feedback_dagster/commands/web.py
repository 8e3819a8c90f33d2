"""`gtm-feedback web-login EMAIL`: print a one-time sign-in link to the request pages (for a
local setup without Slack; with Slack, the sign-in page sends the link as a DM)."""

from __future__ import annotations

import click


@click.command("web-login")
@click.argument("email")
@click.option(
    "--next",
    "next_path",
    default="/requests",
    show_default=True,
    help="Page to open after signing in.",
)
def web_login(email: str, next_path: str) -> None:
    """Print a sign-in link for the user EMAIL (valid 15 minutes, once)."""
    from sqlalchemy import func, select

    from gtm_feedback_dagster.commands.intake import ready_settings
    from gtm_feedback_dagster.config import load_secrets
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import User
    from gtm_feedback_dagster.web.auth import Signer, load_web_secret, login_link

    settings = ready_settings()
    with session_scope(settings.database_url) as session:
        user = session.scalars(
            select(User).where(func.lower(User.email) == email.strip().lower())
        ).first()
        if user is None:
            raise click.ClickException(f"unknown user {email!r} (see `gtm-feedback users list`)")
        signer = Signer(load_web_secret(settings, load_secrets()))
        link = login_link(signer, session, settings.app_url, user.email, next_path)
    click.echo(link)


def register(cli: click.Group) -> None:
    cli.add_command(web_login)
