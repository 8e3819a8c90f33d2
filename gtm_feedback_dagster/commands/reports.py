"""Analyst commands: `gtm-feedback report AREA`, `gtm-feedback requests duplicates` and
`gtm-feedback requests merge DUPLICATE INTO`."""

from __future__ import annotations

import json
from datetime import date

import click

from gtm_feedback_dagster.analytics.render import strip_images
from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.core.request_graph import DEFAULT_DUPLICATE_THRESHOLD
from gtm_feedback_dagster.store.db import session_scope


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected YYYY-MM-DD, got {value!r}", param_hint="--day"
        ) from None


@click.command("report")
@click.argument("area")
@click.option("--day", help="The report of this day (YYYY-MM-DD); default: the latest.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's JSON instead.")
def report_command(area: str, day: str | None, as_json: bool) -> None:
    """Print the insight report of product AREA (slug, name or id)."""
    from gtm_feedback_dagster.analytics.data import get_report, report_days
    from gtm_feedback_dagster.store.repo import resolve_area

    wanted = _parse_day(day)
    settings = load_settings()
    with session_scope(settings.database_url) as session:
        product_area = resolve_area(session, area)
        stored = get_report(session, product_area.id, wanted)
        if stored is None:
            days = report_days(session, product_area.id)
            if wanted is not None and days:
                raise ValueError(
                    f"no report for {product_area.slug} on {wanted.isoformat()} "
                    f"(reports: {', '.join(d.isoformat() for d in days)})"
                )
            raise ValueError(
                f"no insight report for {product_area.slug} yet: materialize "
                f"`area_insight_report` (partition {product_area.slug}) in the Dagster UI, or "
                "wait for the daily 08:00 schedule"
            )
        if as_json:
            click.echo(json.dumps(stored.data, indent=2, sort_keys=True))
        else:
            click.echo(strip_images(stored.markdown), nl=False)


@click.command("duplicates")
@click.option("--area", help="Only pairs involving this product area (slug, name or id).")
@click.option(
    "--min-similarity",
    type=float,
    default=DEFAULT_DUPLICATE_THRESHOLD,
    show_default=True,
    help="Similarity (raw cosine of the embedder) from which a pair counts as duplicate.",
)
@click.option("--limit", type=int, default=50, show_default=True)
def duplicates_command(area: str | None, min_similarity: float, limit: int) -> None:
    """List likely duplicate requests from the related-request graph, with the merge command."""
    from gtm_feedback_dagster.requests.merge import duplicate_candidates

    settings = load_settings()
    with session_scope(settings.database_url) as session:
        found = duplicate_candidates(session, area, min_similarity, limit)
    if not found:
        click.echo(
            f"no likely duplicates at similarity >= {min_similarity} (the graph is built by the "
            "related_request_graph asset)"
        )
        return
    for c in found:
        click.echo(
            f"{c.similarity:.3f}  #{c.duplicate_id} {c.duplicate_title}\n"
            f"       ~ #{c.target_id} {c.target_title}\n"
            f"       {c.merge_command}"
        )


@click.command("merge")
@click.argument("duplicate")
@click.argument("into")
def merge_command(duplicate: str, into: str) -> None:
    """Merge request DUPLICATE into request INTO (ids, slugs or URLs): entries and followers
    move, followers are told once, the duplicate is marked merged."""
    from gtm_feedback_dagster.requests.merge import merge_requests, remove_from_serving_index

    settings = load_settings()
    with session_scope(settings.database_url) as session:
        result = merge_requests(session, duplicate, into, settings.app_url)
    click.echo(result.summary())
    if not result.already_merged:
        warning = remove_from_serving_index(settings, result.duplicate_id)
        if warning:
            click.echo(f"warning: {warning}", err=True)


@click.group("requests")
def _fallback_requests_group() -> None:
    """Feature requests."""


def register(cli: click.Group) -> None:
    cli.add_command(report_command)
    # The `requests` group belongs to commands/manage.py (loaded before this module); it is
    # created here only when that module is absent.
    requests_group = cli.commands.get("requests")
    if not isinstance(requests_group, click.Group):
        requests_group = _fallback_requests_group
        cli.add_command(requests_group)
    requests_group.add_command(duplicates_command)
    requests_group.add_command(merge_command)
