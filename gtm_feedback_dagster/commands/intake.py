"""Intake commands: `submit`, `import`, `migrate-reference`, `serve`."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from gtm_feedback_dagster.commands.output import format_table, to_json
from gtm_feedback_dagster.config import Settings, load_secrets, load_settings
from gtm_feedback_dagster.core.validation import ValidationError
from gtm_feedback_dagster.store import db

SEVERITY_HELP = "low|medium|high, or Nice to have|Significant pain|Dealbreaker"
REPORT_LIMIT = 200  # rows of the validation report printed; --json has them all


def ready_settings() -> Settings:
    """Settings with the app database at the latest schema (a no-op when it already is)."""
    settings = load_settings()
    db.upgrade(settings.database_url)
    return settings


@click.command("submit")
@click.option("--text", "-t", required=True, help="The customer's pain, in their words.")
@click.option("--severity", "-s", required=True, help=SEVERITY_HELP)
@click.option("--account", "-a", required=True, help="Account id, CRM id, name or domain.")
@click.option("--submitter", "-u", required=True, help="User id, email or name.")
@click.option("--opportunity", "-o", default=None, help="Opportunity id, CRM id or name.")
@click.option("--link", "links", multiple=True, help="A related URL (repeatable).")
@click.option(
    "--external-id", default=None, help="Idempotency key: the same id is stored only once."
)
def submit(
    text: str,
    severity: str,
    account: str,
    submitter: str,
    opportunity: str | None,
    links: tuple[str, ...],
    external_id: str | None,
) -> None:
    """Submit one feedback entry; it is stored `pending` for routing."""
    from gtm_feedback_dagster.catalog.resolver import RefResolver
    from gtm_feedback_dagster.feedback.submission import store_feedback
    from gtm_feedback_dagster.feedback.validate import prepare_feedback

    settings = ready_settings()
    record = {
        "customer_pain": text,
        "severity": severity,
        "account": account,
        "submitter": submitter,
        "opportunity": opportunity,
        "links": list(links),
    }
    with db.session_scope(settings.database_url) as session:
        prepared = prepare_feedback(record, RefResolver(session), max_chars=settings.max_text_chars)
        if not prepared.valid:
            # The user is at the keyboard with the text in hand: refuse rather than store.
            raise ValidationError(prepared.problems)
        stored = store_feedback(
            session,
            prepared,
            source="cli",
            external_id=external_id.strip() if external_id else None,
            raw=record,  # kept only when the text had to be cleaned of control characters
            store_invalid=False,
            report_conflicts=True,
        )
    if stored.outcome == "conflict":
        raise ValidationError(
            [
                f"external id {external_id!r} is already stored with other content "
                f"(entry {stored.id}, {stored.status}); use another --external-id"
            ]
        )
    if stored.outcome == "existing":
        click.echo(f"entry {stored.id} already stored ({stored.status})")
    else:
        click.echo(f"entry {stored.id} stored ({stored.status})")


def _progress_bar(total: int, label: str) -> Any:
    """A progress bar on stderr, so stdout stays the report (and valid JSON with --json)."""
    return click.progressbar(
        length=max(total, 1), label=label, file=click.get_text_stream("stderr"), show_pos=True
    )


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["feedback", "areas", "users", "accounts", "opportunities", "requests"]),
    default=None,
    help="What the rows are; inferred from the header when left out.",
)
@click.option(
    "--route",
    is_flag=True,
    help="Feedback rows naming a request are stored pending so routing decides.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_file(file: Path, kind: str | None, route: bool, as_json: bool) -> None:
    """Import a CSV FILE (columns per kind: docs/import-formats.md).

    Prints a validation report and exits 1 when any row was invalid (invalid feedback rows are
    kept as `invalid` entries). Importing the same file again stores nothing twice.
    """
    from gtm_feedback_dagster.feedback.csv_import import import_csv

    settings = ready_settings()
    with ExitStack() as stack:
        bars: list[Any] = []

        def on_start(total: int) -> None:  # the row count is known once the file is parsed
            bars.append(stack.enter_context(_progress_bar(total, f"importing {file.name}")))

        report = import_csv(
            settings.database_url,
            file.read_bytes(),
            kind,
            route=route,
            max_chars=settings.max_text_chars,
            progress=lambda n: bars[0].update(n) if bars else None,
            on_start=on_start,
        )
    if as_json:
        click.echo(to_json(report.as_dict()))
    else:
        click.echo(
            f"{report.kind}: {report.rows} rows — created {report.created}, "
            f"existing {report.existing}, updated {report.updated}, invalid {report.invalid}"
        )
        if report.problems:
            rows = [
                {"line": p.line, "entry": p.entry_id, "reason": p.reason}
                for p in report.problems[:REPORT_LIMIT]
            ]
            click.echo("\ninvalid rows:")
            click.echo(format_table(rows, ["line", "entry", "reason"], widths={"reason": 160}))
            if len(report.problems) > REPORT_LIMIT:
                click.echo(f"… and {len(report.problems) - REPORT_LIMIT} more (use --json)")
            if report.kind == "feedback":
                click.echo(
                    "\ninvalid feedback rows are kept as `invalid` entries: fix the file and "
                    "import it again, or fix the references and run `gtm-feedback entries retry`"
                )
    if report.invalid:
        sys.exit(1)


@click.command("migrate-reference")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--route",
    is_flag=True,
    help="Store entries pending (no request) so routing decides, instead of keeping the export's.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def migrate_reference(file: Path, route: bool, as_json: bool) -> None:
    """Load an export of the reference GTM Feedback system (its seed JSON shape).

    Re-running it changes nothing; exits 1 when anything was invalid.
    """
    from gtm_feedback_dagster.feedback.reference_import import count_items, import_reference

    settings = ready_settings()
    try:
        data = json.loads(file.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file} is not valid JSON: {exc}") from None
    with _progress_bar(count_items(data), f"migrating {file.name}") as bar:
        summary = import_reference(
            settings.database_url,
            data,
            route=route,
            max_chars=settings.max_text_chars,
            progress=bar.update,
        )
    if as_json:
        click.echo(to_json(summary.as_dict()))
    else:
        rows = [{"kind": kind, **vars(counts)} for kind, counts in summary.counts.items()]
        click.echo(format_table(rows, ["kind", "created", "existing", "updated", "invalid"]))
        click.echo(f"done in {summary.seconds:.1f} s")
        if summary.problems:
            click.echo("\nproblems:")
            shown = [
                {
                    "kind": p.kind,
                    "index": p.index if p.index >= 0 else None,
                    "id": p.ref,
                    "kept": "invalid entry" if p.stored else "-",
                    "reason": p.reason,
                }
                for p in summary.problems[:REPORT_LIMIT]
            ]
            click.echo(
                format_table(
                    shown, ["kind", "index", "id", "kept", "reason"], widths={"reason": 140}
                )
            )
            more = len(summary.problems) - REPORT_LIMIT + summary.problems_dropped
            if more > 0:
                click.echo(f"… and {more} more (use --json)")
    if summary.invalid:
        sys.exit(1)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each loads the model once).",
)
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=True,
    show_default=True,
    help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a load balancer).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Proxies whose forwarded headers are trusted (comma-separated, or *); "
    "default: uvicorn's (FORWARDED_ALLOW_IPS or 127.0.0.1).",
)
@click.option(
    "--timeout-keep-alive",
    default=75,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds an idle keep-alive connection stays open: longer than clients' connection "
    "pools keep one (httpx 5 s) and load balancers' idle timeouts (60 s on AWS ALB).",
)
def serve(
    host: str,
    port: int,
    workers: int,
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
    timeout_keep_alive: int,
) -> None:
    """Run the intake service (HTTP feedback API, Slack endpoints, request pages) with uvicorn."""

    import uvicorn

    from gtm_feedback_dagster.intake.api import API_TOKEN_ENV

    ready_settings()
    if not load_secrets().api_token:
        click.echo(
            f"warning: {API_TOKEN_ENV} is not set; /api/feedback answers 503 until it is",
            err=True,
        )
    # The factory form lets uvicorn start several workers; each builds its own runtime and
    # warms search at start-up (`/healthz` says "warming" until it is "ready").
    uvicorn.run(
        "gtm_feedback_dagster.intake.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        # uvicorn's default (5 s) is httpx's pool expiry too: a request sent on a connection idle
        # for almost 5 s, to a server whose loop was held up (a loaded machine), can find the
        # keep-alive timer fired before the request is read; the connection is reset with the
        # request unread (the load run's "no answer"; tests/reliability/test_load.py).
        timeout_keep_alive=timeout_keep_alive,
        log_level="info",
        **serve_log_options(),
    )


def serve_log_options() -> dict[str, Any]:
    """uvicorn's `log_config` for GTM_FEEDBACK_LOG_FORMAT=json (its own format otherwise)."""
    from gtm_feedback_dagster.config import log_format
    from gtm_feedback_dagster.core.logs import logging_config

    fmt = log_format()
    return {"log_config": logging_config(fmt)} if fmt == "json" else {}


def register(cli: click.Group) -> None:
    for command in (submit, import_file, migrate_reference, serve):
        cli.add_command(command)
