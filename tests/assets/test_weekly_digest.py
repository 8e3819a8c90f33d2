"""`weekly_digest` materialized against a real app database: content and once-per-week queueing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from gtm_feedback_dagster.assets.weekly_digest import weekly_digest
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.repo import follow
from gtm_feedback_dagster.store.schema import Account, OutboxMessage, ProductArea, Request
from tests.analytics_seed import T0, entry, request, seed_report_world, set_status, user

AS_OF = T0 + timedelta(days=7)  # Monday 2026-03-09 12:00 UTC; the period starts at T0


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """In-memory instance: a fresh SQLite-backed one costs seconds per test."""
    return dg.DagsterInstance.ephemeral()


def run_digest(instance: dg.DagsterInstance, url: str, as_of: str) -> dict[str, Any]:
    result = dg.materialize(
        [weekly_digest],
        resources={"store": StoreResource(database_url=url)},
        instance=instance,
        run_config={"ops": {"weekly_digest": {"config": {"as_of": as_of}}}},
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("weekly_digest")
    return {k: v.value for k, v in mat.metadata.items()}


def seed_week(url: str) -> dict[str, int]:
    """seed_report_world's rows are all older than the period; add this week's activity."""
    with session_scope(url) as session:
        ids = seed_report_world(session).ids
        identity = session.get(ProductArea, ids["identity"])
        acme = session.get(Account, ids["acme"])
        initech = session.get(Account, ids["initech"])
        carol = user(session, "carol@example.com")
        new = request(session, "SCIM provisioning", [identity], created_at=T0 + timedelta(days=1))
        entry(session, new, acme, "high", carol, created_at=T0 + timedelta(days=1, hours=1))
        entry(
            session,
            session.get(Request, ids["r3"]),
            initech,
            "medium",
            created_at=T0 + timedelta(days=2),
        )
        # Outside the period: before it, and exactly at its end (the end is exclusive).
        entry(session, new, initech, "high", created_at=AS_OF)
        # Created this week for feedback given before it (what an import or the demo does):
        # not new this week, and its entry is outside the period.
        imported = request(
            session, "Imported older ask", [identity], created_at=T0 + timedelta(days=2)
        )
        entry(session, imported, initech, "high", created_at=T0 - timedelta(seconds=1))
        set_status(session, ids["r3"], "shipped", shipped_at=T0 + timedelta(days=3))
        follow(session, ids["alice"], ids["r3"])
        follow(session, carol.id, ids["r3"])
        ids["scim"] = new.id
    return ids


def outbox(url: str) -> list[OutboxMessage]:
    with session_scope(url) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_digest_content_and_once_per_week(
    db_url: str, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_DIGEST_CHANNEL_ID", raising=False)
    monkeypatch.setenv("GTM_FEEDBACK_APP_URL", "http://app.test")
    ids = seed_week(db_url)
    meta = run_digest(instance, db_url, AS_OF.isoformat())
    assert meta["week"] == "2026-W11" and meta["queued"] is True
    assert meta["channel"] == "gtm-feedback-digest"
    assert (meta["new_requests"], meta["new_entries"], meta["dealbreakers_added"]) == (1, 2, 1)
    assert meta["shipped"] == 1
    digest = meta["digest_json"]
    assert digest["shipped"][0]["id"] == ids["r3"] and digest["shipped"][0]["followers"] == 2
    assert digest["dealbreakers"][0]["id"] == ids["scim"]
    assert "[SCIM provisioning](http://app.test/requests/scim-provisioning)" in meta["digest"]

    (message,) = outbox(db_url)
    assert message.dedupe_key == "digest:2026-W11" and message.kind == "weekly_digest"
    assert message.channel == "gtm-feedback-digest" and message.user_id is None
    assert message.status == "queued"
    assert "<http://app.test/requests/scim-provisioning|SCIM provisioning>" in message.text
    assert message.blocks and message.blocks[0]["type"] == "header"

    # Later the same ISO week: nothing queued again.
    again = run_digest(instance, db_url, (AS_OF + timedelta(days=2)).isoformat())
    assert again["queued"] is False
    assert len(outbox(db_url)) == 1

    # The next week, with a configured channel: a second digest.
    monkeypatch.setenv("SLACK_DIGEST_CHANNEL_ID", "C0DIGEST")
    nxt = run_digest(instance, db_url, (AS_OF + timedelta(days=7)).date().isoformat())
    assert nxt["queued"] is True and nxt["week"] == "2026-W12"
    assert [m.channel for m in outbox(db_url)] == ["gtm-feedback-digest", "C0DIGEST"]
    assert nxt["new_requests"] == 0


def test_bad_as_of_fails_without_retry(app_env: str, instance) -> None:
    result = dg.materialize(
        [weekly_digest],
        resources={"store": StoreResource(database_url=app_env)},
        instance=instance,
        run_config={"ops": {"weekly_digest": {"config": {"as_of": "last monday"}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert outbox(app_env) == []


def test_reports_and_digest_declare_when_they_are_due() -> None:
    from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
    from gtm_feedback_dagster.assets.weekly_digest import weekly_digest

    daily = area_insight_report.specs_by_key[dg.AssetKey("area_insight_report")].freshness_policy
    weekly = weekly_digest.specs_by_key[dg.AssetKey("weekly_digest")].freshness_policy
    assert daily.deadline_cron == "0 9 * * *" and daily.timezone == "America/New_York"
    assert weekly.deadline_cron == "0 9 * * 1" and weekly.timezone == "America/New_York"
