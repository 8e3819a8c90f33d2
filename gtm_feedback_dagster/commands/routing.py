"""`gtm-feedback search` and `gtm-feedback route`.

`search` ranks existing requests for a text with a calibrated confidence and a short reason (the
same function routing uses). `route` routes every pending entry now, in this process, through
`route_feedback_job` on the local Dagster instance (DAGSTER_HOME), so the runs show up in the UI.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any, ClassVar

import click
from sqlalchemy import func, select

from gtm_feedback_dagster.config import Settings, load_settings

QUIET_CONSOLE: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _search_locally(
    settings: Settings, text: str, area: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
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
    return [r.as_dict(settings.app_url) for r in results], search.model_warning()


def _search_service(
    settings: Settings, text: str, area: str | None, limit: int
) -> list[dict[str, Any]] | None:
    """Results from the running intake service (its model is already loaded), or None when it
    cannot be reached (the caller then searches in this process). The standard library's
    client: importing httpx cost 0.3-1 s of this call, which otherwise needs no more than the
    baseline `requests list`."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from gtm_feedback_dagster.config import load_secrets

    params: dict[str, Any] = {"q": text, "limit": limit}
    if area:
        params["area"] = area
    token = load_secrets().api_token or ""
    request = urllib.request.Request(
        f"{settings.service_url}/api/search?{urllib.parse.urlencode(params)}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30.0) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:  # an answer, with a 4xx/5xx status
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:  # refused, unresolvable, timed out
        reason = getattr(exc, "reason", exc)
        click.echo(
            f"warning: {settings.service_url} unreachable ({reason}); searching here", err=True
        )
        return None
    if status == 400:
        try:
            message = json.loads(body).get("error") or body.decode("utf-8", "replace")
        except ValueError:
            message = body.decode("utf-8", "replace")
        raise click.UsageError(message)
    if status != 200:
        click.echo(
            f"warning: {settings.service_url} answered {status}; searching here",
            err=True,
        )
        return None
    return list(json.loads(body)["results"])


def _search(
    settings: Settings, text: str, area: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    if settings.service_url:
        results = _search_service(settings, text, area, limit)
        if results is not None:
            return results, None
    return _search_locally(settings, text, area, limit)


@click.command("search")
@click.argument("text")
@click.option("--area", default=None, help="Only requests of this product area (slug or name).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def search(text: str, area: str | None, limit: int, as_json: bool) -> None:
    """Find the feature requests closest to TEXT, most likely first.

    With GTM_FEEDBACK_SERVICE_URL set, the running intake service answers (no model start-up
    here); otherwise, or when it is unreachable, this process searches."""
    settings = load_settings()
    if not text.strip():
        raise click.UsageError("TEXT is empty")
    results, warning = _search(settings, text, area, limit)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    if not results:
        click.echo("no requests found")
        return
    from gtm_feedback_dagster.commands.output import confidence_text

    click.echo(f"{'#':>2}  {'conf':>5}  {'sim':>5}  request")
    for rank, row in enumerate(results, start=1):
        click.echo(
            f"{rank:>2}  {confidence_text(row['confidence']):>5}  {row['similarity']:5.2f}  "
            f"{row['title']} "
            f"[{row['slug']}] ({', '.join(row['areas']) or 'no area'}; {row['status']})"
        )
        click.echo(f"{'':>18}{row['reason']}")


class StopSignals:
    """SIGTERM and SIGINT ask `route` to stop, whatever disposition the parent gave them (some
    supervisors start children with both ignored).

    Between runs our handler takes them. While a run executes, Dagster's in-process execution
    owns both and interrupts the op; each entry is applied in its own transaction, so the
    entries before the interrupted one stay routed and the one in hand stays pending. Which
    signal it was is read from the wakeup fd, which sees every signal whoever handles it."""

    EXIT_CODES: ClassVar[dict[signal.Signals, int]] = {signal.SIGTERM: 143, signal.SIGINT: 130}

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._previous_fd = -1
        self._pipe: tuple[int, int] | None = None

    def _handle(self, signum: int, _frame: Any) -> None:
        self._note(signum)

    def _note(self, signum: int) -> None:
        if self.received is None and signum in self.EXIT_CODES:
            self.received = signal.Signals(signum)
            click.echo(
                f"{self.received.name}: stopping (each entry is committed on its own; "
                "nothing is lost)",
                err=True,
            )

    def __enter__(self) -> StopSignals:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._pipe = (read_fd, write_fd)
        self._previous_fd = signal.set_wakeup_fd(write_fd)
        self._install()
        return self

    def _install(self) -> None:
        for sig in self.EXIT_CODES:
            previous = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, previous)

    def checkpoint(self) -> bool:
        """Notes any signal that arrived during the last run; True when asked to stop."""
        if self._pipe is not None:
            try:
                for signum in os.read(self._pipe[0], 1024):
                    self._note(signum)
            except BlockingIOError:
                pass
        self._install()  # Dagster re-points both handlers while it runs
        return self.received is not None

    def __exit__(self, *exc: object) -> None:
        self.checkpoint()
        signal.set_wakeup_fd(self._previous_fd)
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)

    @property
    def exit_code(self) -> int:
        return self.EXIT_CODES[self.received] if self.received is not None else 0


@click.command("route")
@click.option(
    "--batch-size",
    default=None,
    type=click.IntRange(1, 10_000),
    help="Entries per run (default: GTM_FEEDBACK_ROUTE_BATCH_SIZE).",
)
def route(batch_size: int | None) -> None:
    """Route every pending feedback entry now (runs route_feedback_job in this process).

    SIGTERM or SIGINT stop it after the batch in hand; it prints what was routed and what is
    left and exits 143 or 130."""
    from gtm_feedback_dagster.instance import local_instance
    from gtm_feedback_dagster.resources import build_resources
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import Feedback

    settings = load_settings()
    size = batch_size or settings.route_batch_size
    instance = local_instance(settings)
    resources = build_resources()
    totals = {"attach": 0, "ask": 0, "new": 0, "failed": 0, "skipped": 0, "waiting": 0}
    with StopSignals() as stop:
        runs, _after = _route_runs(settings, size, instance, resources, totals, stop)
    if stop.received is not None:
        with session_scope(settings.database_url) as session:
            left = session.scalar(
                select(func.count()).select_from(Feedback).where(Feedback.status == "pending")
            )
        click.echo(
            f"stopped by {stop.received.name} after {runs} run(s): attached {totals['attach']}, "
            f"asked the submitter {totals['ask']}, new requests {totals['new']}, failed "
            f"{totals['failed']}; {left} entries left pending (run `gtm-feedback route` again)"
        )
        sys.exit(stop.exit_code)
    if runs == 0:
        click.echo("no pending feedback")
        return
    click.echo(
        f"routed in {runs} run(s): attached {totals['attach']}, asked the submitter "
        f"{totals['ask']}, new requests {totals['new']}, failed {totals['failed']}"
        + (f", already routed {totals['skipped']}" if totals["skipped"] else "")
        + (
            f", waiting for the LLM judge {totals['waiting']} (pending: a later run retries "
            "them, then asks a person)"
            if totals["waiting"]
            else ""
        )
    )


def _route_runs(
    settings: Settings,
    size: int,
    instance: Any,
    resources: dict[str, Any],
    totals: dict[str, int],
    stop: StopSignals,
) -> tuple[int, int]:
    from gtm_feedback_dagster.jobs.route_feedback import (
        ROUTE_OP_NAME,
        route_feedback_job,
        route_run_config,
    )
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import Feedback

    after = 0
    runs = 0
    while not stop.checkpoint():
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
        if not result.success and stop.checkpoint():
            break  # interrupted by the signal: the entries before the one in hand are routed
        if not result.success:
            failure = next((e for e in result.all_events if e.is_failure and e.step_key), None)
            detail = failure.message if failure is not None else "see the run in the Dagster UI"
            raise click.ClickException(
                f"run {result.run_id} failed; entries stay pending: {detail}"
            )
        for tier, n in result.output_for_node(ROUTE_OP_NAME)["counts"].items():
            totals[tier] = totals.get(tier, 0) + n
    return runs, after


@click.group("triage", invoke_without_command=True)
@click.pass_context
def triage(ctx: click.Context) -> None:
    """Feedback waiting for a product owner ("Not a match" or no answer in time): list it, then
    attach each entry to a request or create one (the same actions as the web /triage page)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(triage_list)


@triage.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def triage_list(limit: int, as_json: bool) -> None:
    """Entries in triage, oldest first."""
    from gtm_feedback_dagster.requests.triage import waiting_entries
    from gtm_feedback_dagster.routing.decide import format_confidence
    from gtm_feedback_dagster.store.db import session_scope

    settings = load_settings()
    with session_scope(settings.database_url) as session:
        rows = waiting_entries(session, limit)
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("nothing in triage")
        return
    for row in rows:
        answer = "not a match" if row["answer"] == "rejected" else "no answer"
        pain = " ".join(str(row["pain"]).split())
        click.echo(
            f"#{row['entry_id']}  {answer}; suggested #{row['request']['id']} "
            f"{row['request']['title']} ({format_confidence(row['confidence'])})\n"
            f"      {pain[:200]}"
        )
    click.echo(
        "attach: gtm-feedback triage attach ENTRY [REQUEST]; create: gtm-feedback triage create "
        f"ENTRY; or {settings.app_url}/triage"
    )


@triage.command("attach")
@click.argument("entry_id", type=click.IntRange(1, 2**63 - 1))
@click.argument("request_id", required=False, type=click.IntRange(1, 2**63 - 1))
def triage_attach(entry_id: int, request_id: int | None) -> None:
    """Attach ENTRY_ID to REQUEST_ID (default: the suggestion it was asked about)."""
    from gtm_feedback_dagster.routing import triage as use_case
    from gtm_feedback_dagster.runtime import Runtime

    try:
        outcome = use_case.attach(
            Runtime.from_settings(load_settings()), entry_id, request_id, "cli"
        )
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    click.echo(f"entry #{entry_id}: {outcome.replace('_', ' ')}")


@triage.command("create")
@click.argument("entry_id", type=click.IntRange(1, 2**63 - 1))
def triage_create(entry_id: int) -> None:
    """Create a new request from ENTRY_ID."""
    from gtm_feedback_dagster.routing import triage as use_case
    from gtm_feedback_dagster.runtime import Runtime

    try:
        outcome = use_case.create(Runtime.from_settings(load_settings()), entry_id, "cli")
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    click.echo(f"entry #{entry_id}: {outcome.replace('_', ' ')}")


def register(cli: click.Group) -> None:
    cli.add_command(search)
    cli.add_command(route)
    cli.add_command(triage)
