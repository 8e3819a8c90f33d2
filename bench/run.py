"""Runs the benchmark suite and stores the raw results as JSON under `bench/results/`.

    python -m bench.run --smoke                       # tiny, < 60 s: proves every benchmark runs (CI)
    python -m bench.run --scale 10                    # everything at 10x (routing's target scale)
    python -m bench.run --scale 100 --only graph,reports,sensors,memory,intake
    python -m bench.run --scale 10 --only routing --routing-entries 6000 --profile-routing

Benchmarks (`--only`, comma-separated): routing, graph, reports, sensors, memory, intake, and
`cli` (cold commands and the service's first search as subprocesses; only when named). Every
figure comes with a baseline measured in the same run (these machines are shared and noisy);
figures are medians of `--repeats` runs (default 3). Datasets, template databases and request
embeddings are cached in `--cache-dir` (default `$GTM_BENCH_CACHE` or /tmp/gtm-bench) and reused.
The table in docs/benchmarks.md is written by hand from these results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_CACHE_DIR, RESULTS_DIR, BenchConfig, machine_info, write_results

BENCHMARKS = ("routing", "graph", "reports", "sensors", "memory", "intake")
# Run only when named in --only (not in the default run, nor in --smoke).
OPTIONAL_BENCHMARKS = ("cli",)
KNOWN = (*BENCHMARKS, *OPTIONAL_BENCHMARKS)


def _runner(name: str) -> Callable[[BenchConfig], dict[str, Any]]:
    # Imported on demand: `--only intake` need not import torch.
    if name == "routing":
        from bench import routing_e2e

        return routing_e2e.run
    if name == "graph":
        from bench import graph

        return graph.run
    if name == "reports":
        from bench import reports

        return reports.run
    if name == "sensors":
        from bench import sensors

        return sensors.run
    if name == "memory":
        from bench import job_memory

        return job_memory.run
    if name == "intake":
        from bench import intake_load

        return intake_load.run
    if name == "cli":
        from bench import cli_latency

        return cli_latency.run
    raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(KNOWN)}")


def parse_only(value: str | None) -> list[str]:
    if not value:
        return list(BENCHMARKS)
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(KNOWN)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes at scale 1 (CI)")
    parser.add_argument("--scale", type=int, default=10, help="demo data scale: 1, 10 or 100")
    parser.add_argument("--only", type=parse_only, default=None, help=", ".join(KNOWN))
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument(
        "--routing-entries", type=int, default=None, help="route an even sample of N entries"
    )
    parser.add_argument(
        "--route-batch-size", type=int, default=None, help="GTM_FEEDBACK_ROUTE_BATCH_SIZE"
    )
    parser.add_argument(
        "--profile-routing", action="store_true", help="cProfile the first routing repeat"
    )
    parser.add_argument("--intake-requests", type=int, default=2000)
    parser.add_argument("--intake-concurrency", type=int, default=16)
    parser.add_argument("--intake-seconds", type=float, default=60.0)
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="also run the sensor benchmark on this PostgreSQL server (a database is created "
        "and dropped), e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument(
        "--memory-jobs",
        default=None,
        help="memory: only these jobs (comma-separated names; default: every job)",
    )
    parser.add_argument("--keep-going", action="store_true", help="run the rest after a failure")
    return parser


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    cache_dir = args.cache_dir.resolve()
    return BenchConfig(
        scale=1 if args.smoke else args.scale,
        smoke=args.smoke,
        repeats=1 if args.smoke else args.repeats,
        seed=args.seed,
        cache_dir=cache_dir,
        work_dir=cache_dir / ("work-smoke" if args.smoke else "work"),
        routing_entries=args.routing_entries,
        route_batch_size=args.route_batch_size,
        profile_routing=args.profile_routing,
        intake_requests=20 if args.smoke else args.intake_requests,
        intake_concurrency=4 if args.smoke else args.intake_concurrency,
        intake_seconds=20.0 if args.smoke else args.intake_seconds,
        postgres_url=args.postgres_url,
        memory_jobs=tuple(j.strip() for j in args.memory_jobs.split(",") if j.strip())
        if args.memory_jobs
        else None,
    )


def run_suite(cfg: BenchConfig, names: Sequence[str], keep_going: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {
        "mode": "smoke" if cfg.smoke else f"x{cfg.scale}",
        "scale": cfg.scale,
        "repeats": cfg.repeats,
        "seed": cfg.seed,
        "command": "python -m " + " ".join(["bench.run", *sys.argv[1:]]),
        "machine": machine_info(),
        "benchmarks": {},
    }
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        cfg.say(f"=== {name} ===")
        started = time.perf_counter()
        try:
            outcome = _runner(name)(cfg)
        except Exception:
            if not keep_going:
                raise
            outcome = {"error": traceback.format_exc()}
        outcome["wall_seconds"] = round(time.perf_counter() - started, 1)
        results["benchmarks"][name] = outcome
        cfg.say(f"{name}: {headline(name, outcome)}")
    if cfg.smoke:
        shutil.rmtree(cfg.work_dir, ignore_errors=True)
    return results


def headline(name: str, r: dict[str, Any]) -> str:
    """One line per benchmark for the terminal."""
    if "error" in r:
        return "FAILED (see the JSON)"
    try:
        if name == "routing":
            return (
                f"{r['end_to_end_entries_per_second']['median']} entries/s end to end vs "
                f"{r['raw_texts_per_second']['median']} texts/s raw embedding = ratio "
                f"{r['ratio']['median']} (target >= {r['target_ratio']})"
            )
        if name == "graph":
            knn = r["knn"]
            return (
                f"knn_edges {knn['knn_edges_seconds']['median']} s vs faiss "
                f"{knn['faiss_seconds']['median']} s (x{knn['ratio']['median']}, identical: "
                f"{knn['identical']}; block {knn['wide_block']['block_size']}: "
                f"x{knn['wide_block']['ratio']['median']}); asset full "
                f"{r['asset']['full_seconds']['median']} s, "
                f"incremental {r['asset']['incremental_seconds']['median']} s "
                f"({r['asset']['incremental_share']['median']:.1%})"
            )
        if name == "reports":
            return (
                f"{r['areas']} areas in {r['asset_total_seconds']['median']} s (target <= "
                f"{r['target_seconds']} s); plain SQL load {r['plain_sql_seconds']['median']} s"
            )
        if name == "sensors":
            worst = max(s["tick_seconds"]["max"] for s in r["sensors"].values())
            return f"{len(r['sensors'])} sensors, slowest tick {worst} s (target <= 1 s)"
        if name == "memory":
            worst = max(j["peak_rss_mib"] for j in r["jobs"].values())
            return f"{len(r['jobs'])} jobs, highest peak RSS {worst:.0f} MiB (target <= 1024)"
        if name == "cli":
            return (
                f"search {r['search_cold_seconds']['median']} s = x{r['search_vs_list']['median']}"
                f" requests list ({r['median_list_seconds']} s); route of "
                f"{r['pending_routed']} x{r['route_vs_list']['median']}; sensor-run model load "
                f"{r['sensor_run_model_load_seconds']['median']} s; first /api/search "
                f"{r['first_api_search_seconds']['median']} s; targets met: {r['met']}"
            )
        if name == "intake":
            load = r["load"]
            return (
                f"{load['requests_per_second']['median']} req/s, p50 "
                f"{load['p50_ms']['median']} ms, p99 {load['p99_ms']['median']} ms; all "
                f"accepted stored: {r['all_accepted_stored']}"
            )
    except (KeyError, TypeError, ValueError):
        pass
    return json.dumps({k: v for k, v in r.items() if not isinstance(v, dict | list)})[:300]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    names = args.only or list(BENCHMARKS)
    results = run_suite(cfg, names, keep_going=args.keep_going)
    path = write_results(results, args.out, results["mode"] + "-" + "-".join(names))
    cfg.say(f"results: {path}")
    failed = [n for n, r in results["benchmarks"].items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
