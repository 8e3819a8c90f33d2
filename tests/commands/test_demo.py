"""`gtm-feedback demo` end to end on a small slice of the demo data (the real local model)."""

from __future__ import annotations

import dagster as dg
from click.testing import CliRunner
from sqlalchemy import func, select

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, InsightReport


def test_demo_routes_everything_and_builds_every_area_report(app_env: str, local_embedder) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["demo", "--entries", "40"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "=== gtm-feedback demo summary ===" in result.output
    assert "asset runs: {'area runs': 8, 'unpartitioned runs': 1}" in result.output
    with session_scope(app_env) as session:
        statuses = dict(
            session.execute(select(Feedback.status, func.count()).group_by(Feedback.status)).all()
        )
        reports = session.scalar(select(func.count()).select_from(InsightReport))
    assert statuses.get("pending", 0) == 0
    assert sum(statuses.values()) == 40
    assert reports == 8

    # The runs are on the persistent local instance, so the UI shows them.
    instance = dg.DagsterInstance.get()
    assert instance.get_runs(filters=dg.RunsFilter(job_name="route_feedback_job"))

    again = CliRunner().invoke(cli, ["demo", "--entries", "40", "--skip-assets"])
    assert again.exit_code == 0, again.output
    assert "no pending feedback" in again.output
