"""What every benchmark shares: configuration, cached demo data and app databases, timing, and
the machine description that goes with each result.

Data comes from the demo generator (`generate_demo_dataset(seed, scale)`): scale 1 / 10 / 100 is
about 3k / 30k / 300k feedback entries and 291 / 2.9k / 29k requests. Generating, importing and
embedding at 100x takes minutes, so each is done once and cached under the cache directory
(`--cache-dir`, default `$GTM_BENCH_CACHE` or `/tmp/gtm-bench`): the dataset as JSON, the
imported app database as a template SQLite file (copied for every run that writes), and the
request embeddings keyed by content hash. A template's name carries a fingerprint of the
migrations, so a schema change builds a new one instead of reusing a stale file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import text

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.demo.generator import DEFAULT_NOW, generate_demo_dataset
from gtm_feedback_dagster.feedback.reference_import import import_reference
from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.vectors import plan_sync, upsert_vectors

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_CACHE_DIR = Path(os.environ.get("GTM_BENCH_CACHE") or "/tmp/gtm-bench")
MIGRATIONS_DIR = db.MIGRATIONS_DIR / "versions"
# Bumped when what the benchmarks put into a template database changes.
TEMPLATE_FORMAT = 1
# The demo data is dated relative to this instant; jobs that look at "the last 7 days" use it.
DATA_NOW = DEFAULT_NOW
# Run config fragment: Dagster's console logger at WARNING keeps the terminal readable; every
# event still goes to the instance's event log, as in production.
QUIET_LOGS: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

# Provider settings forced for every benchmark: the embedded default, no LLM, no Slack. Secrets
# are removed from the process environment for the duration (never read, never printed).
OFFLINE_ENV: dict[str, str | None] = {
    "GTM_FEEDBACK_EMBEDDER": "local",
    "GTM_FEEDBACK_VECTOR_INDEX": "local",
    "GTM_FEEDBACK_LLM_MODEL": None,
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": None,
    "SLACK_BOT_TOKEN": None,
    "SLACK_SIGNING_SECRET": None,
    "GTM_FEEDBACK_API_TOKEN": None,
    "GTM_FEEDBACK_SLACK_BASE_URL": None,
    "GTM_FEEDBACK_ROUTE_BATCH_SIZE": None,
    "UPSTASH_VECTOR_REST_URL": None,
    "UPSTASH_VECTOR_REST_TOKEN": None,
}


@dataclass
class BenchConfig:
    """One invocation of `python -m bench.run`."""

    scale: int = 10
    smoke: bool = False
    repeats: int = 3
    seed: int = 7
    cache_dir: Path = DEFAULT_CACHE_DIR
    work_dir: Path = DEFAULT_CACHE_DIR / "work"
    # Routing: cap on the entries routed per repeat (None = all of the scale's entries).
    routing_entries: int | None = None
    route_batch_size: int | None = None  # GTM_FEEDBACK_ROUTE_BATCH_SIZE; None = the default 200
    profile_routing: bool = False
    # Intake load: total requests per repeat, client concurrency, time bound per repeat.
    intake_requests: int = 2000
    intake_concurrency: int = 16
    intake_seconds: float = 60.0
    postgres_url: str | None = None
    # Memory: only these jobs (None = every job of the code location).
    memory_jobs: tuple[str, ...] | None = None
    # Smoke runs materialize partitioned assets for this many areas only (all of them otherwise).
    smoke_areas: int = 2
    log: Callable[[str], None] = field(default=lambda message: print(message, flush=True))

    def partitions(self, slugs: list[str]) -> list[str]:
        return slugs[: self.smoke_areas] if self.smoke else slugs

    def say(self, message: str) -> None:
        self.log(f"[bench {datetime.now():%H:%M:%S}] {message}")


# ---------------------------------------------------------------------------- timing


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def summary(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Median, min, max and every run, rounded."""
    return {
        "median": round(median(values), digits),
        "min": round(min(values), digits) if values else None,
        "max": round(max(values), digits) if values else None,
        "runs": [round(v, digits) for v in values],
    }


