"""`gtm-feedback search` and `gtm-feedback route`.

`search` ranks existing requests for a text with a calibrated confidence and a short reason (the
same function routing uses). `route` routes every pending entry now, in this process, through
`route_feedback_job` on the local Dagster instance (DAGSTER_HOME), so the runs show up in the UI.
"""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from gtm_feedback_dagster.config import Settings, load_settings

QUIET_CONSOLE: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _search(
    settings: Settings, text: str, area: str | None, limit: int
) -> tuple[list[Any], str | None]:
    from gtm_feedback_dagster.routing.search import Search
    from gtm_feedback_dagster.runtime import Runtime
    from gtm_feedback_dagster.store import repo

    search = Search.from_runtime(Runtime.from_settings(settings))
    area_slug = None
    if area:
        with search.runtime.session() as s:
            area_slug = repo.resolve_area(s, area).slug
    # Requests added since the last embedding run become searchable right away (search syncs).
    results = search.search(text, area_slug, limit)
    return results, search.model_warning()


@click.command("search")
@click.argument("text")
@click.option("--area", default=None, help="Only requests of this product area (slug or name).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def search(text: str, area: str | None, limit: int, as_json: bool) -> None:
    """Find the feature requests closest to TEXT, most likely first."""
    settings = load_settings()
    if not text.strip():
        raise click.UsageError("TEXT is empty")
    results, warning = _search(settings, text, area, limit)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps([r.as_dict(settings.app_url) for r in results], indent=2))
        return
    if not results:
        click.echo("no requests found")
        return
    click.echo(f"{'#':>2}  {'conf':>5}  {'sim':>5}  request")
    for rank, result in enumerate(results, start=1):
        req = result.request
        click.echo(
            f"{rank:>2}  {result.confidence:5.2f}  {result.similarity:5.2f}  {req.title} "
            f"[{req.slug}] ({', '.join(req.area_slugs) or 'no area'}; {req.status})"
        )
        click.echo(f"{'':>18}{result.reason}")


@click.command("route")
@click.option(
    "--batch-size",
    default=None,
    type=click.IntRange(1, 10_000),
    help="Entries per run (default: GTM_FEEDBACK_ROUTE_BATCH_SIZE).",
)
def route(batch_size: int | None) -> None:
    """Route every pending feedback entry now (runs route_feedback_job in this process)."""
    from gtm_feedback_dagster.instance import local_instance
    from gtm_feedback_dagster.jobs.route_feedback import (
        ROUTE_OP_NAME,
        route_feedback_job,
        route_run_config,
    )
    from gtm_feedback_dagster.resources import build_resources
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import Feedback

    settings = load_settings()
    size = batch_size or settings.route_batch_size
    instance = local_instance(settings)
    resources = build_resources()
    totals = {"attach": 0, "ask": 0, "new": 0, "failed": 0, "skipped": 0}
    after = 0
    runs = 0
    while True:
        with session_scope(settings.database_url) as session:
            batch = list(
                session.scalars(
                    select(Feedback.id)
                    .where(Feedback.status == "pending", Feedback.id > after)
                    .order_by(Feedback.id)
                    .limit(size)
                )
            )
        if not batch:
            break
        after = batch[-1]  # each entry is tried once per invocation, even if it stays pending
        result = route_feedback_job.execute_in_process(
            # The run's events are in the Dagster UI; keep the terminal to the summary line.
            run_config={**route_run_config(batch), **QUIET_CONSOLE},
            instance=instance,
            resources=resources,
            tags={"gtm/route_pass": "cli"},
            raise_on_error=False,
        )
        runs += 1
        if not result.success:
            failure = next((e for e in result.all_events if e.is_failure and e.step_key), None)
            detail = failure.message if failure is not None else "see the run in the Dagster UI"
            raise click.ClickException(
                f"run {result.run_id} failed; entries stay pending: {detail}"
            )
        for tier, n in result.output_for_node(ROUTE_OP_NAME)["counts"].items():
            totals[tier] = totals.get(tier, 0) + n
    if runs == 0:
        click.echo("no pending feedback")
        return
    click.echo(
        f"routed in {runs} run(s): attached {totals['attach']}, asked the submitter "
        f"{totals['ask']}, new requests {totals['new']}, failed {totals['failed']}"
        + (f", already routed {totals['skipped']}" if totals["skipped"] else "")
    )


def register(cli: click.Group) -> None:
    cli.add_command(search)
    cli.add_command(route)
