"""What a user feels (issue 14): the real `gtm-feedback` commands and service, cold, as
subprocesses on a demo database, each next to its baseline in the same repeat.

Per repeat, on a fresh copy of the `cli` template (the demo data imported, a vector per
request and per confirmed entry, as routing's exemplar sync leaves them) with the newest no-match entries pending (10) and the other no-match entries parked:

1. `gtm-feedback requests list` (the baseline: Python, the CLI and one query, no model);
2. `gtm-feedback search "…"` cold: a new process, no service configured, model loaded here;
3. `requests list` again, then `gtm-feedback route` for the 10 pending entries;
4. one more entry pending, `new_feedback_sensor` evaluated here, and its run executed in a new
   process as a run worker would (`--child-run`: the code location imported, the job run with
   the resources `definitions.py` binds); the child reports the model load
   (`local_model.MODEL_LOAD_SECONDS`), the op's `embed_batch` and the run's wall time;
5. `gtm-feedback serve` started; `/healthz` polled until it says `"search": "ready"`; the first
   `/api/search` timed, then `gtm-feedback search` through the service
   (GTM_FEEDBACK_SERVICE_URL).

Targets: cold search <= 2x requests list; first /api/search after ready <= 1 s; model load of a
sensor-launched run <= 0.5 s; route of 10 pending <= 3x requests list. Wall times are medians of
`--repeats`, ratios taken per repeat, then their median.

    python -m bench.run --scale 1 --only cli
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from bench.common import (
    OFFLINE_ENV,
    QUIET_LOGS,
    BenchConfig,
    cached_database,
    median,
    release,
    summary,
    working_copy,
)
from bench.databases import base_database
from bench.intake_load import intake_server
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback

REPO = Path(__file__).resolve().parent.parent
QUERY = "exporting dashboards to PDF is broken for our finance team"
PENDING = 10
API_TOKEN = "bench-cli-token"  # not a credential: the benchmark's own throwaway service
READY_TIMEOUT_SECONDS = 300.0
TARGETS = {
    "search_vs_list": 2.0,
    "first_api_search_seconds": 1.0,
    "sensor_run_model_load_seconds": 0.5,
    "route_vs_list": 3.0,
}


def cli_command() -> list[str]:
    """`gtm-feedback` as installed next to this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("gtm-feedback")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from gtm_feedback_dagster.cli import main; main()"]


