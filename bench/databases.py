"""The cached template databases the benchmarks start from, each built on the previous one:

- `base`: the demo data imported as migrated (entries routed to their reference requests, no-match
  entries pending) and a vector per request — all-MiniLM-L6-v2 embeddings of the request texts
  (cached by content hash), or, in smoke runs, clustered random unit vectors (no model load);
- `graph`: base + the related-request graph of every area (full build);
- `steady`: graph + the steady-state rows and due work of `bench/steady_state.py`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bench.common import (
    BenchConfig,
    cached_database,
    demo_dataset,
    embed_requests,
    import_dataset,
    remove_sqlite,
    schema_fingerprint,
    store_random_vectors,
)
from bench.steady_state import DueWork, build_steady_state
from gtm_feedback_dagster.ai.local_model import LOCAL_MODEL_NAME, LocalEmbedder
from gtm_feedback_dagster.analytics.graph import update_area_graph
from gtm_feedback_dagster.core.request_graph import GraphParams
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import ProductArea

LOCAL_MODEL_ID = f"local:{LOCAL_MODEL_NAME}"


def vector_kind(cfg: BenchConfig) -> str:
    return "random" if cfg.smoke else "embedded"


def base_database(cfg: BenchConfig, scale: int | None = None) -> Path:
    scale = scale or cfg.scale
    data = demo_dataset(cfg, scale)

    def build(url: str) -> None:
        cfg.say(f"importing the {scale}x dataset ({len(data['feedback'])} entries)")
        import_dataset(url, data, route=False)
        if cfg.smoke:
            store_random_vectors(url, LOCAL_MODEL_ID, seed=cfg.seed)
        else:
            embedder = LocalEmbedder()
            embed_requests(cfg, url, embedder)

    return cached_database(cfg, f"base-x{scale}-s{cfg.seed}-{vector_kind(cfg)}", build)


def build_full_graph(url: str, params: GraphParams | None = None) -> None:
    params = params or GraphParams()
    with session_scope(url) as session:
        slugs = list(session.scalars(select(ProductArea.slug).order_by(ProductArea.slug)))
    for slug in slugs:
        with session_scope(url) as session:
            area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).one()
            update_area_graph(session, area, params, full_refresh=True)


def graph_database(cfg: BenchConfig, scale: int | None = None) -> Path:
    scale = scale or cfg.scale
    base = base_database(cfg, scale)
    return cached_database(
        cfg, f"graph-x{scale}-s{cfg.seed}-{vector_kind(cfg)}", build_full_graph, parent=base
    )


def steady_database(cfg: BenchConfig, scale: int | None = None) -> tuple[Path, DueWork]:
    scale = scale or cfg.scale
    parent = graph_database(cfg, scale)
    name = f"steady-x{scale}-s{cfg.seed}-{vector_kind(cfg)}"
    plan_path = cfg.cache_dir / f"{name}-{schema_fingerprint()}.json"

    def build(url: str) -> None:
        cfg.say(f"adding steady-state rows at {scale}x")
        build_steady_state(url, scale, cfg.smoke, cfg.seed).save(plan_path)

    path = cached_database(cfg, name, build, parent=parent)
    if not plan_path.exists():  # the template outlived its plan file: rebuild both
        remove_sqlite(path)
        path = cached_database(cfg, name, build, parent=parent)
    return path, DueWork.load(plan_path)
