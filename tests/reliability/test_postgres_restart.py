"""PostgreSQL going away in the middle of a routing run — app database *and* Dagster storage on
it. The run must fail cleanly or retry (never hang, never leave half an entry applied); the next
sensor ticks finish the work; nothing is routed, followed or messaged twice.

CI cuts the run's connections (`pg_terminate_backend` on both databases, twice during the run):
the same failure as a restart for every open connection, without disturbing the machine's
server. The full run (GTM_FEEDBACK_FULL_RELIABILITY=1) restarts the real server with
`pg_ctlcluster ... restart` — once per run, and the server is brought back up whatever happens.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.reliability import invariants
from tests.reliability.crash import run_child, spec_for
from tests.reliability.recovery import Recovery
from tests.reliability.report import record
from tests.reliability.scale import FULL, rng
from tests.reliability.slack_ledger import compare
from tests.reliability.stack import Stack, open_stack
from tests.reliability.world import add_slack_people, seed_pending_world

ENTRIES = 60 if not FULL else 200
CUT_SECONDS = 2.5 if not FULL else 4.0


def _terminate_backends(server_url: str, databases: list[str]) -> int:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"
                    ),
                    {"names": databases},
                ).all()
            )
    finally:
        engine.dispose()


def _cluster_version() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]


def pg_ready(timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0:
            return True
        time.sleep(0.5)
    return False


def restart_server() -> None:
    """Restarts the machine's PostgreSQL (never stops it for good)."""
    version = _cluster_version()
    try:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            check=True,
            timeout=120,
        )
    finally:
        if not pg_ready():
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                timeout=120,
            )
            assert pg_ready(), "PostgreSQL did not come back"


def _route_under(
    stack: Stack, interrupt: Callable[[], int], label: str
) -> tuple[int | None, int, float, dict[str, int]]:
    recovery = Recovery(stack)
    recovery.prime()
    (request,) = recovery.tick("new_feedback")
    spec = spec_for(
        "route_feedback_job", request.run_config, stack.env, stack.instance, stack.log_path(label)
    )
    interruptions: list[int] = []
    started = time.monotonic()
    child = run_child(spec, while_running=lambda: interruptions.append(interrupt()))
    ran = time.monotonic() - started
    stack.slack.wait_idle()
    window = compare(stack.slack, stack.url).duplicates
    left = recovery.drain()
    final = compare(stack.slack, stack.url)
    problems = invariants.routing(stack.url) + invariants.outbox_delivered(stack.url)
    problems += [f"still pending {left}"] if any(left.values()) else []
    problems += [f"missing {dict(final.missing)}"] if final.missing else []
    if final.duplicates != window:
        problems.append(f"sent twice outside the crash window: {dict(final.duplicates - window)}")
    assert problems == [], problems
    return (
        child.exit_code,
        sum(interruptions),
        ran,
        {
            "messages": final.expected,
            "window_hits": sum(window.values()),
            "recovery_runs": recovery.runs,
        },
    )


@pytest.mark.postgres
def test_connections_cut_in_the_middle_of_a_routing_run(
    pg_server_url: str,
    pg_url: str,
    pg_dagster_instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    databases = [
        make_url(pg_url).database or "",
        make_url(pg_dagster_instance.run_storage.postgres_url).database or "",  # type: ignore[attr-defined]
    ]
    delays = rng("pg-terminate")
    with open_stack(pg_url, tmp_path / "home", monkeypatch, instance=pg_dagster_instance) as stack:
        seed_pending_world(pg_url, ENTRIES, stack.openai.base_url)
        add_slack_people(stack.slack, pg_url)

        def cut_repeatedly() -> int:
            # Every few hundred ms for the first seconds of the run: idle pooled connections
            # and connections in the middle of a transaction alike.
            cut, until = 0, time.monotonic() + CUT_SECONDS
            while time.monotonic() < until:
                time.sleep(delays.uniform(0.1, 0.5))
                cut += _terminate_backends(pg_server_url, databases)
            return cut

        exit_code, cut, ran, figures = _route_under(stack, cut_repeatedly, "terminate")
        log = (tmp_path / "home" / "terminate.log").read_text(errors="replace")
    assert cut > 0, "no connection was cut: the run was not in the middle of anything"
    record(
        "postgres",
        fault=f"pg_terminate_backend every 0.1-0.5 s for {CUT_SECONDS} s (app + Dagster DBs)",
        transient_errors_in_the_run=log.count("transient failure, the op will retry"),
        op_retries=log.count("STEP_UP_FOR_RETRY"),
        entries=ENTRIES,
        connections_cut=cut,
        run_exit_code=exit_code,
        run_seconds=round(ran, 2),
        **figures,
    )


@pytest.mark.postgres
@pytest.mark.skipif(not FULL, reason="restarts the machine's PostgreSQL: full run only")
def test_server_restarted_in_the_middle_of_a_routing_run(
    pg_url: str,
    pg_dagster_instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays = rng("pg-restart")
    with open_stack(pg_url, tmp_path / "home", monkeypatch, instance=pg_dagster_instance) as stack:
        seed_pending_world(pg_url, ENTRIES, stack.openai.base_url)
        add_slack_people(stack.slack, pg_url)

        def restart() -> int:
            time.sleep(delays.uniform(0.5, 2.0))
            restart_server()
            return 1

        try:
            exit_code, _, ran, figures = _route_under(stack, restart, "restart")
        finally:
            assert pg_ready(), "PostgreSQL must be running after the test"
        log = (tmp_path / "home" / "restart.log").read_text(errors="replace")
    record(
        "postgres",
        fault="pg_ctlcluster restart",
        transient_errors_in_the_run=log.count("transient failure, the op will retry"),
        op_retries=log.count("STEP_UP_FOR_RETRY"),
        entries=ENTRIES,
        run_exit_code=exit_code,
        run_seconds=round(ran, 2),
        **figures,
    )
