"""JSON logs as an option: the formatter, the CLI/intake switch (GTM_FEEDBACK_LOG_FORMAT), the
intake service's access log as JSON lines, and the commented `python_logs` block of the deploy
instance files turning Dagster run logs into JSON lines."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml

from gtm_feedback_dagster.config import log_format
from gtm_feedback_dagster.core.logs import JsonFormatter, logging_config

ROOT = Path(__file__).resolve().parents[2]


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("gtm.test", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_json_formatter_writes_one_object_per_line() -> None:
    hostile = 'line one\nline "two" <script>\u202e'
    line = JsonFormatter().format(_record("entry %s: %s", 7, hostile, feedback_id=7))
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == f"entry 7: {hostile}"
    assert data["level"] == "WARNING" and data["logger"] == "gtm.test"
    assert data["feedback_id"] == 7 and data["ts"].endswith("+00:00")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    assert "RuntimeError: boom" in json.loads(JsonFormatter().format(record))["exc_info"]


def test_the_variable_chooses_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GTM_FEEDBACK_LOG_FORMAT", raising=False)
    assert log_format() == "text"
    monkeypatch.setenv("GTM_FEEDBACK_LOG_FORMAT", "JSON")
    assert log_format() == "json"
    monkeypatch.setenv("GTM_FEEDBACK_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="GTM_FEEDBACK_LOG_FORMAT"):
        log_format()
    with pytest.raises(ValueError):
        logging_config("xml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_logs_json_lines_with_the_access_log(app_env: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "GTM_FEEDBACK_LOG_FORMAT": "json", "GTM_FEEDBACK_API_TOKEN": "t"}
    err = (tmp_path / "serve.err").open("w+")
    cli = [sys.executable, "-m", "gtm_feedback_dagster.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, "serve did not start"
                time.sleep(0.3)
        time.sleep(0.5)  # let the access line reach the file
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    err.seek(0)
    lines = [line for line in err.read().splitlines() if line.strip()]
    assert lines, "no log output"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(r["path"] == "/healthz" and r["status"] == 200 for r in access), access
    assert any(r["logger"].startswith("uvicorn") and r["level"] == "INFO" for r in records)


def _commented_block(path: Path) -> dict:
    text = path.read_text()
    found = re.search(r"^# python_logs:\n(?:#   .*\n)+", text, re.MULTILINE)
    assert found, f"no commented python_logs block in {path}"
    body = "\n".join(line[2:] for line in found.group(0).splitlines())
    return yaml.safe_load(body)


@pytest.mark.parametrize("name", ["dagster.yaml", "docker/dagster.yaml"])
def test_the_deploy_python_logs_block_makes_run_logs_json(
    name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    overrides = _commented_block(ROOT / "deploy" / name)

    @dg.op
    def say(context) -> None:  # type: ignore[no-untyped-def]  # (a string annotation is refused)
        context.log.info("routed entry 42")

    @dg.job
    def logged() -> None:
        say()

    with dg.instance_for_test(overrides=overrides) as instance:
        assert logged.execute_in_process(instance=instance).success
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    messages = [json.loads(line)["message"] for line in lines]
    assert any("routed entry 42" in m for m in messages), messages
    assert any("RUN_SUCCESS" in m or "Finished execution" in m for m in messages)