def rss_mib() -> float:
    """Current resident set size of this process (Linux /proc)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---------------------------------------------------------------------------- machine


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    import faiss
    import sqlalchemy
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": memory_gib,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "git_commit": _git_commit(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------------- environment


@contextmanager
def scoped_env(values: dict[str, str | None]) -> Iterator[None]:
    """Sets (or, for None, removes) environment variables and restores them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def offline_env(home: Path, **extra: str | None) -> Iterator[None]:
    """The embedded-default providers, with settings and Dagster state under `home`."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster_home").mkdir(exist_ok=True)
    values: dict[str, str | None] = {
        **OFFLINE_ENV,
        "GTM_FEEDBACK_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "GTM_FEEDBACK_DATABASE_URL": None,
        **extra,
    }
    with scoped_env(values):
        yield


# ---------------------------------------------------------------------------- dagster


def partitioned_asset_job(name: str, assets: Sequence[Any], resources: dict[str, Any]) -> Any:
    """A one-asset job over the `product_area` partitions, built once and executed per
    partition — as a code location does — instead of `dg.materialize`, which rebuilds its job on
    every call (a test helper's cost, not production's)."""
    import dagster as dg

    from gtm_feedback_dagster.partitions import product_area_partitions

    job = dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=product_area_partitions,
        executor_def=dg.in_process_executor,
    )
    defs = dg.Definitions(assets=list(assets), jobs=[job], resources=resources)
    return defs.resolve_job_def(name)


# ---------------------------------------------------------------------------- data


def dataset_path(cache_dir: Path, scale: int, seed: int) -> Path:
    return cache_dir / f"demo-x{scale}-seed{seed}.json"


def demo_dataset(cfg: BenchConfig, scale: int | None = None) -> dict[str, Any]:
    """The demo dataset at `scale`, generated once and cached as JSON."""
    scale = scale or cfg.scale
    path = dataset_path(cfg.cache_dir, scale, cfg.seed)
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    cfg.say(f"generating the {scale}x demo dataset (seed {cfg.seed}) -> {path}")
    data = generate_demo_dataset(seed=cfg.seed, scale=scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    partial.replace(path)  # a crash never leaves a truncated cache file behind
    return data


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def schema_fingerprint() -> str:
    digest = hashlib.sha256(str(TEMPLATE_FORMAT).encode())
    for file in sorted(MIGRATIONS_DIR.glob("*.py")):
        digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def release(url: str) -> None:
    """Fold the WAL into the database file and drop pooled connections, so the file can be
    copied or deleted."""
    engine = db.engine_for(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def cached_database(
    cfg: BenchConfig,
    name: str,
    build: Callable[[str], None],
    parent: Path | None = None,
) -> Path:
    """A template SQLite app database built once by `build(url)` — on a migrated, empty
    database, or on a copy of the template `parent` — and reused while the schema is unchanged."""
    path = cfg.cache_dir / f"app-{name}-{schema_fingerprint()}.db"
    if path.exists():
        return path
    partial = path.with_name(path.name + ".partial")
    remove_sqlite(partial)
    url = sqlite_url(partial)
    started = time.perf_counter()
    if parent is None:
        db.upgrade(url)
    else:
        shutil.copyfile(parent, partial)
    build(url)
    release(url)
    remove_sqlite(path)
    partial.replace(path)
    cfg.say(f"built template database {path.name} in {time.perf_counter() - started:.1f} s")
    return path


def working_copy(template: Path, dest: Path) -> str:
    """A fresh copy of a template database; returns its URL."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_sqlite(dest)
    shutil.copyfile(template, dest)
    return sqlite_url(dest)


