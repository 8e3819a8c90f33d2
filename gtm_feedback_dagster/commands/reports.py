"""Analyst commands: `gtm-feedback report AREA` (builds a missing report), `gtm-feedback
digest`, `gtm-feedback requests duplicates` and `gtm-feedback requests merge DUPLICATE INTO`."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click

from gtm_feedback_dagster.analytics.render import strip_images
from gtm_feedback_dagster.config import Settings, load_settings
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


def build_area_report(settings: Settings, slug: str, day: date | None) -> bool:
    """Runs `area_insights_job` for the area in this process, on the local Dagster instance
    (the run shows in the UI and can be re-executed there); True when it succeeded."""
    from gtm_feedback_dagster.commands.routing import QUIET_CONSOLE
    from gtm_feedback_dagster.definitions import defs
    from gtm_feedback_dagster.instance import local_instance
    from gtm_feedback_dagster.partitions import product_area_partitions

    instance = local_instance(settings)
    instance.add_dynamic_partitions(product_area_partitions.name or "product_area", [slug])
    run_config: dict[str, Any] = dict(QUIET_CONSOLE)
    if day is not None:
        run_config["ops"] = {"area_insight_report": {"config": {"day": day.isoformat()}}}
    result = defs.resolve_job_def("area_insights_job").execute_in_process(
        partition_key=slug,
        instance=instance,
        run_config=run_config,
        tags={"gtm/source": "cli"},
        raise_on_error=False,
    )
    return result.success


@click.command("report")
@click.argument("area")
@click.option("--day", help="The report of this day (YYYY-MM-DD); default: the latest.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's JSON instead.")
@click.option(
    "--build/--no-build",
    default=True,
    show_default=True,
    help="Build the report (area_insights_job, in this process) when there is none yet.",
)
def report_command(area: str, day: str | None, as_json: bool, build: bool) -> None:
    """Print the insight report of product AREA (slug, name or id); builds it first when the
    area has none yet (or none for --day)."""
    from gtm_feedback_dagster.analytics.data import get_report, report_days
    from gtm_feedback_dagster.store.repo import resolve_area

    wanted = _parse_day(day)
    settings = load_settings()
    with session_scope(settings.database_url) as session:
        product_area = resolve_area(session, area)
        slug, area_id = product_area.slug, product_area.id
        found = get_report(session, area_id, wanted) is not None
        days = report_days(session, area_id)
    if not found:
        if not build:
            if wanted is not None and days:
                raise ValueError(
                    f"no report for {slug} on {wanted.isoformat()} "
                    f"(reports: {', '.join(d.isoformat() for d in days)})"
                )
            raise ValueError(
                f"no insight report for {slug} yet: run `gtm-feedback report {slug}` (it builds "
                f"one), or materialize `area_insight_report` (partition {slug}) in the Dagster UI"
            )
        click.echo(f"no report for {slug} yet; building it (area_insights_job)…", err=True)
        if not build_area_report(settings, slug, wanted):
            raise click.ClickException(
                f"area_insights_job failed for {slug}; see the run in the Dagster UI (make ui)"
            )
    with session_scope(settings.database_url) as session:
        stored = get_report(session, area_id, wanted)
        if stored is None:  # the job wrote another day (default day is today in New York)
            stored = get_report(session, area_id)
        assert stored is not None
        if as_json:
            click.echo(json.dumps(stored.data, indent=2, sort_keys=True))
        else:
            click.echo(strip_images(stored.markdown), nl=False)


@click.command("digest")
@click.option("--as-of", help="End of the 7-day period (ISO date or datetime; default: now).")
@click.option(
    "--post",
    is_flag=True,
    help="Queue it for the digest Slack channel (once per ISO week) instead of only printing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the digest's JSON instead.")
def digest_command(as_of: str | None, post: bool, as_json: bool) -> None:
    """Show the weekly digest of the last 7 days; --post queues it for Slack (the daemon, or
    `gtm-feedback outbox send`, sends it)."""
    from datetime import UTC, datetime, timedelta

    from gtm_feedback_dagster.analytics.data import load_digest_data
    from gtm_feedback_dagster.analytics.digest import (
        compute_digest,
        digest_channel,
        iso_week,
        render_markdown,
        render_slack,
    )
    from gtm_feedback_dagster.messaging.outbox import enqueue

    settings = load_settings()
    if as_of:
        try:
            end = datetime.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter(
                f"expected an ISO date or datetime, got {as_of!r}", param_hint="--as-of"
            ) from None
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
    else:
        end = datetime.now(UTC)
    with session_scope(settings.database_url) as session:
        digest = compute_digest(load_digest_data(session, end - timedelta(days=7), end))
        queued = None
        if post:
            text, blocks = render_slack(digest, app_url=settings.app_url)
            queued = enqueue(
                session,
                kind="weekly_digest",
                dedupe_key=f"digest:{iso_week(end.date())}",
                text=text,
                channel=digest_channel(settings.digest_channel),
                blocks=blocks,
            )
    if as_json:
        click.echo(json.dumps(digest, indent=2, sort_keys=True))
    else:
        click.echo(render_markdown(digest, app_url=settings.app_url), nl=False)
    if post:
        week = iso_week(end.date())
        click.echo(
            f"queued the digest of {week} for {digest_channel(settings.digest_channel)}"
            if queued is not None
            else f"the digest of {week} was already queued; not queued again",
            err=True,
        )


@click.command("duplicates")
@click.option("--area", help="Only pairs with a request in this product area (slug, name or id).")
@click.option(
    "--min-similarity",
    type=float,
    default=DEFAULT_DUPLICATE_THRESHOLD,
    show_default=True,
    help="Title similarity (raw cosine of the embedder) from which a graph pair counts.",
)
@click.option(
    "--min-evidence",
    type=float,
    default=None,
    help="Evidence score (feedback text and titles, any areas) from which a pair counts; "
    "default: the shipped threshold (docs/design.md, duplicate detection).",
)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option(
    "--titles-only",
    is_flag=True,
    help="Only the related-request graph (titles), not the requests' feedback.",
)
def duplicates_command(
    area: str | None,
    min_similarity: float,
    min_evidence: float | None,
    limit: int,
    titles_only: bool,
) -> None:
    """List likely duplicate requests, with the evidence that linked them, the merge command
    and where their merge proposal stands: pairs from the related-request graph (titles) and
    open requests, in any areas, whose customers' feedback and titles say the same thing.
    Pairs kept apart ("keep both") are left out."""
    from gtm_feedback_dagster.requests.evidence_duplicates import EVIDENCE_THRESHOLD
    from gtm_feedback_dagster.requests.merge_proposals import likely_duplicates, proposal_states
    from gtm_feedback_dagster.runtime import Runtime

    settings = load_settings()
    evidence_threshold = EVIDENCE_THRESHOLD if min_evidence is None else min_evidence
    embedder = None if titles_only else Runtime.from_settings(settings).embedder
    with session_scope(settings.database_url) as session:
        found = likely_duplicates(
            session,
            area,
            min_similarity,
            limit,
            titles_only=titles_only,
            evidence_threshold=evidence_threshold,
            embedder=embedder,
        )
        states = proposal_states(session, [(c.duplicate_id, c.target_id) for c in found])
    if not found:
        click.echo(
            f"no likely duplicates at title similarity >= {min_similarity} (the graph is built "
            "by the related_request_graph asset)"
            + ("" if titles_only else f" nor at evidence >= {evidence_threshold}")
        )
        return
    for c in found:
        state = states.get((min(c.duplicate_id, c.target_id), max(c.duplicate_id, c.target_id)))
        proposal = (
            f"proposal {state.status} to {state.recipient} on {state.created_at:%Y-%m-%d}"
            if state
            else "not proposed yet (propose_merges_job, after the graph's next run)"
        )
        click.echo(
            f"{c.similarity:.3f}  #{c.duplicate_id} {c.duplicate_title}   [{c.basis}]\n"
            f"       ~ #{c.target_id} {c.target_title}\n"
            + (f"       evidence: {c.evidence}\n" if c.evidence else "")
            + f"       {c.merge_command}\n"
            f"       {proposal}"
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
    cli.add_command(digest_command)
    # The `requests` group belongs to commands/manage.py (loaded before this module); it is
    # created here only when that module is absent.
    requests_group = cli.commands.get("requests")
    if not isinstance(requests_group, click.Group):
        requests_group = _fallback_requests_group
        cli.add_command(requests_group)
    requests_group.add_command(duplicates_command)
    requests_group.add_command(merge_command)
