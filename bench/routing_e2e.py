"""Routing end to end: pending -> routed through `new_feedback_sensor` and `route_feedback_job` on
a real Dagster instance, against the raw batch-embedding throughput of the same model on the same
texts, timed in the same process.

Set-up (not timed): the demo data imported with every entry `pending` (`import_reference(...,
route=True)`), and every request embedded (what the `request_embeddings` asset does before
routing runs; vectors are cached across runs). Each repeat works on a fresh copy of that database
and a fresh `dg.instance_for_test()` (SQLite run and event storage):

- end to end: evaluate the sensor with `build_sensor_context`, execute each `RunRequest`'s run
  config with `route_feedback_job.execute_in_process(instance=...)`, and repeat until the sensor
  skips. Sensor ticks, run overhead and every write are included;
- raw: `LocalEmbedder().embed(texts)` on the `query_text` of the entries of each run, timed right
  before that run (interleaved, so a colleague's job that slows the machine for a few minutes
  slows both sides alike; a separate pass before or after gave paired ratios from 0.32 to 0.86).

Target (issue 6): end-to-end entries/s >= 70% of raw texts/s at 10x.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import func, select

from bench.common import (
    QUIET_LOGS,
    BenchConfig,
    cached_database,
    demo_dataset,
    embed_requests,
    import_dataset,
    median,
    offline_env,
    release,
    summary,
    timed,
    working_copy,
)
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.jobs.route_feedback import (
    ROUTE_OP_NAME,
    feedback_ids_of_run_config,
    route_feedback_job,
)
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.new_feedback import new_feedback_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback

TARGET_RATIO = 0.70
SMOKE_REQUESTS = 60
SMOKE_ENTRIES = 20
SMOKE_BATCH = 8  # several runs per tick even in the smoke run
DEFAULT_BATCH = 200  # Settings.route_batch_size
MAX_TICKS = 100_000  # a safety stop; the sensor skips long before


def routing_dataset(cfg: BenchConfig) -> tuple[dict[str, Any], str]:
    """The dataset to route and a name for its template database."""
    data = demo_dataset(cfg)
    if cfg.smoke:
        requests = data["requests"][:SMOKE_REQUESTS]
        kept = {r["id"] for r in requests}
        feedback = [f for f in data["feedback"] if f["requestId"] in kept or f["requestId"] is None]
        subset = {**data, "requests": requests, "feedback": feedback[:SMOKE_ENTRIES]}
        return subset, f"smoke{SMOKE_REQUESTS}-{SMOKE_ENTRIES}"
    if cfg.routing_entries and cfg.routing_entries < len(data["feedback"]):
        # An even sample over the whole period, not just the oldest entries.
        step = len(data["feedback"]) / cfg.routing_entries
        picked = [data["feedback"][int(i * step)] for i in range(cfg.routing_entries)]
        return {**data, "feedback": picked}, f"n{cfg.routing_entries}"
    return data, "all"


def _texts(url: str, entry_ids: list[int]) -> list[str]:
    """The query texts of these entries, as routing embeds them (id order, like the job)."""
    with session_scope(url) as session:
        pains = session.scalars(
            select(Feedback.customer_pain)
            .where(Feedback.id.in_(sorted(entry_ids)))
            .order_by(Feedback.id)
        ).all()
    return [query_text(p or "") for p in pains]


def _status_counts(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        rows = session.execute(
            select(Feedback.status, Feedback.match_type, func.count())
            .group_by(Feedback.status, Feedback.match_type)
            .order_by(Feedback.status, Feedback.match_type)
        ).all()
    return {f"{status}/{match or '-'}": int(n) for status, match, n in rows}


def _op_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    for event in result.all_node_events:
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == ROUTE_OP_NAME:
            metadata = event.event_specific_data.metadata  # type: ignore[union-attr]
            return {k: v.value for k, v in metadata.items()}
    return {}


def route_through_dagster(
    url: str,
    instance: dg.DagsterInstance,
    embedder: LocalEmbedder,
    profiler: cProfile.Profile | None = None,
) -> dict[str, Any]:
    """Sensor tick -> run every RunRequest -> next tick, until the sensor skips.

    Right before each run, the raw baseline embeds the run's own texts with `embedder.embed`
    (timed apart, never counted in the end-to-end time): both sides of the comparison then see
    the same minute of a shared, noisy machine.
    """
    store = StoreResource(database_url=url)
    resources = {
        "store": store,
        "embedder": EmbedderResource(provider="local"),
        "vector_index": VectorIndexResource(provider="local"),
        "llm": LLMResource(),
        # No bot token: outbox-only mode, the embedded default (messages wait in the outbox).
        "slack": SlackResource(),
    }
    cursor: str | None = None
    ticks = runs = entries = 0
    tick_seconds = run_seconds = raw_seconds = 0.0
    op_timings: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    for _ in range(MAX_TICKS):
        t = time.perf_counter()
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"store": store}
        )
        result = new_feedback_sensor(context)
        tick_seconds += time.perf_counter() - t
        ticks += 1
        if not isinstance(result, dg.SensorResult):
            break
        cursor = result.cursor
        for request in result.run_requests:
            texts = _texts(url, feedback_ids_of_run_config(request.run_config))
            seconds, _ = timed(lambda texts=texts: embedder.embed(texts))
            raw_seconds += seconds
            entries += len(texts)
            if profiler:
                profiler.enable()
            t = time.perf_counter()
            run = route_feedback_job.execute_in_process(
                run_config={**request.run_config, **QUIET_LOGS},
                instance=instance,
                resources=resources,
                tags=request.tags,
            )
            run_seconds += time.perf_counter() - t
            if profiler:
                profiler.disable()
            runs += 1
            metadata = _op_metadata(run)
            op_timings.update(metadata.get("timings_seconds") or {})
            tiers.update({k[5:]: int(v) for k, v in metadata.items() if k.startswith("tier_")})
    in_op = float(op_timings.get("total", 0.0))
    end_to_end = tick_seconds + run_seconds
    return {
        "entries": entries,
        "end_to_end_seconds": end_to_end,
        "raw_embed_seconds": raw_seconds,
        "ticks": ticks,
        "runs": runs,
        "sensor_tick_seconds": round(tick_seconds, 3),
        "run_seconds": round(run_seconds, 3),
        # Everything a run costs besides route_batch itself: Dagster's run set-up, event log
        # writes, resource init, the outbox delivery op.
        "dagster_overhead_seconds": round(run_seconds - in_op, 3),
        "route_batch_seconds": {k: round(v, 3) for k, v in sorted(op_timings.items())},
        # The job's own batch embedding as a share of the end-to-end time: a second, in-run
        # view of the same efficiency.
        "embed_batch_share": round(float(op_timings.get("embed_batch", 0.0)) / end_to_end, 3)
        if end_to_end
        else None,
        "tiers": dict(tiers),
    }


def _profile_text(profiler: cProfile.Profile, limit: int = 40) -> str:
    """The project's own functions by cumulative time (where the time goes, in our terms), then
    everything by own time (what the hot spots are)."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats("gtm_feedback_dagster", limit)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


