"""`gtm-feedback export requests|feedback [--area] [--out]`."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from tests.intake.seed import seed_url


def _seed(url: str) -> None:
    seed_url(url)
    with session_scope(url) as session:
        request = repo.resolve_request(session, "dark-mode")
        for account, text in (("Acme", "=1+1 dark"), ("Acme", "@me dark"), ("Globex", "dark")):
            repo.add_feedback(
                session,
                {
                    "source": "cli",
                    "customer_pain": text,
                    "severity": "medium",
                    "account_id": repo.resolve_account(session, account).id,
                    "status": "routed",
                    "request_id": request.id,
                    "match_type": "manual",
                },
            )


def test_export_requests_to_a_file(app_env: str, tmp_path: Path) -> None:
    _seed(app_env)
    out = tmp_path / "requests.csv"
    result = CliRunner().invoke(
        cli, ["export", "requests", "--area", "Dashboards", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1 requests rows" in result.stderr
    frame = pd.read_csv(out)
    assert list(frame["slug"]) == ["dark-mode"]
    assert (int(frame["entries"][0]), int(frame["accounts"][0])) == (3, 2)
    assert float(frame["arr"][0]) == 150_000.0


def test_export_feedback_to_stdout_is_neutralised(app_env: str) -> None:
    _seed(app_env)
    result = CliRunner().invoke(cli, ["export", "feedback"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
    assert list(frame["customer_pain"]) == ["'=1+1 dark", "'@me dark", "dark"]
    assert set(frame["request_slug"]) == {"dark-mode"}


def test_export_refuses_unknown_area_and_kind(app_env: str) -> None:
    _seed(app_env)
    unknown = CliRunner().invoke(cli, ["export", "requests", "--area", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
    assert CliRunner().invoke(cli, ["export", "accounts"]).exit_code == 2
