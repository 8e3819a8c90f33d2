"""The production topology as separate processes, all on PostgreSQL: a Dagster gRPC code server,
dagster-webserver, dagster-daemon (instance from deploy/dagster.yaml), two `gtm-feedback serve`
replicas, the Slack client pointed at the stand-in. Feedback submitted over HTTP to both replicas
is routed by the daemon's sensor and announced to the Slack stand-in."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback
from tests.db_fixtures import create_pg_database, drop_pg_database
from tests.slack.support import add_people, seed_world
from tests.standins.slack_standin import SlackStandin

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
API_TOKEN = "topology-api-token"
DEADLINE_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, procs: list[subprocess.Popen]) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not up after {timeout} s")


def post_feedback(port: int, payload: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/feedback",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def dagster_pg(pg_server_url: str) -> Iterator[str]:
    url = create_pg_database(pg_server_url)
    try:
        yield url
    finally:
        drop_pg_database(pg_server_url, url)


def test_production_topology_routes_http_feedback_via_the_daemon(
    pg_url: str, dagster_pg: str, tmp_path: Path
) -> None:
    world = seed_world(pg_url, with_approval=False, firehose="billing")
    dagster_db = make_url(dagster_pg)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    grpc_port, web_port, intake_ports = free_port(), free_port(), (free_port(), free_port())
    (tmp_path / "workspace.yaml").write_text(
        (ROOT / "deploy" / "workspace.production.yaml")
        .read_text()
        .replace("port: 4000", f"port: {grpc_port}")
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    with SlackStandin() as slack:
        add_people(slack)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GTM_FEEDBACK_", "DAGSTER_", "SLACK_", "OPENAI_", "UPSTASH_"))
        }
        env.update(
            DAGSTER_HOME=str(home),
            DAGSTER_PG_HOST=dagster_db.host or "127.0.0.1",
            DAGSTER_PG_PORT=str(dagster_db.port or 5432),
            DAGSTER_PG_USER=dagster_db.username or "postgres",
            DAGSTER_PG_PASSWORD=dagster_db.password or "unused-with-trust-auth",
            DAGSTER_PG_DB=str(dagster_db.database),
            PGSSLMODE="prefer",
            GTM_FEEDBACK_HOME=str(tmp_path / "gtm_home"),
            GTM_FEEDBACK_DATABASE_URL=pg_url,
            GTM_FEEDBACK_DB_POOL_SIZE="2",
            GTM_FEEDBACK_DB_MAX_OVERFLOW="2",
            GTM_FEEDBACK_APP_URL=world.settings.app_url,
            GTM_FEEDBACK_SLACK_BASE_URL=slack.api_url,
            GTM_FEEDBACK_API_TOKEN=API_TOKEN,
            SLACK_BOT_TOKEN=slack.token,
            HF_HUB_OFFLINE="1",
        )

        def start(name: str, *args: str) -> subprocess.Popen:
            out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            proc = subprocess.Popen(
                [str(BIN / args[0]), *args[1:]],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs.append(proc)
            return proc

        try:
            # Instance tables once, before several processes would race to create them.
            subprocess.run(
                [str(BIN / "dagster"), "instance", "migrate"],
                env=env,
                cwd=tmp_path,
                check=True,
                capture_output=True,
                timeout=120,
            )
            start(
                "code-server",
                "dagster",
                "api",
                "grpc",
                "-m",
                "gtm_feedback_dagster.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(grpc_port),
            )
            for i, port in enumerate(intake_ports):
                start(f"intake-{i}", "gtm-feedback", "serve", "--port", str(port))
            start(
                "webserver",
                "dagster-webserver",
                "-h",
                "127.0.0.1",
                "-p",
                str(web_port),
                "-w",
                "workspace.yaml",
            )
            start("daemon", "dagster-daemon", "run", "-w", "workspace.yaml")
            for port in intake_ports:
                wait_http(f"http://127.0.0.1:{port}/healthz", 90, procs)
            wait_http(f"http://127.0.0.1:{web_port}/server_info", 120, procs)

            pains = [
                "Acme cannot get invoices in euros, their finance team needs EUR invoices",
                "Acme asks for invoices in their own currency (euros) for the EU entity",
            ]
            entry_ids = []
            for port, pain in zip(intake_ports, pains, strict=True):
                status, body = post_feedback(
                    port,
                    {
                        "customer_pain": pain,
                        "severity": "high",
                        "account": "Acme",
                        "submitter": "ana@example.com",
                    },
                )
                assert status in (200, 201, 202), (status, body)
                entry_ids.append(int(body.get("id") or body.get("entry_id")))

            end = time.monotonic() + DEADLINE_S
            routed: dict[int, str] = {}
            while time.monotonic() < end:
                for p in procs:
                    assert p.poll() is None, f"{p.args} exited with {p.returncode}"
                with session_scope(pg_url) as session:
                    routed = {
                        e.id: e.status
                        for e in session.scalars(select(Feedback).where(Feedback.id.in_(entry_ids)))
                    }
                posted = slack.requests_to("/api/chat.postMessage")
                if posted and all(s != "pending" for s in routed.values()):
                    break
                time.sleep(2)
            else:
                tails = {
                    f.name: f.read_text(errors="replace")[-3000:] for f in sorted(logs.iterdir())
                }
                raise AssertionError(
                    f"not routed and announced in {DEADLINE_S} s: statuses {routed}, "
                    f"Slack calls {[r.path for r in slack.requests]}\n"
                    + "\n".join(f"--- {k}\n{v}" for k, v in tails.items())
                )
            assert set(routed) == set(entry_ids)
            assert slack.requests_to("/api/chat.postMessage")[0].headers["authorization"] == (
                f"Bearer {slack.token}"
            )
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
    assert not slack.errors, slack.errors