def run(cfg: BenchConfig) -> dict[str, Any]:
    data, variant = routing_dataset(cfg)
    embedder = LocalEmbedder()
    embedder.load()
    embedder.embed(["warm-up text so the first timed call pays no lazy initialisation"])

    def build(url: str) -> None:
        import_dataset(url, data, route=True)
        embed_requests(cfg, url, embedder)

    template = cached_database(cfg, f"routing-x{cfg.scale}-s{cfg.seed}-{variant}", build)
    home = cfg.work_dir / "routing-home"
    batch_size = SMOKE_BATCH if cfg.smoke else (cfg.route_batch_size or DEFAULT_BATCH)
    batch_env = {"GTM_FEEDBACK_ROUTE_BATCH_SIZE": str(batch_size)}
    repeats = 1 if cfg.smoke else cfg.repeats

    raw_runs: list[float] = []
    e2e_runs: list[float] = []
    details: list[dict[str, Any]] = []
    profile: str | None = None
    entries = 0
    with offline_env(home, **batch_env):
        for repeat in range(repeats):
            url = working_copy(template, cfg.work_dir / f"routing-{repeat}.db")
            cfg.say(f"routing repeat {repeat + 1}/{repeats}: sensor + job, raw baseline per run")
            profiler = cProfile.Profile() if cfg.profile_routing and repeat == 0 else None
            with dg.instance_for_test() as instance:
                outcome = route_through_dagster(url, instance, embedder, profiler)
            if profiler:
                profile = _profile_text(profiler)
            counts = _status_counts(url)
            still_pending = sum(n for k, n in counts.items() if k.startswith("pending/"))
            if still_pending:
                raise RuntimeError(f"{still_pending} entries are still pending after routing")
            entries = outcome.pop("entries")
            e2e_runs.append(outcome.pop("end_to_end_seconds"))
            raw_runs.append(outcome.pop("raw_embed_seconds"))
            details.append({**outcome, "statuses": counts})
            release(url)
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)

    raw_rate = [entries / s for s in raw_runs]
    e2e_rate = [entries / s for s in e2e_runs]
    ratios = [e / r for e, r in zip(e2e_rate, raw_rate, strict=True)]
    result: dict[str, Any] = {
        "scale": cfg.scale,
        "requests": len(data["requests"]),
        "entries": entries,
        "batch_size": batch_size,
        "raw_embed_seconds": summary(raw_runs, 2),
        "raw_texts_per_second": summary(raw_rate, 1),
        "end_to_end_seconds": summary(e2e_runs, 2),
        "end_to_end_entries_per_second": summary(e2e_rate, 1),
        "ratio": summary(ratios, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": median(ratios) >= TARGET_RATIO,
        "runs": details,
    }
    if profile:
        result["profile"] = profile
    return result
