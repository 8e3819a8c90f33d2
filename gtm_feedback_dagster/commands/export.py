"""`gtm-feedback export requests|feedback [--area AREA] [--out FILE]`: CSV for spreadsheets.

Cells a spreadsheet would evaluate as a formula are neutralised (`requests/export.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gtm_feedback_dagster.commands.intake import ready_settings
from gtm_feedback_dagster.requests import export
from gtm_feedback_dagster.store.db import engine_for, session_scope
from gtm_feedback_dagster.store.repo import resolve_area


@click.command("export")
@click.argument("what", type=click.Choice(["requests", "feedback"]))
@click.option("--area", help="Only this product area (slug, name or id).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE instead of standard output.",
)
def export_command(what: str, area: str | None, out: Path | None) -> None:
    """Export WHAT (requests with their demand, or feedback entries) as CSV."""
    settings = ready_settings()
    area_slug = None
    if area is not None:
        with session_scope(settings.database_url) as session:
            area_slug = resolve_area(session, area).slug
    build = export.requests_frame if what == "requests" else export.feedback_frame
    with engine_for(settings.database_url).connect() as conn:
        frame = build(conn, area_slug)
    if out is None:
        export.write_csv(frame, sys.stdout)
        return
    rows = export.write_csv(frame, out)
    click.echo(f"wrote {rows} {what} rows to {out}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(export_command)
