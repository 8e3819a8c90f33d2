"""The related-request graph: exact k-nearest neighbours over request vectors, clusters and
duplicate candidates.

Plain Python over numpy/faiss (no Dagster, no database), so the maths is tested against a numpy
brute force. Vectors are L2-normalised float32 rows, so an inner product is a cosine similarity.

Thresholds are for raw all-MiniLM-L6-v2 cosine (the embedded default), which runs much lower than
OpenAI's: the reference's "related ≥ 0.8" would link almost nothing here. Measured on the demo data
(`generate_demo_dataset(seed=7)`, request title + description):
- scale 1 (291 distinct concepts): pairs of different concepts have median cosine 0.13-0.28 and a
  99th percentile of 0.44-0.56; the highest is 0.75 ("Faster dashboard load times" ~ "Better
  performance with many charts per dashboard", a plausible duplicate). Pairs at 0.55-0.6 are
  mostly the same product domain (report templates ~ dashboard templates); below 0.5 mostly noise.
- scale 2 (each concept plus a narrower variant, e.g. "... - on Snowflake"): same-concept pairs
  score 0.81-0.97 (10th-90th percentile); 98.6% of them are >= 0.75 and every pair >= 0.75 is a
  same-concept pair.
- clusters over edges >= 0.6 chain unrelated requests through one hub (a 42-request component at
  scale 2); at >= 0.65 they are coherent (99% single-theme, largest 14).
Change them per run in the asset's config (e.g. for OpenAI embeddings, which score higher).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import NamedTuple

import faiss
import numpy as np

# Clusters, duplicates and best links are derived from the edges in core/graph_derive.py; the
# names stay importable from here.
from gtm_feedback_dagster.core.graph_derive import (
    DuplicatePair,
    EdgeArrays,
    best_related,
    best_related_array,
    clusters,
    clusters_array,
    duplicate_pair_count,
    duplicate_pairs,
    duplicate_pairs_array,
)

DEFAULT_K = 10
# Edges below this are not stored: unrelated MiniLM pairs score up to ~0.3.
DEFAULT_MIN_SIMILARITY = 0.35
# "Related, not identical" (the reference's find-all-related >= 0.8 on OpenAI embeddings).
DEFAULT_RELATED_THRESHOLD = 0.55
# Edges strong enough to put two requests in the same theme cluster.
DEFAULT_CLUSTER_THRESHOLD = 0.65
# Pairs this close are probably the same ask written twice: merge candidates.
DEFAULT_DUPLICATE_THRESHOLD = 0.75
DEFAULT_BLOCK_SIZE = 4096  # faiss's own BLAS query block (distance_compute_blas_query_bs)


class Neighbour(NamedTuple):
    """One stored edge. A named tuple, not a dataclass: a full build makes ~300k of them, and a
    tuple is built in C (`_new_neighbour`) where a frozen dataclass's __init__ costs ~1 us each
    (about a fifth of a faiss search's time)."""

    request_id: int
    related_id: int
    similarity: float
    rank: int  # 1 = nearest


# Builds a Neighbour from a 4-tuple without a Python-level __new__ per edge.
_new_neighbour = partial(tuple.__new__, Neighbour)


def _as_matrix(vectors: np.ndarray, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-d matrix, got shape {arr.shape}")
    return arr


# Candidates fetched per query beyond k + 1 (self): the final order is by exact per-pair scores,
# which may reorder hits within a float rounding of each other.
CANDIDATE_MARGIN = 2
# Up to this many queries, one numpy product per block beats a faiss search, whose cost barely
# depends on the number of queries below a few thousand.
SMALL_QUERY_SET = 2048
_SMALL_BLOCK = 256
_CHUNK = 64  # columns per chunk maximum in `top_positions`
# Far above float32 rounding of a 384-d inner product of unit vectors (~1e-7).
PREFILTER_SLACK = 1e-5
_RESCORE_BLOCK = 512


def indexed_scores(queries: np.ndarray, corpus: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """`out[i, j]` = inner product of query i and corpus row `positions[i, j]` (-inf where the
    position is -1), each pair summed on its own by faiss's SIMD `fvec_inner_product`: the same
    value whichever pairs are scored with it, without gathering the candidate rows into a
    (queries x candidates x dim) temporary as numpy would. This per-pair value, not a BLAS
    product's (whose rounding depends on the matrix shapes), is what the rows store."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    corpus = np.ascontiguousarray(corpus, dtype=np.float32)
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    out = np.empty(positions.shape, dtype=np.float32)
    if out.size:
        faiss.fvec_inner_products_by_idx(
            faiss.swig_ptr(out),
            faiss.swig_ptr(queries),
            faiss.swig_ptr(corpus),
            faiss.swig_ptr(positions),
            queries.shape[1],
            positions.shape[0],
            positions.shape[1],
        )
    return out


def top_positions(scores: np.ndarray, fetch: int) -> np.ndarray:
    """Column positions of the `fetch` highest scores of each row (ties to the lower column),
    unordered. Cheaper than `np.argpartition` over whole rows: the `fetch`-th highest of the
    rows' chunk maxima (`_CHUNK` columns each) is a lower bound of the `fetch`-th highest score
    (that many chunks reach it), so only the few columns at or above it are ranked."""
    n_rows, n = scores.shape
    whole = n // _CHUNK
    if whole < fetch:
        return np.argpartition(-scores, fetch - 1, axis=1)[:, :fetch]
    maxima = scores[:, : whole * _CHUNK].reshape(n_rows, whole, _CHUNK).max(axis=2)
    if whole * _CHUNK < n:
        maxima = np.concatenate([maxima, scores[:, whole * _CHUNK :].max(axis=1)[:, None]], 1)
    bound = np.partition(maxima, maxima.shape[1] - fetch, axis=1)[:, maxima.shape[1] - fetch]
    rows, cols = np.nonzero(scores >= bound[:, None])
    # Per row (np.nonzero's order), highest first, ties to the lower column; then each row's
    # first `fetch`.
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    picked = starts[:, None] + np.arange(fetch)[None, :]
    return cols[picked]


def _candidates(queries: np.ndarray, corpus: np.ndarray, fetch: int, block_size: int) -> np.ndarray:
    """Corpus positions of (at least) each query's `fetch` best hits by inner product, -1 as
    padding; their order and exact scores are settled by the caller."""
    n = corpus.shape[0]
    if fetch >= n:
        return np.broadcast_to(np.arange(n, dtype=np.int64), (queries.shape[0], n))
    if queries.shape[0] <= SMALL_QUERY_SET:
        out = np.empty((queries.shape[0], fetch), dtype=np.int64)
        for start in range(0, queries.shape[0], _SMALL_BLOCK):
            scores = queries[start : start + _SMALL_BLOCK] @ corpus.T
            out[start : start + _SMALL_BLOCK] = top_positions(scores, fetch)
        return out
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(corpus)
    parts = [
        index.search(queries[start : start + block_size], fetch)[1]
        for start in range(0, queries.shape[0], block_size)
    ]
    return np.vstack(parts).astype(np.int64, copy=False)


def knn_edges(
    query_ids: Sequence[int],
    query_vectors: np.ndarray,
    corpus_ids: Sequence[int],
    corpus_vectors: np.ndarray,
    k: int = DEFAULT_K,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> list[Neighbour]:
    """Exact k nearest neighbours of every query among the corpus (a query never neighbours
    itself), keeping similarities >= min_similarity.

    Candidates come from blocked matrix products — a flat inner-product faiss index searched
    `block_size` rows at a time (BLAS), or numpy products for small query sets — never one search
    per request. Each candidate is then scored on its own (`indexed_scores`) and the rows are ordered
    by (-similarity, id), so a request's neighbours and their stored similarities are the same
    whichever requests are computed with it (an incremental update equals a full build).
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if block_size <= 0:
        raise ValueError(f"block_size must be positive, got {block_size}")
    q_ids = np.asarray(list(query_ids), dtype=np.int64)
    c_ids = np.asarray(list(corpus_ids), dtype=np.int64)
    queries = _as_matrix(query_vectors, "query vectors")
    corpus = _as_matrix(corpus_vectors, "corpus vectors")
    if queries.shape[0] != len(q_ids) or corpus.shape[0] != len(c_ids):
        raise ValueError("each vector needs exactly one id")
    if len(q_ids) == 0 or len(c_ids) == 0:
        return []
    if queries.shape[1] != corpus.shape[1]:
        raise ValueError(
            f"query dimension {queries.shape[1]} differs from corpus dimension {corpus.shape[1]}"
        )
    # Extra hits so that dropping the query itself still leaves k neighbours, and a margin so
    # that rounding differences between the search and the exact scores cannot lose one.
    fetch = min(k + 1 + CANDIDATE_MARGIN, len(c_ids))
    positions = _candidates(queries, corpus, fetch, block_size)
    scores = indexed_scores(queries, corpus, positions)
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, len(q_ids), _RESCORE_BLOCK):
        block_ids = q_ids[start : start + _RESCORE_BLOCK]
        block_pos = positions[start : start + _RESCORE_BLOCK]
        block_scores = scores[start : start + _RESCORE_BLOCK]
        valid = block_pos >= 0
        related = np.where(valid, c_ids[np.maximum(block_pos, 0)], -1)
        # Self, padding (-1) and hits under the floor are masked out with numpy, then each row
        # is ordered by (-similarity, id): ties (identical vectors) in id order, so results
        # never depend on the search. The first k kept hits of a row are its neighbours.
        keep = valid & (related != block_ids[:, None]) & (block_scores >= min_similarity)
        masked = np.where(keep, block_scores, -np.inf)
        order = np.lexsort((related, -masked), axis=-1)
        keep = np.take_along_axis(keep, order, axis=1)
        ranks = np.cumsum(keep, axis=1)
        keep &= ranks <= k
        rows, cols = np.nonzero(keep)
        picked = order[rows, cols]
        parts.append(
            (block_ids[rows], related[rows, picked], block_scores[rows, picked], ranks[rows, cols])
        )
    if not parts:
        return []
    columns = [np.concatenate(column).tolist() for column in zip(*parts, strict=True)]
    # zip makes the 4-tuples and _new_neighbour types them, both in C. The cyclic garbage
    # collector is paused meanwhile: these ~300k tuples of numbers cannot form cycles, yet each
    # 700 allocations would start a collection that walks them (measured: 3-8x the build).
    paused = gc.isenabled()
    gc.disable()
    try:
        return list(map(_new_neighbour, zip(*columns, strict=True)))
    finally:
        if paused:
            gc.enable()


@dataclass(frozen=True)
class StoredRows:
    """What the change detection needs of one query's stored neighbour rows."""

    computed_at: float  # when the (oldest of the) rows were computed, epoch seconds
    count: int
    weakest: float  # the lowest stored similarity (the k-th neighbour's when count >= k)


def requests_to_recompute(
    query_ids: Sequence[int],
    query_vectors: np.ndarray,
    computed_at: Mapping[int, float],
    existing: Mapping[int, Sequence[tuple[int, float]]],
    corpus_ids: Sequence[int],
    corpus_vectors: np.ndarray,
    updated_at: Mapping[int, float],
    k: int = DEFAULT_K,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> set[int]:
    """Which queries' neighbour lists may differ from what is stored, from every stored row.

    `computed_at[q]` is when q's stored rows were computed (epoch seconds; absent = never),
    `existing[q]` its stored (related_id, similarity) rows. `stale_queries` does the work from a
    per-query summary, which is what the store loads.
    """
    stored = {
        q: StoredRows(computed_at[q], len(rows), min(s for _, s in rows))
        for q, rows in existing.items()
        if rows and q in computed_at
    }
    pairs = [(q, related_id) for q, rows in existing.items() for related_id, _ in rows]
    return stale_queries(
        query_ids,
        query_vectors,
        stored,
        pairs,
        corpus_ids,
        corpus_vectors,
        updated_at,
        k=k,
        min_similarity=min_similarity,
        block_size=block_size,
    )


def stale_queries(
    query_ids: Sequence[int],
    query_vectors: np.ndarray,
    stored: Mapping[int, StoredRows],
    stored_pairs: Iterable[tuple[int, int]],
    corpus_ids: Sequence[int],
    corpus_vectors: np.ndarray,
    updated_at: Mapping[int, float],
    k: int = DEFAULT_K,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> set[int]:
    """Which queries' neighbour lists may differ from what is stored.

    `stored[q]` summarises q's stored rows (absent = none), `stored_pairs` are (query,
    related_id) of stored rows — all of them, or at least every row whose related request left
    the corpus or changed its vector since `stored[query].computed_at` (no other row can make a
    query stale) — and `updated_at[c]` is when c's vector changed. A query is recomputed when its
    own vector changed or it has no rows yet, when one of its neighbours changed or was removed,
    or when a vector that changed since its rows were computed now reaches its k-th neighbour —
    so an incremental run gives exactly what a full rebuild would, while touching only the
    affected requests.
    """
    q_ids = [int(q) for q in query_ids]
    query_set = set(q_ids)
    corpus_set = set(corpus_ids)
    stale: set[int] = set()
    for q in q_ids:
        rows = stored.get(q)
        if rows is None or rows.count == 0 or updated_at.get(q, 0.0) > rows.computed_at:
            stale.add(q)
    for q, related_id in stored_pairs:
        if q in stale or q not in query_set:
            continue
        if related_id not in corpus_set or updated_at.get(related_id, 0.0) > stored[q].computed_at:
            stale.add(q)

    # Vectors that changed after some remaining query's rows were computed may have entered
    # its top k: compare them with every such query in one blocked matrix product.
    remaining = [q for q in q_ids if q not in stale]
    if not remaining:
        return stale
    oldest = min(stored[q].computed_at for q in remaining)
    c_list = list(corpus_ids)
    c_ids = np.asarray(c_list, dtype=np.int64)
    c_updated = np.fromiter(
        map(updated_at.get, c_list, repeat(0.0, len(c_list))), dtype=np.float64, count=len(c_list)
    )
    changed = np.flatnonzero(c_updated > oldest)
    if len(changed) == 0:
        return stale
    position = {int(q): i for i, q in enumerate(query_ids)}
    rem_rows = np.asarray([position[q] for q in remaining], dtype=np.int64)
    queries = _as_matrix(query_vectors, "query vectors")[rem_rows]
    rem_ids = np.asarray(remaining, dtype=np.int64)
    rem_at = np.asarray([stored[q].computed_at for q in remaining], dtype=np.float64)
    # A changed vector matters if it reaches the weakest stored neighbour (or, with fewer than k
    # rows, the storage floor). The BLAS product below may round a pair differently from the
    # per-pair score the rows hold, so the test keeps a slack: a near tie is recomputed rather
    # than missed.
    floor = (
        np.asarray(
            [stored[q].weakest if stored[q].count >= k else min_similarity for q in remaining],
            dtype=np.float32,
        )
        - PREFILTER_SLACK
    )
    changed_vectors = _as_matrix(corpus_vectors, "corpus vectors")[changed]
    changed_ids = c_ids[changed]
    changed_at = c_updated[changed]
    for start in range(0, len(changed), block_size):
        sims = queries @ changed_vectors[start : start + block_size].T
        newer = changed_at[None, start : start + block_size] > rem_at[:, None]
        not_self = changed_ids[None, start : start + block_size] != rem_ids[:, None]
        hit = (sims >= floor[:, None]) & newer & not_self
        stale.update(int(q) for q in rem_ids[hit.any(axis=1)])
    return stale


@dataclass(frozen=True)
class GraphParams:
    k: int = DEFAULT_K
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    related_threshold: float = DEFAULT_RELATED_THRESHOLD
    cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD
    duplicate_threshold: float = DEFAULT_DUPLICATE_THRESHOLD
    block_size: int = DEFAULT_BLOCK_SIZE

    def stored_rows_differ(self, previous: Mapping[str, object] | None) -> bool:
        """Whether rows computed with `previous` params would differ (k or the storage floor
        changed); thresholds only shape what is derived from the rows, recomputed every run."""
        if not previous:
            return False
        return previous.get("k") != self.k or previous.get("min_similarity") != self.min_similarity


__all__ = [
    "CANDIDATE_MARGIN",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_CLUSTER_THRESHOLD",
    "DEFAULT_DUPLICATE_THRESHOLD",
    "DEFAULT_K",
    "DEFAULT_MIN_SIMILARITY",
    "DEFAULT_RELATED_THRESHOLD",
    "SMALL_QUERY_SET",
    "DuplicatePair",
    "EdgeArrays",
    "GraphParams",
    "Neighbour",
    "StoredRows",
    "best_related",
    "best_related_array",
    "clusters",
    "clusters_array",
    "duplicate_pair_count",
    "duplicate_pairs",
    "duplicate_pairs_array",
    "indexed_scores",
    "knn_edges",
    "requests_to_recompute",
    "stale_queries",
    "top_positions",
]
