"""Updating a stale request's neighbour list from its stored rows and the changed vectors, without
a search over the corpus, wherever that provably gives what `knn_edges` would.

Plain Python over numpy. A stored list is the exact top k (by (-similarity, id), at or above the
floor) of the corpus as it was when the rows were computed. If the query's own vector did not
change since, every corpus vector that did not change either keeps its score, and those outside
the list ranked after its k-th row (or under the floor). So the new top k is the top k of the
unchanged stored rows plus the changed vectors with their new scores — provided it still ends at
or before the old k-th row's key, or the old list was cut by the floor (fewer than k rows).
Otherwise a vector the list never held may now rank k-th, and the request needs a search.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np

from gtm_feedback_dagster.core.request_graph import Neighbour, indexed_scores

# Above this many changed vectors every query is left to the search (scoring each query against
# each changed vector would cost about as much, in a queries x changed temporary).
MAX_CHANGED = 4096
_BLOCK = 1024


def patch_neighbours(
    query_ids: Sequence[int],
    query_vectors: np.ndarray,
    stored_rows: Mapping[int, Sequence[tuple[int, float]]],
    computed_at: Mapping[int, float],
    corpus_ids: Sequence[int],
    corpus_vectors: np.ndarray,
    updated_at: Mapping[int, float],
    k: int,
    min_similarity: float,
) -> tuple[list[Neighbour], set[int]]:
    """New rows for the queries whose lists can be settled from `stored_rows[q]` (q's stored
    (related_id, similarity) rows, any order), and the queries that still need a search.

    Each query's own vector must be unchanged since `computed_at[q]`, when its rows were
    computed; `updated_at[c]` is when corpus vector c last changed. Scores of the changed vectors
    come from `indexed_scores`, the per-pair score of `knn_edges`, so the rows are bit-equal to a
    search's."""
    q_ids = [int(q) for q in query_ids]
    if not q_ids:
        return [], set()
    c_list = [int(c) for c in corpus_ids]
    c_ids = np.asarray(c_list, dtype=np.int64)
    # map over dict.get: no Python frame per corpus vector.
    c_updated = np.fromiter(
        map(updated_at.get, c_list, repeat(0.0, len(c_list))), dtype=np.float64, count=len(c_list)
    )
    in_corpus = set(c_list)
    q_at = np.asarray([computed_at[q] for q in q_ids], dtype=np.float64)
    changed = np.flatnonzero(c_updated > q_at.min())
    if len(changed) > MAX_CHANGED:
        return [], set(q_ids)  # a large change: searching is cheaper than scoring every pair
    old_lists = [sorted((-float(s), int(r)) for r, s in stored_rows.get(q, ())) for q in q_ids]
    # Only a changed vector at or above a list's weakest row (the floor, for a short list) can
    # be in its new top k without making the list need a search anyway.
    entry_floor = np.asarray(
        [-old[k - 1][0] if len(old) >= k else min_similarity for old in old_lists],
        dtype=np.float64,
    )
    entering: dict[int, list[tuple[float, int]]] = defaultdict(list)
    changed_ids = c_ids[changed]
    query_array = np.asarray(q_ids, dtype=np.int64)
    for start in range(0, len(q_ids) if len(changed) else 0, _BLOCK):
        stop = start + _BLOCK
        block = query_array[start:stop]
        scores = indexed_scores(
            query_vectors[start:stop],
            corpus_vectors,
            np.broadcast_to(changed, (len(block), len(changed))),
        )
        hit = (
            (c_updated[changed][None, :] > q_at[start:stop, None])
            & (changed_ids[None, :] != block[:, None])
            & (scores >= entry_floor[start:stop, None])
            & (scores >= min_similarity)
        )
        for row, col in zip(*np.nonzero(hit), strict=True):
            entering[start + int(row)].append((-float(scores[row, col]), int(changed_ids[col])))
    patched: list[Neighbour] = []
    unresolved: set[int] = set()
    for row, q in enumerate(q_ids):
        old = old_lists[row]
        # Rows whose related vector changed since (rescored above if still close) or left the
        # corpus are dropped.
        at = float(q_at[row])
        kept = [key for key in old if key[1] in in_corpus and updated_at.get(key[1], 0.0) <= at]
        top = sorted(kept + entering.get(row, []))[:k]
        # Complete if the old list was cut by the floor (nothing outside it reaches the floor),
        # or the new k-th still ranks at or before the old k-th (nothing outside beats it).
        if not (len(old) < k or (len(top) == k and top[-1] <= old[k - 1])):
            unresolved.add(q)
            continue
        patched.extend(
            Neighbour(q, related, -negative, rank)
            for rank, (negative, related) in enumerate(top, start=1)
        )
    return patched, unresolved