def import_dataset(url: str, data: dict[str, Any], route: bool) -> dict[str, Any]:
    summary_ = import_reference(url, data, route=route)
    counts = {k: v.created for k, v in summary_.counts.items()}
    return {"seconds": round(summary_.seconds, 2), "created": counts, "invalid": summary_.invalid}


# ---------------------------------------------------------------------------- vectors


class VectorCache:
    """Request embeddings keyed by content hash (model-specific file), so the 29k request texts
    of the 100x data are embedded once per machine, not once per benchmark run."""

    def __init__(self, cache_dir: Path, model_id: str) -> None:
        safe = "".join(c if c.isalnum() else "-" for c in model_id)
        self.path = cache_dir / f"vectors-{safe}.npz"
        self.rows: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as stored:
                for key, row in zip(stored["hashes"], stored["matrix"], strict=True):
                    self.rows[str(key)] = row

    def save(self) -> None:
        if not self.rows:
            return
        keys = sorted(self.rows)
        partial = self.path.with_name(self.path.stem + ".partial.npz")
        np.savez(partial, hashes=np.asarray(keys), matrix=np.vstack([self.rows[k] for k in keys]))
        partial.replace(self.path)


def embed_requests(cfg: BenchConfig, url: str, embedder: Embedder) -> dict[str, Any]:
    """Stores a current vector for every searchable request (what `request_embeddings` does),
    taking vectors from the cache and embedding only texts it has never seen."""
    cache = VectorCache(cfg.cache_dir, embedder.model_id)
    with session_scope(url) as session:
        plan = plan_sync(session, embedder.model_id)
    missing = [r for r in plan.to_embed if r.content_hash not in cache.rows]
    embed_seconds = 0.0
    if missing:
        cfg.say(f"embedding {len(missing)} request texts (cached for the next runs)")
        started = time.perf_counter()
        for start in range(0, len(missing), 2048):
            chunk = missing[start : start + 2048]
            vectors = embedder.embed([r.text for r in chunk])
            for r, row in zip(chunk, vectors, strict=True):
                cache.rows[r.content_hash] = row
            cache.save()
        embed_seconds = time.perf_counter() - started
    with session_scope(url) as session:
        upsert_vectors(
            session,
            embedder.model_id,
            [(r.id, r.content_hash) for r in plan.to_embed],
            np.vstack([cache.rows[r.content_hash] for r in plan.to_embed])
            if plan.to_embed
            else np.zeros((0, embedder.dim), dtype=np.float32),
        )
    return {
        "requests": len(plan.to_embed),
        "embedded_now": len(missing),
        "embed_seconds": round(embed_seconds, 2),
    }


def clustered_unit_vectors(
    n: int, dim: int = 384, clusters: int = 300, seed: int = 0
) -> np.ndarray:
    """Random unit vectors grouped around `clusters` random centres, so nearest neighbours have
    cosines like real request embeddings (0.5-0.9) instead of the ~0 of uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    members = rng.integers(0, clusters, size=n)
    noise = rng.standard_normal((n, dim)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    mixed = centres[members] + rng.uniform(0.4, 1.2, size=(n, 1)).astype(np.float32) * noise
    return np.ascontiguousarray(mixed / np.linalg.norm(mixed, axis=1, keepdims=True))


def store_random_vectors(url: str, model_id: str, seed: int = 0) -> dict[str, Any]:
    """Clustered random vectors for every searchable request (smoke runs: no model needed)."""
    with session_scope(url) as session:
        plan = plan_sync(session, model_id)
        matrix = clustered_unit_vectors(
            len(plan.to_embed), clusters=max(2, len(plan.to_embed) // 8), seed=seed
        )
        upsert_vectors(session, model_id, [(r.id, r.content_hash) for r in plan.to_embed], matrix)
    return {"requests": len(plan.to_embed), "vectors": "clustered random"}


# ---------------------------------------------------------------------------- results


def write_results(results: dict[str, Any], out_dir: Path, label: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{stamp}-{label}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return path
