"""`gtm-feedback`: the command line.

Each module in `gtm_feedback_dagster/commands/` registers its own commands through a
`register(cli)` function, so one concern stays in one module; `COMMAND_MODULES` lists them.
"""

from __future__ import annotations

import sys
import warnings

import click

from gtm_feedback_dagster.commands import (
    catalog,
    db,
    demo,
    export,
    intake,
    manage,
    reports,
    routing,
    slack,
    web,
)


class FriendlyGroup(click.Group):
    """Turns expected errors (bad input, unknown references) into a message and exit code 2
    instead of a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        from gtm_feedback_dagster.core.validation import ValidationError
        from gtm_feedback_dagster.store.repo import NotFoundError

        try:
            return super().invoke(ctx)
        except (ValidationError, NotFoundError, ValueError) as exc:
            if isinstance(exc, click.ClickException):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="gtm-feedback-dagster")
def cli() -> None:
    """Customer feedback -> revenue-weighted feature requests, on Dagster."""


# Order matters where modules add to the same group (`requests`): manage creates it, reports
# adds `duplicates` and `merge` to it.
COMMAND_MODULES = (catalog, db, demo, export, intake, manage, reports, routing, slack, web)

for _module in COMMAND_MODULES:
    _module.register(cli)


def main() -> None:
    # Dagster flags some definition parameters (e.g. sensor owners) as beta on every load; the
    # warning is for library authors, not for someone running a command.
    warnings.filterwarnings("ignore", message=".*is currently in (beta|preview).*")
    from gtm_feedback_dagster.config import log_format
    from gtm_feedback_dagster.core.logs import configure_logging

    configure_logging(log_format())  # GTM_FEEDBACK_LOG_FORMAT=json: one JSON object per line
    cli(prog_name="gtm-feedback")


if __name__ == "__main__":
    main()
