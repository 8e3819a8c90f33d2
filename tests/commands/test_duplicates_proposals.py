"""`gtm-feedback requests duplicates` lists merge proposals: where each stands, and pairs kept
apart are gone."""

from __future__ import annotations

from click.testing import CliRunner

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.requests.lifecycle import keep_both
from gtm_feedback_dagster.requests.merge_proposals import propose_merges
from gtm_feedback_dagster.store.db import session_scope
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
