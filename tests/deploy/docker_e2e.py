"""`make docker-test`: the compose stack from the built image, end to end.

Host PostgreSQL (127.0.0.1:5432) holds both databases; the Slack stand-in runs in this process.
Submits feedback over HTTP to the intake container and waits until the daemon in its container has
routed it and a Slack message reached the stand-in. Runs use the DefaultRunLauncher
(GTM_FEEDBACK_DAGSTER_HOME=/opt/dagster/home) unless DOCKER_TEST_LAUNCHER=docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback
from tests.db_fixtures import PG_SERVER_URL, create_pg_database, drop_pg_database
from tests.deploy.test_topology import API_TOKEN, free_port, post_feedback, wait_http
from tests.slack.support import add_people, seed_world
from tests.standins.slack_standin import SlackStandin

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = [
    os.environ.get("COMPOSE", "docker-compose"),
    "-f",
    str(ROOT / "deploy/docker-compose.yaml"),
]


def main() -> int:
    server = db.normalize_url(PG_SERVER_URL)
    app_url = create_pg_database(server)
    dagster_url = make_url(create_pg_database(server))
    db.upgrade(app_url)
    world = seed_world(app_url, with_approval=False, firehose="billing")
    port = free_port()
    with SlackStandin() as slack:
        add_people(slack)
        env = dict(os.environ)
        env.update(
            GTM_FEEDBACK_IMAGE=os.environ.get("GTM_FEEDBACK_IMAGE", "gtm-feedback:test"),
            GTM_FEEDBACK_DAGSTER_HOME="/opt/dagster/docker"
            if os.environ.get("DOCKER_TEST_LAUNCHER") == "docker"
            else "/opt/dagster/home",
            DAGSTER_PG_HOST="127.0.0.1",
            DAGSTER_PG_PORT=str(dagster_url.port or 5432),
            DAGSTER_PG_USER=dagster_url.username or "postgres",
            DAGSTER_PG_PASSWORD="unused-with-trust-auth",
            DAGSTER_PG_DB=str(dagster_url.database),
            DAGSTER_WEBSERVER_PORT=str(free_port()),
            GTM_FEEDBACK_DATABASE_URL=app_url,
            GTM_FEEDBACK_API_TOKEN=API_TOKEN,
            GTM_FEEDBACK_PORT=str(port),
            GTM_FEEDBACK_APP_URL=world.settings.app_url,
            GTM_FEEDBACK_SLACK_BASE_URL=slack.api_url,
            SLACK_BOT_TOKEN=slack.token,
        )
        # The production workspace names port 4000; keep it unless told otherwise.
        env["DAGSTER_GRPC_PORT"] = "4000"
        try:
            subprocess.run([*COMPOSE, "up", "-d"], env=env, check=True, timeout=600)
            wait_http(f"http://127.0.0.1:{port}/healthz", 180, [])
            status, body = post_feedback(
                port,
                {
                    "customer_pain": "Acme cannot get invoices in euros for the EU entity",
                    "severity": "high",
                    "account": "Acme",
                    "submitter": "ana@example.com",
                },
            )
            assert status in (200, 201, 202), (status, body)
            entry_id = int(body.get("id") or body.get("entry_id"))
            end = time.monotonic() + 300
            while time.monotonic() < end:
                with session_scope(app_url) as session:
                    state = session.scalar(select(Feedback.status).where(Feedback.id == entry_id))
                if state != "pending" and slack.requests_to("/api/chat.postMessage"):
                    print(f"docker-test: entry {entry_id} {state}; Slack message delivered")
                    return 0
                time.sleep(3)
            subprocess.run([*COMPOSE, "logs", "--tail", "80"], env=env, check=False)
            print(f"docker-test: entry {entry_id} still {state} after 300 s", file=sys.stderr)
            return 1
        finally:
            subprocess.run([*COMPOSE, "down", "-v"], env=env, check=False, timeout=180)
            drop_pg_database(server, app_url)
            drop_pg_database(server, dagster_url.render_as_string(hide_password=False))


if __name__ == "__main__":
    sys.exit(main())
