"""CLI calls that need no model never import one: no torch, sentence-transformers or ONNX
Runtime in the process (issue 14). Each command runs in a fresh interpreter, exactly as the
`gtm-feedback` console script starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

MODEL_MODULES = ("torch", "sentence_transformers", "onnxruntime", "transformers", "tokenizers")

# Runs `gtm_feedback_dagster.cli:main` (the console script's entry point) with the given
# arguments, then prints which model modules the process imported.
RUNNER = """
import json, sys
from gtm_feedback_dagster.cli import main
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["gtm-feedback", *args]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = [m for m in watched if m in sys.modules]
print("\\n@@" + json.dumps({"code": code, "heavy": heavy}))
"""


def _run(
    args: list[str], env: dict[str, str], cwd: Path, watched: tuple[str, ...] = MODEL_MODULES
) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(args), json.dumps(watched)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    marker = out.stdout.rsplit("\n@@", 1)
    assert len(marker) == 2, out.stdout + out.stderr
    return json.loads(marker[1])


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTM_FEEDBACK_")}
    env["GTM_FEEDBACK_HOME"] = str(tmp_path / "home")
    env["DAGSTER_HOME"] = str(tmp_path / "home" / "dagster_home")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def test_requests_list_never_imports_a_model(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert _run(["db", "upgrade"], cli_env, tmp_path)["code"] == 0
    result = _run(["requests", "list"], cli_env, tmp_path)
    assert result == {"code": 0, "heavy": []}


@pytest.mark.parametrize(
    "args", [["--help"], ["approvals", "list"], ["outbox"], ["requests", "list", "--json"]]
)
def test_other_calls_without_the_model_never_import_one(
    args: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert _run(["db", "upgrade"], cli_env, tmp_path)["code"] == 0
    result = _run(args, cli_env, tmp_path)
    assert result["heavy"] == [], args


class _SearchStandIn(BaseHTTPRequestHandler):
    """Answers GET /api/search like the intake service, with one result."""

    def do_GET(self) -> None:  # http.server calls it by this name
        body = json.dumps(
            {
                "results": [
                    {
                        "confidence": 0.8999,
                        "similarity": 0.71,
                        "title": "Export dashboards to PDF",
                        "slug": "export-dashboards-to-pdf",
                        "areas": ["dashboards"],
                        "status": "open",
                        "reason": "similar wording",
                    }
                ]
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def search_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SearchStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_search_answered_by_the_service_imports_no_model_nor_clients(
    cli_env: dict[str, str], tmp_path: Path, search_service: str
) -> None:
    # What this call costs is Python, the CLI and one HTTP request: no model, no Dagster, no
    # routing (its LLM client imports openai) and no httpx (0.3-1 s to import on 2 cores).
    cli_env["GTM_FEEDBACK_SERVICE_URL"] = search_service
    watched = (*MODEL_MODULES, "dagster", "openai", "httpx", "gtm_feedback_dagster.routing")
    result = _run(["search", "pdf export"], cli_env, tmp_path, watched)
    assert result == {"code": 0, "heavy": []}
