"""`gtm-feedback requests duplicates` lists merge proposals: where each stands, what linked each
pair (across areas too), and pairs kept apart are gone."""

from __future__ import annotations

from click.testing import CliRunner

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.requests.lifecycle import keep_both
from gtm_feedback_dagster.requests.merge_proposals import propose_merges
from gtm_feedback_dagster.store.db import session_scope
from tests.requests.duplicates_support import seed_catalogue
from tests.requests.merge_support import seed_pair


def listed() -> str:
    result = CliRunner().invoke(cli, ["requests", "duplicates", "--titles-only"])
    assert result.exit_code == 0, result.output
    return result.output


def test_duplicates_show_the_proposal_and_drop_pairs_kept_apart(app_env: str) -> None:
    pair = seed_pair(app_env)
    before = listed()
    assert f"#{pair.dup} EUR invoices for European customers" in before
    assert "not proposed yet" in before
    with session_scope(app_env) as session:
        propose_merges(session, pair.settings)
    assert "proposal queued to ana@example.com on " in listed()
    with session_scope(app_env) as session:
        keep_both(session, pair.dup, pair.keep)
    assert "no likely duplicates" in listed()


def test_duplicates_across_areas_say_which_evidence_linked_them(app_env: str) -> None:
    cat = seed_catalogue(app_env)
    result = CliRunner().invoke(cli, ["requests", "duplicates"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"#{cat.ids['upsert']} Upserts by primary key   [feedback text and titles]" in out
    assert f"~ #{cat.ids['dedup']} Deduplication of records on ingest" in out
    assert "evidence: feedback text " in out and "areas performance / data-ingestion" in out
    assert f"gtm-feedback requests merge {cat.ids['upsert']} {cat.ids['dedup']}" in out
    assert f"#{cat.ids['kpi']} What-matters-most analysis for any KPI" in out  # no entries kept

    per_area = CliRunner().invoke(cli, ["requests", "duplicates", "--area", "performance"])
    assert "Upserts by primary key" in per_area.output
    assert "What-matters-most" not in per_area.output

    strict = CliRunner().invoke(cli, ["requests", "duplicates", "--min-evidence", "0.99"])
    assert strict.exit_code == 0 and "nor at evidence >= 0.99" in strict.output
