"""`gtm-feedback search` answered by a running intake service, and the service's warm-up."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.intake.app import create_app
from gtm_feedback_dagster.store import db
from tests.routing.handmade import seed_requests

TOKEN = "test-token-not-a-secret"


@pytest.fixture
def service(
    app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_embedder: LocalEmbedder
) -> Iterator[str]:
    """A warmed-up service on its own database (the CLI's database stays empty, so results can
    only have come from the service)."""
    monkeypatch.setenv("GTM_FEEDBACK_API_TOKEN", TOKEN)
    service_url = f"sqlite:///{tmp_path / 'service.db'}"
    db.upgrade(service_url)
    seed_requests(service_url)
    settings = dataclasses.replace(load_settings(), database_url=service_url)
    app = create_app(settings, warm=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    statuses: list[str] = []
    deadline = time.monotonic() + 120
    while True:
        try:
            status = httpx.get(f"{base}/healthz", timeout=5).json()["search"]
            statuses.append(status)
            if status in {"ready", "failed"}:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"service did not warm up: {statuses}"
        time.sleep(0.05)
    assert statuses[-1] == "ready", statuses
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_search_is_answered_by_the_running_service(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_SERVICE_URL", service)
    result = CliRunner().invoke(cli, ["search", "they need a PDF export of dashboards"])
    assert result.exit_code == 0, result.output
    assert "Export dashboards to PDF" in result.output.splitlines()[1]
    unknown = CliRunner().invoke(cli, ["search", "pdf", "--area", "nowhere"])
    assert unknown.exit_code == 2 and "unknown product area" in unknown.output


def test_search_falls_back_to_this_process_when_the_service_is_down(
    app_env: str, monkeypatch: pytest.MonkeyPatch, local_embedder: LocalEmbedder
) -> None:
    seed_requests(app_env)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GTM_FEEDBACK_SERVICE_URL", f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(cli, ["search", "they need a PDF export of dashboards"])
    assert result.exit_code == 0, result.output
    assert "unreachable" in result.output and "Export dashboards to PDF" in result.output


def test_healthz_reports_a_cold_search_without_warm_up(app_env: str) -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(load_settings())) as client:
        body = client.get("/healthz").json()
    assert body == {"ok": True, "search": "cold"}


def test_the_cli_prints_confidences_as_routing_formats_them() -> None:
    from gtm_feedback_dagster.commands.output import confidence_text
    from gtm_feedback_dagster.routing.decide import format_confidence

    for value in (None, 0.0, 0.8999, 0.9, 0.90000001, 0.123456, 0.995, 1.0, 0.07):
        assert confidence_text(value) == format_confidence(value), value
