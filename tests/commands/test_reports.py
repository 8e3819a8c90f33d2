"""`gtm-feedback report`, `requests duplicates` and `requests merge` through the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gtm_feedback_dagster.analytics.data import get_area, load_area_data, save_report
from gtm_feedback_dagster.analytics.render import (
    chart_markdown,
    render_chart_png,
    render_markdown,
)
from gtm_feedback_dagster.analytics.report import build_report
from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import OutboxMessage, Request, RequestRelation
from tests.analytics_seed import seed_report_world


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def world(app_env: str) -> dict[str, int]:
    with session_scope(app_env) as session:
        ids = seed_report_world(session).ids
        now = datetime.now(UTC)
        session.add_all(
            [
                RequestRelation(
                    request_id=ids["r2"],
                    related_id=ids["r1"],
                    similarity=0.97,
                    rank=1,
                    computed_at=now,
                ),
                RequestRelation(
                    request_id=ids["r1"],
                    related_id=ids["r2"],
                    similarity=0.97,
                    rank=1,
                    computed_at=now,
                ),
            ]
        )
    return ids


def store_report(url: str, day: date, with_image: bool = False) -> dict:
    with session_scope(url) as session:
        area = get_area(session, "identity")
        data = load_area_data(session, area, 0.6)
        report = build_report(data, day=day, generated_at=datetime.now(UTC))
        chart = chart_markdown(render_chart_png(report)) if with_image else None
        save_report(session, area.id, day, render_markdown(report, chart=chart), report)
    return report


def test_report_prints_latest_or_given_day(app_env: str, world: dict[str, int]) -> None:
    result = CliRunner().invoke(cli, ["report", "identity", "--no-build"])
    assert result.exit_code == 2
    assert "no insight report for identity yet" in result.output

    store_report(app_env, date(2026, 3, 1))
    store_report(app_env, date(2026, 3, 2), with_image=True)
    latest = run("report", "Identity")
    assert latest.exit_code == 0
    assert latest.output.startswith("# Identity — insights for 2026-03-02")
    assert "base64" not in latest.output and "chart: see Dagster UI" in latest.output
    assert "| SSO login with SAML | $300.0K | 2 | 1 |" in latest.output

    older = run("report", "identity", "--day", "2026-03-01")
    assert "insights for 2026-03-01" in older.output
    as_json = json.loads(run("report", "identity", "--json").output)
    assert as_json["day"] == "2026-03-02" and as_json["dealbreakers"]["totalArr"] == 550_000

    missing = CliRunner().invoke(cli, ["report", "identity", "--day", "2026-02-01", "--no-build"])
    assert missing.exit_code == 2 and "reports: 2026-03-02, 2026-03-01" in missing.output
    bad_day = CliRunner().invoke(cli, ["report", "identity", "--day", "yesterday"])
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    unknown = CliRunner().invoke(cli, ["report", "nope"])
    assert unknown.exit_code == 2 and "unknown product area 'nope'" in unknown.output


def test_duplicates_then_merge(app_env: str, world: dict[str, int]) -> None:
    listed = run("requests", "duplicates", "--area", "identity")
    assert listed.exit_code == 0
    command = f"gtm-feedback requests merge {world['r2']} {world['r1']}"
    assert "0.970" in listed.output and command in listed.output
    assert "no likely duplicates" in run("requests", "duplicates", "--area", "billing").output
    assert (
        "no likely duplicates"
        in run("requests", "duplicates", "--min-similarity", "0.99", "--titles-only").output
    )
    # Above every title similarity, the same pair is still found by what customers wrote.
    by_text = run("requests", "duplicates", "--min-similarity", "0.99").output
    assert "[feedback text and titles]" in by_text and command in by_text

    merged = run("requests", "merge", str(world["r2"]), str(world["r1"]))
    assert merged.exit_code == 0
    assert f"merged #{world['r2']} 'SAML SSO for admins' into #{world['r1']}" in merged.output
    again = run("requests", "merge", str(world["r2"]), str(world["r1"]))
    assert again.exit_code == 0 and "already merged" in again.output
    with session_scope(app_env) as session:
        assert session.get(Request, world["r2"]).status == "merged"
        keys = list(session.scalars(select(OutboxMessage.dedupe_key)))
    assert keys == [f"merged:{world['r2']}:{world['bob']}"]
    assert "no likely duplicates" in run("requests", "duplicates").output

    wrong = CliRunner().invoke(cli, ["requests", "merge", str(world["r1"]), str(world["r1"])])
    assert wrong.exit_code == 2 and "into itself" in wrong.output


def test_report_builds_a_missing_report_through_the_job(
    app_env: str, world: dict[str, int]
) -> None:
    built = CliRunner().invoke(cli, ["report", "identity", "--day", "2026-03-05"])
    assert built.exit_code == 0, built.output
    assert "building it (area_insights_job)" in built.output
    assert "# Identity — insights for 2026-03-05" in built.output
    assert "First report for this area." in built.output
    again = run("report", "identity", "--day", "2026-03-05")
    assert "building" not in again.output and "insights for 2026-03-05" in again.output


def test_digest_shows_and_posts_once(app_env: str, world: dict[str, int]) -> None:
    shown = run("digest", "--as-of", "2026-03-09")
    assert shown.exit_code == 0
    assert shown.output.startswith("# GTM feedback digest")
    assert "(first asked this week)" in shown.output
    with session_scope(app_env) as session:
        assert list(session.scalars(select(OutboxMessage.dedupe_key))) == []
    posted = run("digest", "--as-of", "2026-03-09", "--post")
    assert "queued the digest of 2026-W11" in posted.output
    again = run("digest", "--as-of", "2026-03-09", "--post")
    assert "already queued" in again.output
    with session_scope(app_env) as session:
        keys = list(session.scalars(select(OutboxMessage.dedupe_key)))
    assert keys == ["digest:2026-W11"]
    bad = CliRunner().invoke(cli, ["digest", "--as-of", "soon"])
    assert bad.exit_code == 2 and "ISO date" in bad.output
