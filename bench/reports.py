"""Area insight reports for every product area (300k entries at 100x), LLM calls excluded (no
LLM is configured, so the deterministic narrative and theme names are used).

Timed, all in one process on a database whose related-request graph is built:
- `asset`: the `area_demand` and `area_insight_report` assets materialized for every
  `product_area` partition on a real Dagster instance, as `area_insights_job` does (the demand
  table, then load, maths, chart PNG, Markdown, stored report, metadata);
- `domain`: the same steps without Dagster, split into load / build / render / save;
- baselines in the same run: one plain SQL query loading every (entry, area) row the reports read
  (`feedback JOIN request_areas`), and — for scale > 1 — the same asset pass at 1x.

Target (issue 6): all areas at 100x in <= 10 s.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from sqlalchemy import select, text

from bench.common import (
    DATA_NOW,
    QUIET_LOGS,
    BenchConfig,
    median,
    offline_env,
    partitioned_asset_job,
    release,
    summary,
    timed,
    working_copy,
)
from bench.databases import graph_database
from gtm_feedback_dagster.analytics.data import load_area_data, previous_report, save_report
from gtm_feedback_dagster.analytics.render import render_chart_png, render_markdown
from gtm_feedback_dagster.analytics.report import build_report
from gtm_feedback_dagster.assets.area_demand import IO_MANAGER_KEY, area_demand
from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
from gtm_feedback_dagster.core.request_graph import DEFAULT_CLUSTER_THRESHOLD
from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.resources.ai import LLMResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.resources.table_io import DatabaseTableIOManager
from gtm_feedback_dagster.store.db import engine_for, session_scope
from gtm_feedback_dagster.store.schema import ProductArea, utcnow

TARGET_SECONDS = 10.0
PLAIN_SQL = (
    "SELECT f.id, f.request_id, f.account_id, f.severity, f.opportunity_id, ra.area_id "
    "FROM feedback f JOIN request_areas ra ON ra.request_id = f.request_id"
)
REPORT_DAY = DATA_NOW.date().isoformat()


def _slugs(url: str) -> list[str]:
    with session_scope(url) as session:
        return list(session.scalars(select(ProductArea.slug).order_by(ProductArea.slug)))


def asset_pass(url: str, instance: dg.DagsterInstance, slugs: list[str]) -> dict[str, float]:
    """Seconds per area of one materialization of each partition."""
    job = partitioned_asset_job(
        "bench_area_insight_report",
        [area_demand, area_insight_report],
        {
            "store": StoreResource(database_url=url),
            "llm": LLMResource(),
            IO_MANAGER_KEY: DatabaseTableIOManager(database_url=url),
        },
    )
    per_area: dict[str, float] = {}
    for slug in slugs:
        seconds, result = timed(
            lambda slug=slug: job.execute_in_process(
                partition_key=slug,
                instance=instance,
                run_config={
                    "ops": {"area_insight_report": {"config": {"day": REPORT_DAY}}},
                    **QUIET_LOGS,
                },
            )
        )
        if not result.success:
            raise RuntimeError(f"area_insight_report failed for partition {slug}")
        per_area[slug] = seconds
    return per_area


def domain_pass(url: str) -> dict[str, Any]:
    """The asset's steps without Dagster, timed separately; totals over all areas."""
    steps = {"load": 0.0, "build": 0.0, "chart": 0.0, "markdown": 0.0, "save": 0.0}
    rows = {"requests": 0, "feedback": 0, "edges": 0}
    day = DATA_NOW.date()
    for slug in _slugs(url):
        with session_scope(url) as session:
            area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).one()
            t, data = timed(
                lambda area=area, session=session: load_area_data(
                    session, area, DEFAULT_CLUSTER_THRESHOLD
                )
            )
            previous = previous_report(session, area.id, day)
        steps["load"] += t
        rows["requests"] += len(data.requests)
        rows["feedback"] += len(data.feedback)
        rows["edges"] += len(data.edges)
        t, report = timed(
            lambda data=data, previous=previous: build_report(
                data, day=day, generated_at=utcnow(), previous=previous
            )
        )
        steps["build"] += t
        t, _ = timed(lambda report=report: render_chart_png(report))
        steps["chart"] += t
        t, markdown = timed(lambda report=report: render_markdown(report, chart=None))
        steps["markdown"] += t
        with session_scope(url) as session:
            t, _ = timed(
                lambda session=session, area_id=area.id, markdown=markdown, report=report: (
                    save_report(session, area_id, day, markdown, report)
                )
            )
        steps["save"] += t
    return {"steps": steps, "total": sum(steps.values()), "rows": rows}


def plain_sql(url: str) -> tuple[float, int]:
    with engine_for(url).connect() as conn:
        seconds, rows = timed(lambda: conn.execute(text(PLAIN_SQL)).all())
    return seconds, len(rows)


def measure(cfg: BenchConfig, scale: int, repeats: int, label: str) -> dict[str, Any]:
    template = graph_database(cfg, scale)
    url = working_copy(template, cfg.work_dir / f"reports-x{scale}.db")
    with offline_env(cfg.work_dir / f"reports-home-{label}"), dg.instance_for_test() as instance:
        slugs = _slugs(url)
        instance.add_dynamic_partitions(product_area_partitions.name or "", slugs)
        timed_slugs = cfg.partitions(slugs)
        # The first materialization in a process pays one-off imports (matplotlib, ...).
        cold_seconds = sum(asset_pass(url, instance, timed_slugs[:1]).values())
        cfg.say(f"reports at {scale}x: {repeats} timed passes over {len(timed_slugs)} areas")
        asset_runs = [asset_pass(url, instance, timed_slugs) for _ in range(repeats)]
        domain_runs = [domain_pass(url) for _ in range(repeats)]
        sql_runs = [plain_sql(url) for _ in range(repeats)]
    release(url)
    totals = [sum(run.values()) for run in asset_runs]
    slowest = max(asset_runs[-1], key=asset_runs[-1].get)
    return {
        "scale": scale,
        "areas": len(asset_runs[-1]),
        "first_report_in_process_seconds": round(cold_seconds, 3),
        "asset_total_seconds": summary(totals, 3),
        "asset_seconds_per_area_last_run": {k: round(v, 3) for k, v in asset_runs[-1].items()},
        "slowest_area": slowest,
        "domain_total_seconds": summary([d["total"] for d in domain_runs], 3),
        "domain_steps_seconds_median": {
            step: round(median([d["steps"][step] for d in domain_runs]), 3)
            for step in domain_runs[0]["steps"]
        },
        "rows_loaded": domain_runs[0]["rows"],
        "plain_sql_seconds": summary([s for s, _ in sql_runs], 3),
        "plain_sql_rows": sql_runs[0][1],
    }


def run(cfg: BenchConfig) -> dict[str, Any]:
    result = measure(cfg, cfg.scale, cfg.repeats, "main")
    result["target_seconds"] = TARGET_SECONDS
    result["target_met"] = result["asset_total_seconds"]["median"] <= TARGET_SECONDS
    result["asset_vs_plain_sql"] = round(
        result["asset_total_seconds"]["median"] / result["plain_sql_seconds"]["median"], 1
    )
    if cfg.scale > 1 and not cfg.smoke:
        baseline = measure(cfg, 1, cfg.repeats, "x1")
        result["baseline_x1"] = {
            k: baseline[k]
            for k in ("asset_total_seconds", "domain_total_seconds", "plain_sql_seconds")
        }
        result["scale_factor_vs_x1"] = round(
            result["asset_total_seconds"]["median"] / baseline["asset_total_seconds"]["median"], 1
        )
    return result
