"""A production code server without the Slack token fails to load instead of going quiet."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.resources.slack import slack_resource
from gtm_feedback_dagster.runtime import build_slack


def test_api_mode_without_a_token_fails_loudly(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_MODE", "api")
    settings = load_settings()
    with pytest.raises(dg.DagsterInvariantViolationError, match="SLACK_BOT_TOKEN is not set"):
        slack_resource(settings)
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN is not set"):
        build_slack(settings, None)
    # The code location itself refuses to load, as a code server would.
    loaded = subprocess.run(
        [sys.executable, "-c", "import gtm_feedback_dagster.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode != 0
    assert "GTM_FEEDBACK_SLACK_MODE=api but SLACK_BOT_TOKEN is not set" in loaded.stderr


def test_modes_with_and_without_a_token(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert slack_resource(load_settings()).bot_token is None  # auto, no token: outbox only
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-not-a-secret")
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_MODE", "api")
    assert slack_resource(load_settings()).get_client() is not None
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_MODE", "outbox")
    assert slack_resource(load_settings()).get_client() is None
    assert build_slack(load_settings(), "xoxb-test-not-a-secret") is None
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_MODE", "sometimes")
    with pytest.raises(ValueError, match="GTM_FEEDBACK_SLACK_MODE"):
        load_settings()
