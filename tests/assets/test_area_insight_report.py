"""`area_insight_report` materialized (with the graph it depends on) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select, text

from gtm_feedback_dagster.assets.area_demand import IO_MANAGER_KEY, TABLE_NAME, area_demand
from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
from gtm_feedback_dagster.assets.related_request_graph import related_request_graph
from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.resources.ai import LLMResource, resources_for
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.resources.table_io import DatabaseTableIOManager
from gtm_feedback_dagster.store.db import engine_for, session_scope
from gtm_feedback_dagster.store.schema import Account, InsightReport, Request
from tests.analytics_seed import entry, seed_report_world


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """In-memory instance: a fresh SQLite-backed one costs seconds per test."""
    inst = dg.DagsterInstance.ephemeral()
    inst.add_dynamic_partitions("product_area", ["identity", "billing"])
    return inst


def _llm() -> LLMResource:
    """The LLM resource as the code location binds it (none unless GTM_FEEDBACK_LLM_MODEL)."""
    return resources_for(load_settings())["llm"]


def _resources(url: str) -> dict[str, Any]:
    return {
        "store": StoreResource(database_url=url),
        "llm": _llm(),
        IO_MANAGER_KEY: DatabaseTableIOManager(database_url=url),
    }


def materialize(
    instance: dg.DagsterInstance,
    url: str,
    area: str = "identity",
    day: str = "2026-03-02",
    selection: list[Any] | None = None,
) -> dg.ExecuteInJobResult:
    result = dg.materialize(
        [related_request_graph, area_demand, area_insight_report],
        partition_key=area,
        resources=_resources(url),
        instance=instance,
        run_config={"ops": {"area_insight_report": {"config": {"day": day}}}},
        selection=selection,
    )
    assert result.success
    return result


def report_metadata(result: dg.ExecuteInJobResult) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node("area_insight_report")
    return {k: v.value for k, v in mat.metadata.items()}


def stored_reports(url: str) -> list[InsightReport]:
    with session_scope(url) as session:
        return list(
            session.scalars(
                select(InsightReport).order_by(InsightReport.area_id, InsightReport.day)
            )
        )


def check_first_report(url: str, result: dg.ExecuteInJobResult, ids: dict[str, int]) -> None:
    meta = report_metadata(result)
    # Dealbreakers: R1 (Acme 300K; Initech is not enterprise) + R2 (Globex 250K) = 550K > 500K.
    assert meta["dealbreaker_requests"] == 2
    assert meta["dealbreaker_arr"] == "$550.0K" and meta["dealbreaker_accounts"] == 2
    assert meta["report_json"]["dealbreakers"]["totalArr"] == 550_000.0
    assert meta["critical"] is True
    # Top request R1: Acme + Initech = 350K. Open opportunities: O1 only (O2 is Closed Won).
    assert meta["top_request_arr"] == "$350.0K"
    assert meta["open_opportunity_value"] == "$100.0K"
    assert meta["ship_rate_percent"] == 25  # 1 shipped / (3 open + 1 shipped)
    assert meta["open_requests"] == 3 and meta["requests"] == 5
    assert meta["themes"] == 1  # R1 and R2 cluster in the graph
    assert "data:image/png;base64," in meta["report"]
    assert "chart_bytes" not in meta and "dagster/row_count" not in meta
    assert meta["dagster/table_name"] == "insight_reports"
    assert meta["narrative_source"] == "numbers"
    assert meta["report_json"]["dealbreakers"]["requestIds"] == [ids["r1"], ids["r2"]]

    (row,) = [r for r in stored_reports(url) if r.area_id == ids["identity"]]
    assert row.day.isoformat() == "2026-03-02"
    assert "base64" not in row.markdown and "chart: see Dagster UI" in row.markdown
    assert row.data["themes"][0]["requestIds"] == sorted([ids["r1"], ids["r2"]])
    assert row.data["topRequests"][0]["requestId"] == ids["r1"]
    assert row.data["change"] is None


def test_report_rerun_same_day_replaces_next_day_shows_change(app_env: str, instance) -> None:
    url = app_env
    with session_scope(url) as session:
        ids = seed_report_world(session).ids
    check_first_report(url, materialize(instance, url), ids)

    # Re-running the same day replaces the row (unique (area, day)) and says so.
    rerun = report_metadata(materialize(instance, url))
    assert len(stored_reports(url)) == 1
    assert "First report" not in rerun["report"]
    assert "replaces the one from earlier on 2026-03-02" in rerun["report"]

    # Next day: Globex flags R3 as a dealbreaker.
    with session_scope(url) as session:
        entry(
            session,
            session.get(Request, ids["r3"]),
            session.get(Account, ids["globex"]),
            "high",
        )
    meta = report_metadata(materialize(instance, url, day="2026-03-03"))
    assert meta["new_dealbreakers"] == 1
    change = meta["report_json"]["change"]
    assert change["previousDay"] == "2026-03-02"
    # Globex already counted on R2: the area's dealbreaker ARR (distinct accounts) is unchanged,
    # one more request carries a dealbreaker.
    assert change["deltas"]["dealbreakerArr"] == 0
    assert change["deltas"]["dealbreakerCount"] == 1
    assert change["deltas"]["feedbackEntries"] == 1
    assert [d["requestId"] for d in change["newDealbreakers"]] == [ids["r3"]]
    assert "New dealbreakers:" in meta["report"]
    assert [r.day.isoformat() for r in stored_reports(url)] == ["2026-03-02", "2026-03-03"]


def test_every_area_partition_gets_its_own_report(app_env: str, instance) -> None:
    url = app_env
    with session_scope(url) as session:
        ids = seed_report_world(session).ids
    job = dg.define_asset_job(
        "backfill_like", selection=[related_request_graph, area_demand, area_insight_report]
    ).resolve(
        asset_graph=dg.Definitions(
            assets=[related_request_graph, area_demand, area_insight_report],
            resources=_resources(url),
        ).resolve_asset_graph()
    )
    for area in ("billing", "identity"):
        result = job.execute_in_process(
            partition_key=area,
            instance=instance,
            resources=_resources(url),
            run_config={"ops": {"area_insight_report": {"config": {"day": "2026-03-02"}}}},
        )
        assert result.success
    reports = {r.area_id: r for r in stored_reports(url)}
    assert set(reports) == {ids["identity"], ids["billing"]}
    billing = reports[ids["billing"]].data
    assert billing["dealbreakers"]["totalArr"] == 300_000.0  # Acme on "Invoice PDF"
    assert billing["execution"]["open"] == 1
    assert instance.get_materialized_partitions(dg.AssetKey("area_insight_report")) == {
        "billing",
        "identity",
    }


def test_llm_names_themes_and_writes_the_narrative(
    app_env: str, instance, openai_standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-analytics")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_standin.base_url)

    def answer(body: dict) -> dict:
        system = body["messages"][0]["content"]
        if "theme" in system:
            return {"name": "Single Sign-On Setup"}
        facts = json.dumps(body["messages"][1]["content"])
        assert "550000" in facts.replace(".0", "")
        return {"narrative": "Identity has 2 dealbreakers worth $550K. Fix SSO first."}

    openai_standin.chat_handler = answer
    url = app_env
    with session_scope(url) as session:
        seed_report_world(session)
    meta = report_metadata(materialize(instance, url))
    assert meta["narrative_source"] == "llm"
    assert meta["narrative"].startswith("Identity has 2 dealbreakers worth $550K.")
    assert meta["report_json"]["themes"][0]["name"] == "Single Sign-On Setup"
    assert meta["llm_usage"]["calls"] == 2
    assert "sk-test-analytics" not in json.dumps(meta["report_json"])


def test_llm_answer_that_invents_numbers_falls_back(
    app_env: str, instance, openai_standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-analytics")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_standin.base_url)
    openai_standin.chat_handler = lambda body: (
        {"name": "x"} if "theme" in body["messages"][0]["content"] else {"narrative": "$9.9M lost."}
    )
    url = app_env
    with session_scope(url) as session:
        seed_report_world(session)
    meta = report_metadata(materialize(instance, url))
    assert meta["narrative_source"] == "numbers"
    assert meta["report_json"]["themes"][0]["nameSource"] == "terms"


@pytest.mark.postgres
def test_report_on_postgres(pg_url: str, instance, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "GTM_FEEDBACK_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with session_scope(pg_url) as session:
        ids = seed_report_world(session).ids
    check_first_report(pg_url, materialize(instance, pg_url), ids)
    materialize(instance, pg_url)  # same day again: replaced, not duplicated
    assert len(stored_reports(pg_url)) == 1


def test_top_requests_come_from_the_area_demand_table(app_env: str, instance) -> None:
    """The report reads its "Top requests" from the stored `area_demand` value of its
    partition: a row changed in that table (and only there) shows in the next report."""
    url = app_env
    with session_scope(url) as session:
        seed_report_world(session)
    first = report_metadata(materialize(instance, url))["report_json"]
    top = first["topRequests"][0]
    with engine_for(url).begin() as conn:
        conn.execute(
            text(f'UPDATE "{TABLE_NAME}" SET title = :t WHERE request_id = :r'),
            {"t": "Title from the demand table", "r": top["requestId"]},
        )
    again = report_metadata(materialize(instance, url, selection=[area_insight_report]))
    assert again["report_json"]["topRequests"][0]["title"] == "Title from the demand table"
    assert again["report_json"]["topRequests"][0]["arr"] == top["arr"]
