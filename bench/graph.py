"""Related-request graph at scale (29k requests at 100x) against a bare faiss-cpu `IndexFlatIP`
k-NN on the same vectors, timed in the same process.

Vectors: all-MiniLM-L6-v2 embeddings of the demo requests' texts (stored in `request_vectors`,
cached by content hash), so similarities — and therefore how many edges pass the storage floor —
are those of real requests; smoke runs use clustered random unit vectors.

Three levels, each a full build (every request of every area recomputed) and, for the two that
store rows, an incremental update after 1% of the vectors changed:

- `knn`: `domain.request_graph.knn_edges` over all requests vs `faiss.IndexFlatIP` add + search
  (k+1, self dropped) — the k-NN maths, with a check that both give identical neighbours;
- `domain`: `analytics.graph.update_area_graph` for every area (load vectors, k-NN, write
  `request_relations`, related links, clusters, duplicates), no Dagster;
- `asset`: the `related_request_graph` asset materialized for every `product_area` partition on
  a real Dagster instance.

Targets (issue 6): <= 1.2x faiss's time with identical neighbours; an incremental update after 1%
of requests change <= 5% of a full build.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import dagster as dg
import faiss
import numpy as np
from sqlalchemy import func, select

from bench.common import (
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
from bench.databases import base_database, build_full_graph, vector_kind
from gtm_feedback_dagster.analytics.data import area_request_ids
from gtm_feedback_dagster.analytics.graph import update_area_graph
from gtm_feedback_dagster.analytics.graph_vectors import load_vectors
from gtm_feedback_dagster.assets.related_request_graph import related_request_graph
from gtm_feedback_dagster.core.request_graph import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_K,
    DEFAULT_MIN_SIMILARITY,
    GraphParams,
    knn_edges,
)
from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    ProductArea,
    RequestArea,
    RequestRelation,
    RequestVector,
)
from gtm_feedback_dagster.store.vectors import upsert_vectors

TARGET_RATIO = 1.2
TARGET_INCREMENTAL_SHARE = 0.05
CHANGED_SHARE = 0.01
# A changed request's new vector keeps cosine ~0.9 with the old one, like an edited description.
CHANGE_NOISE = 0.48
TIE_TOLERANCE = 1e-5
# faiss's flat index runs its BLAS products 4096 queries at a time
# (`faiss.cvar.distance_compute_blas_query_bs`); smaller blocks leave them part-filled.
WIDE_BLOCK = 4096


def _area_slugs(url: str) -> list[str]:
    with session_scope(url) as session:
        return list(session.scalars(select(ProductArea.slug).order_by(ProductArea.slug)))


# ---------------------------------------------------------------------------- k-NN level


def faiss_knn(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix)
    return index.search(matrix, k + 1)


def compare_neighbours(
    ids: list[int],
    scores: np.ndarray,
    positions: np.ndarray,
    edges: list[Any],
    k: int,
    min_similarity: float,
) -> dict[str, int]:
    """faiss's top k (self dropped, floor applied) vs knn_edges', per query. A differing
    neighbour counts as a tie when its score equals the k-th score (any order is right)."""
    ours: dict[int, dict[int, float]] = defaultdict(dict)
    for e in edges:
        ours[e.request_id][e.related_id] = e.similarity
    id_array = np.asarray(ids)
    differing = ties = 0
    for row, qid in enumerate(ids):
        theirs = {
            int(id_array[p]): float(s)
            for s, p in zip(scores[row], positions[row], strict=True)
            if p >= 0 and id_array[p] != qid and s >= min_similarity
        }
        top = dict(sorted(theirs.items(), key=lambda kv: (-kv[1], kv[0]))[:k])
        mine = ours.get(qid, {})
        if set(top) == set(mine):
            continue
        kth = min(list(top.values()) + list(mine.values()), default=0.0)
        extra = set(top) ^ set(mine)
        if all(abs(top.get(i, mine.get(i, 0.0)) - kth) <= TIE_TOLERANCE for i in extra):
            ties += 1
        else:
            differing += 1
    return {"queries": len(ids), "differing_queries": differing, "tie_only_queries": ties}


def knn_level(url: str, repeats: int) -> dict[str, Any]:
    """faiss, then knn_edges with the default block size, then with `WIDE_BLOCK` (the asset's
    `block_size` config), adjacent in each repeat."""
    with session_scope(url) as session:
        vectors = load_vectors(session)
    ids, matrix = vectors.ids, vectors.matrix
    faiss_runs: list[float] = []
    ours_runs: list[float] = []
    wide_runs: list[float] = []
    comparison: dict[str, int] = {}
    wide_comparison: dict[str, int] = {}
    for _ in range(repeats):
        seconds, (scores, positions) = timed(lambda: faiss_knn(matrix, DEFAULT_K))
        faiss_runs.append(seconds)
        seconds, edges = timed(
            lambda: knn_edges(
                ids, matrix, ids, matrix, k=DEFAULT_K, min_similarity=DEFAULT_MIN_SIMILARITY
            )
        )
        ours_runs.append(seconds)
        comparison = compare_neighbours(
            ids, scores, positions, edges, DEFAULT_K, DEFAULT_MIN_SIMILARITY
        )
        seconds, wide_edges = timed(
            lambda: knn_edges(
                ids,
                matrix,
                ids,
                matrix,
                k=DEFAULT_K,
                min_similarity=DEFAULT_MIN_SIMILARITY,
                block_size=WIDE_BLOCK,
            )
        )
        wide_runs.append(seconds)
        wide_comparison = compare_neighbours(
            ids, scores, positions, wide_edges, DEFAULT_K, DEFAULT_MIN_SIMILARITY
        )
    ratios = [o / f for o, f in zip(ours_runs, faiss_runs, strict=True)]
    wide_ratios = [o / f for o, f in zip(wide_runs, faiss_runs, strict=True)]
    return {
        "vectors": len(ids),
        "dim": int(matrix.shape[1]),
        "k": DEFAULT_K,
        "min_similarity": DEFAULT_MIN_SIMILARITY,
        "block_size": DEFAULT_BLOCK_SIZE,
        "faiss_seconds": summary(faiss_runs, 3),
        "knn_edges_seconds": summary(ours_runs, 3),
        "ratio": summary(ratios, 3),
        "edges": len(edges),
        "neighbours": comparison,
        "identical": comparison["differing_queries"] == 0,
        "target_ratio": TARGET_RATIO,
        "target_met": median(ratios) <= TARGET_RATIO,
        "wide_block": {
            "block_size": WIDE_BLOCK,
            "knn_edges_seconds": summary(wide_runs, 3),
            "ratio": summary(wide_ratios, 3),
            "identical": wide_comparison["differing_queries"] == 0,
        },
    }


# ---------------------------------------------------------------------------- stored graph


def change_vectors(url: str, share: float, rng: np.random.Generator) -> list[int]:
    """Re-stores `share` of the request vectors as slightly different ones (an edited text),
    with a fresh updated_at. Returns the changed request ids."""
    with session_scope(url) as session:
        vectors = load_vectors(session)
        n = max(1, round(len(vectors.ids) * share))
        chosen = sorted(int(i) for i in rng.choice(vectors.ids, size=n, replace=False))
        hashes = dict(
            session.execute(
                select(RequestVector.request_id, RequestVector.content_hash).where(
                    RequestVector.request_id.in_(chosen)
                )
            ).all()
        )
        rows = vectors.rows(chosen)
        noise = rng.standard_normal(rows.shape).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        moved = rows + CHANGE_NOISE * noise
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        upsert_vectors(
            session, vectors.model_id or "", [(rid, hashes[rid]) for rid in chosen], moved
        )
    return chosen


def verify_stored_graph(url: str, params: GraphParams) -> dict[str, int]:
    """Stored rows of every area request vs a fresh exact k-NN: neighbour sets must match, and
    (knn_edges scores each pair on its own) so must the ordered rows with their similarities."""
    with session_scope(url) as session:
        vectors = load_vectors(session)
        area_ids = [a for a in session.scalars(select(ProductArea.id))]
        queries = sorted(
            {rid for a in area_ids for rid in area_request_ids(session, a)} & set(vectors.ids)
        )
        stored: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
        for rid, related, similarity, rank in session.execute(
            select(
                RequestRelation.request_id,
                RequestRelation.related_id,
                RequestRelation.similarity,
                RequestRelation.rank,
            ).order_by(RequestRelation.request_id, RequestRelation.rank)
        ):
            stored[rid].append((related, similarity, rank))
    fresh: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
    for e in knn_edges(
        queries,
        vectors.rows(queries),
        vectors.ids,
        vectors.matrix,
        k=params.k,
        min_similarity=params.min_similarity,
    ):
        fresh[e.request_id].append((e.related_id, e.similarity, e.rank))
    differing = sum(
        1
        for q in queries
        if {r for r, _, _ in stored.get(q, [])} != {r for r, _, _ in fresh.get(q, [])}
    )
    differing_rows = sum(1 for q in queries if stored.get(q, []) != fresh.get(q, []))
    return {
        "queries": len(queries),
        "differing_queries": differing,
        # Queries whose stored rows (order, similarities, ranks) are not bit-equal to a fresh
        # build's.
        "differing_rows_queries": differing_rows,
    }


def domain_pass(
    url: str, full: bool, recomputed: list[int] | None = None, searched: list[int] | None = None
) -> float:
    """`update_area_graph` for every area; appends how many requests were recomputed (rows
    rewritten) and how many of them needed a k-NN search."""
    params = GraphParams()
    seconds = 0.0
    count = 0
    searches = 0
    for slug in _area_slugs(url):
        with session_scope(url) as session:
            area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).one()
            t, update = timed(
                lambda area=area, session=session: update_area_graph(
                    session, area, params, full_refresh=full
                )
            )
        seconds += t
        count += len(update.recomputed)
        searches += update.searched
    if recomputed is not None:
        recomputed.append(count)
    if searched is not None:
        searched.append(searches)
    return seconds


def asset_pass(url: str, instance: dg.DagsterInstance, full: bool, slugs: list[str]) -> float:
    """Each partition of the asset, one run each (as a backfill would)."""
    job = partitioned_asset_job(
        "bench_related_request_graph",
        [related_request_graph],
        {"store": StoreResource(database_url=url)},
    )
    seconds = 0.0
    for slug in slugs:
        t, result = timed(
            lambda slug=slug: job.execute_in_process(
                partition_key=slug,
                instance=instance,
                run_config={
                    "ops": {"related_request_graph": {"config": {"full_refresh": full}}},
                    **QUIET_LOGS,
                },
            )
        )
        if not result.success:
            raise RuntimeError(f"related_request_graph failed for partition {slug}")
        seconds += t
    return seconds


def run(cfg: BenchConfig) -> dict[str, Any]:
    template = base_database(cfg)
    url = working_copy(template, cfg.work_dir / "graph.db")
    rng = np.random.default_rng(cfg.seed)
    repeats = cfg.repeats
    cfg.say("graph: k-NN maths vs bare faiss")
    knn = knn_level(url, repeats)

    home = cfg.work_dir / "graph-home"
    with offline_env(home), dg.instance_for_test() as instance:
        slugs = _area_slugs(url)
        instance.add_dynamic_partitions(product_area_partitions.name or "", slugs)
        asset_slugs = cfg.partitions(slugs)
        build_full_graph(url)  # so the first timed full build is not the first write
        cfg.say("graph: full builds (domain, asset), each next to a bare faiss k-NN")
        matrix = load_matrix(url)
        faiss_again: list[float] = []
        domain_full: list[float] = []
        asset_full: list[float] = []
        for _ in range(repeats):
            faiss_again.append(timed(lambda: faiss_knn(matrix, DEFAULT_K))[0])
            domain_full.append(domain_pass(url, full=True))
            asset_full.append(asset_pass(url, instance, True, asset_slugs))
        cfg.say("graph: incremental updates after 1% of the vectors changed")
        domain_incremental: list[float] = []
        recomputed: list[int] = []
        searched: list[int] = []
        asset_incremental: list[float] = []
        changed = 0
        for _ in range(repeats):
            changed = len(change_vectors(url, CHANGED_SHARE, rng))
            asset_incremental.append(asset_pass(url, instance, False, asset_slugs))
            change_vectors(url, CHANGED_SHARE, rng)
            domain_incremental.append(domain_pass(url, False, recomputed, searched))
        check = verify_stored_graph(url, GraphParams())
        area_queries = _area_query_count(url)
    release(url)

    def level(full: list[float], incremental: list[float]) -> dict[str, Any]:
        shares = [i / f for i, f in zip(incremental, full, strict=True)]
        versus_faiss = [f / b for f, b in zip(full, faiss_again, strict=True)]
        return {
            "full_seconds": summary(full, 3),
            "incremental_seconds": summary(incremental, 3),
            "incremental_share": summary(shares, 4),
            "full_vs_faiss": summary(versus_faiss, 2),
            "incremental_target_met": median(shares) <= TARGET_INCREMENTAL_SHARE,
        }

    return {
        "scale": cfg.scale,
        "vectors": vector_kind(cfg),
        "areas": len(slugs),
        "asset_areas": len(asset_slugs),
        "knn": knn,
        "faiss_baseline_seconds": summary(faiss_again, 3),
        "domain": level(domain_full, domain_incremental),
        "asset": level(asset_full, asset_incremental),
        "changed_per_update": changed,
        # Area queries recomputed by each incremental domain pass (a request in two areas counts
        # twice), out of `area_queries`.
        "recomputed_per_update": recomputed,
        # Of those, the queries that needed a k-NN search (the rest were settled from their
        # stored rows and the changed vectors).
        "searched_per_update": searched,
        "area_queries": area_queries,
        "stored_graph_check": check,
        "stored_graph_identical": check["differing_queries"] == 0,
        "stored_rows_bit_equal": check["differing_rows_queries"] == 0,
        "target_incremental_share": TARGET_INCREMENTAL_SHARE,
    }


def _area_query_count(url: str) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(RequestArea)) or 0)


def load_matrix(url: str) -> np.ndarray:
    with session_scope(url) as session:
        return load_vectors(session).matrix
