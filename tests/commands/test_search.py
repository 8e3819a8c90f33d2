"""`gtm-feedback search` and `gtm-feedback route`, with the real local model."""

from __future__ import annotations

import json

import dagster as dg
from click.testing import CliRunner

from gtm_feedback_dagster.ai import local_model
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.cli import cli
from tests.routing.handmade import add_entry, counts, entry, seed_requests


def test_search_prints_ranked_requests(app_env: str, local_embedder: LocalEmbedder) -> None:
    seed_requests(app_env)
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "they need a PDF export of dashboards", "--limit", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Export dashboards to PDF" in lines[1]
    assert "similarity" in lines[2]
    assert len([line for line in lines if "[" in line]) == 3

    as_json = runner.invoke(
        cli, ["search", "sign in with okta", "--area", "access-management", "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert rows[0]["slug"] == "saml-single-sign-on-with-okta-and-azure-ad"
    assert all(r["areas"] == ["access-management"] for r in rows)
    assert {"confidence", "similarity", "reason", "url"} <= set(rows[0])


def test_search_reports_bad_input(app_env: str) -> None:
    seed_requests(app_env)
    runner = CliRunner()
    unknown = runner.invoke(cli, ["search", "pdf", "--area", "nowhere"])
    assert unknown.exit_code == 2 and "unknown product area" in unknown.output
    assert runner.invoke(cli, ["search", "  "]).exit_code == 2


def test_route_runs_the_job_on_the_local_instance(
    app_env: str, local_embedder: LocalEmbedder
) -> None:
    seeded = seed_requests(app_env)
    first = add_entry(app_env, "They need to export dashboards to PDF for the board.", seeded.alice)
    second = add_entry(app_env, "  ", seeded.bob)
    result = CliRunner().invoke(cli, ["route", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "routed in 2 run(s)" in result.output and "failed 1" in result.output
    assert entry(app_env, first).status in {"routed", "awaiting_approval"}
    assert entry(app_env, second).status == "failed"
    assert counts(app_env)["pending"] == 0
    # The runs live in the persistent instance (DAGSTER_HOME), visible in the UI.
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="route_feedback_job"))
        assert len(runs) == 2
    again = CliRunner().invoke(cli, ["route"])
    assert again.exit_code == 0 and "no pending feedback" in again.output
    assert local_model.MODEL_LOAD_COUNT == 1  # one model per process, however many runs