def child_env(home: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if OFFLINE_ENV.get(k, "") is not None}
    env.update({k: v for k, v in OFFLINE_ENV.items() if v is not None})
    env.update(
        GTM_FEEDBACK_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster_home"),
        GTM_FEEDBACK_DATABASE_URL=url,
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def timed_cli(args: Sequence[str], env: dict[str, str], timeout: float = 600.0) -> float:
    """Wall seconds of one `gtm-feedback ARGS` subprocess; fails on a non-zero exit."""
    started = time.perf_counter()
    proc = subprocess.run(
        [*cli_command(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"gtm-feedback {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    return seconds


def keep_pending(url: str, count: int) -> list[int]:
    """The newest `count` no-match entries stay pending; the other pending ones are parked."""
    with session_scope(url) as session:
        pending = list(
            session.scalars(
                select(Feedback.id).where(Feedback.status == "pending").order_by(Feedback.id)
            )
        )
        keep, park = pending[len(pending) - count :], pending[: len(pending) - count]
        if park:
            session.execute(
                update(Feedback)
                .where(Feedback.id.in_(park))
                .values(status="failed", error="parked by the benchmark set-up")
            )
    if len(keep) < count:
        raise RuntimeError(f"only {len(keep)} no-match entries to keep pending, {count} asked")
    return keep


def unpark_one(url: str) -> int:
    with session_scope(url) as session:
        entry_id = session.scalar(
            select(Feedback.id)
            .where(Feedback.status == "failed", Feedback.error == "parked by the benchmark set-up")
            .order_by(Feedback.id.desc())
            .limit(1)
        )
        if entry_id is None:
            raise RuntimeError("no parked entry left to make pending")
        session.execute(
            update(Feedback).where(Feedback.id == entry_id).values(status="pending", error=None)
        )
    return int(entry_id)


def sensor_run_config(url: str, home: Path) -> dict[str, Any]:
    """`new_feedback_sensor` evaluated here (as the daemon would): its one RunRequest's config."""
    import dagster as dg

    from gtm_feedback_dagster.resources.store import StoreResource
    from gtm_feedback_dagster.sensors.new_feedback import new_feedback_sensor

    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"store": StoreResource(database_url=url)}
        )
        result = new_feedback_sensor(context)
    requests = list(getattr(result, "run_requests", None) or [])
    if len(requests) != 1:
        raise RuntimeError(f"new_feedback_sensor asked for {len(requests)} runs, expected 1")
    return dict(requests[0].run_config)


def child_run(run_config: dict[str, Any]) -> dict[str, Any]:
    """In a new process, as a run worker: import the code location, run the route job."""
    started = time.perf_counter()
    import dagster as dg

    from gtm_feedback_dagster.ai import local_model
    from gtm_feedback_dagster.definitions import defs
    from gtm_feedback_dagster.jobs.route_feedback import ROUTE_OP_NAME

    imports = time.perf_counter() - started
    job = defs.resolve_job_def("route_feedback_job")
    t = time.perf_counter()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            run_config={**run_config, **QUIET_LOGS}, instance=instance, raise_on_error=False
        )
    run_seconds = time.perf_counter() - t
    timings: dict[str, float] = {}
    for event in result.all_node_events:
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == ROUTE_OP_NAME:
            metadata = event.event_specific_data.metadata  # type: ignore[union-attr]
            timings = dict(metadata["timings_seconds"].value)
    return {
        "success": result.success,
        "imports_seconds": round(imports, 3),
        "run_seconds": round(run_seconds, 3),
        "model_load_seconds": round(local_model.MODEL_LOAD_SECONDS, 3),
        "embed_batch_seconds": timings.get("embed_batch"),
        "op_total_seconds": timings.get("total"),
        "process_seconds": round(time.perf_counter() - started, 3),
    }


def sensor_launched_run(url: str, home: Path, env: dict[str, str]) -> dict[str, Any]:
    run_config = sensor_run_config(url, home)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli_latency", "--child-run", json.dumps(run_config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"route child exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    outcome = json.loads(lines[-1])
    if not outcome["success"]:
        raise RuntimeError(f"the sensor-launched route run failed: {outcome}")
    return {**outcome, "wall_seconds": round(wall, 3)}


def service_first_search(url: str, home: Path) -> dict[str, Any]:
    """`serve` started; time to `"search": "ready"`, the first /api/search, then the CLI's
    search answered by the service."""
    started = time.perf_counter()
    with intake_server(url, home, "bench-signing-secret", API_TOKEN) as base:
        answering = time.perf_counter() - started
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        status = ""
        while time.monotonic() < deadline:
            status = httpx.get(f"{base}/healthz", timeout=5).json().get("search", "")
            if status in {"ready", "failed"}:
                break
            time.sleep(0.05)
        ready = time.perf_counter() - started
        if status != "ready":
            raise RuntimeError(f"search warm-up ended {status!r}")
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        t = time.perf_counter()
        first = httpx.get(f"{base}/api/search", params={"q": QUERY}, headers=headers, timeout=60)
        first_seconds = time.perf_counter() - t
        first.raise_for_status()
        t = time.perf_counter()
        httpx.get(
            f"{base}/api/search", params={"q": QUERY + " again"}, headers=headers, timeout=60
        ).raise_for_status()
        second_seconds = time.perf_counter() - t
        env = child_env(home, url, GTM_FEEDBACK_SERVICE_URL=base, GTM_FEEDBACK_API_TOKEN=API_TOKEN)
        cli_via_service = timed_cli(["search", QUERY], env)
    return {
        "healthz_answering_seconds": round(answering, 3),
        "search_ready_seconds": round(ready, 3),
        "first_api_search_seconds": round(first_seconds, 3),
        "second_api_search_seconds": round(second_seconds, 3),
        "cli_search_via_service_seconds": round(cli_via_service, 3),
        "results": len(first.json()["results"]),
    }


def one_repeat(cfg: BenchConfig, template: Path, home: Path, repeat: int) -> dict[str, Any]:
    url = working_copy(template, cfg.work_dir / "cli.db")
    pending = keep_pending(url, 1 if cfg.smoke else PENDING)
    release(url)
    env = child_env(home, url)
    cfg.say(f"cli {repeat + 1}/{cfg.repeats}: requests list / search / requests list / route")
    out: dict[str, Any] = {"pending_routed": len(pending)}
    out["list_a"] = timed_cli(["requests", "list"], env)
    out["search_cold"] = timed_cli(["search", QUERY], env)
    out["list_b"] = timed_cli(["requests", "list"], env)
    out["route"] = timed_cli(["route"], env)
    cfg.say(f"cli {repeat + 1}/{cfg.repeats}: a sensor-launched run for one entry")
    unpark_one(url)
    release(url)
    out["sensor_run"] = sensor_launched_run(url, home, env)
    cfg.say(f"cli {repeat + 1}/{cfg.repeats}: serve, first /api/search")
    out["service"] = service_first_search(url, home)
    release(url)  # pooled connections would keep reading this copy after the next one lands
    out["search_vs_list"] = out["search_cold"] / out["list_a"]
    out["route_vs_list"] = out["route"] / out["list_b"]
    return out


def cli_database(cfg: BenchConfig) -> Path:
    """The `base` template plus a vector for every confirmed entry (what routing's exemplar
    sync leaves behind on a database in use), so no timed command embeds the imported history."""
    from gtm_feedback_dagster.ai.local_model import LocalEmbedder
    from gtm_feedback_dagster.routing.exemplars import sync_exemplar_vectors

    def build(url: str) -> None:
        embedder = LocalEmbedder()
        while sync_exemplar_vectors(lambda: session_scope(url), embedder):
            pass

    parent = base_database(cfg)
    return cached_database(cfg, f"cli-x{cfg.scale}-s{cfg.seed}", build, parent=parent)


def run(cfg: BenchConfig) -> dict[str, Any]:
    template = cli_database(cfg)
    home = cfg.work_dir / "cli-home"
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    # Not timed: the one-time ONNX export into the home, the Dagster home's storage.
    warm_url = working_copy(template, cfg.work_dir / "cli.db")
    warm_env = child_env(home, warm_url)
    cfg.say("cli: warm-up (the ONNX export once into the bench home, Dagster storage)")
    timed_cli(["search", QUERY], warm_env)
    timed_cli(["requests", "list"], warm_env)
    release(warm_url)
    repeats = [one_repeat(cfg, template, home, r) for r in range(cfg.repeats)]
    load = os.getloadavg()

    def col(key: str) -> list[float]:
        return [round(r[key], 3) for r in repeats]

    def sub(group: str, key: str) -> list[float]:
        return [r[group][key] for r in repeats]

    lists = col("list_a") + col("list_b")
    figures = {
        "requests_list_seconds": summary(lists, 3),
        "search_cold_seconds": summary(col("search_cold"), 3),
        "search_vs_list": summary(col("search_vs_list"), 3),
        "route_10_seconds": summary(col("route"), 3),
        "route_vs_list": summary(col("route_vs_list"), 3),
        "sensor_run_model_load_seconds": summary(sub("sensor_run", "model_load_seconds"), 3),
        "sensor_run_embed_batch_seconds": summary(sub("sensor_run", "embed_batch_seconds"), 3),
        "sensor_run_imports_seconds": summary(sub("sensor_run", "imports_seconds"), 3),
        "sensor_run_process_seconds": summary(sub("sensor_run", "wall_seconds"), 3),
        "serve_search_ready_seconds": summary(sub("service", "search_ready_seconds"), 3),
        "first_api_search_seconds": summary(sub("service", "first_api_search_seconds"), 3),
        "second_api_search_seconds": summary(sub("service", "second_api_search_seconds"), 3),
        "cli_search_via_service_seconds": summary(
            sub("service", "cli_search_via_service_seconds"), 3
        ),
    }
    met = {
        "search_vs_list": figures["search_vs_list"]["median"] <= TARGETS["search_vs_list"],
        "first_api_search_seconds": figures["first_api_search_seconds"]["median"]
        <= TARGETS["first_api_search_seconds"],
        "sensor_run_model_load_seconds": figures["sensor_run_model_load_seconds"]["median"]
        <= TARGETS["sensor_run_model_load_seconds"],
        "route_vs_list": figures["route_vs_list"]["median"] <= TARGETS["route_vs_list"],
    }
    return {
        "scale": cfg.scale,
        "query": QUERY,
        "pending_routed": repeats[0]["pending_routed"],
        **figures,
        "targets": TARGETS,
        "met": met,
        "all_targets_met": all(met.values()),
        "load_average_at_end": [round(x, 2) for x in load],
        "repeats": repeats,
        "median_list_seconds": round(median(lists), 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="benchmark child: one sensor-launched route run")
    parser.add_argument("--child-run", required=True, help="the RunRequest's run config (JSON)")
    args = parser.parse_args(argv)
    print(json.dumps(child_run(json.loads(args.child_run))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
