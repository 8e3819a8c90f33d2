"""The related-request graph maths against a numpy brute force."""

from __future__ import annotations

import numpy as np
import pytest

from gtm_feedback_dagster.core import request_graph
from gtm_feedback_dagster.core.request_graph import (
    EdgeArrays,
    best_related,
    best_related_array,
    clusters,
    clusters_array,
    duplicate_pair_count,
    duplicate_pairs,
    duplicate_pairs_array,
    knn_edges,
    requests_to_recompute,
)


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute_force(query_ids, queries, corpus_ids, corpus, k, min_similarity):
    sims = queries.astype(np.float64) @ corpus.astype(np.float64).T
    out = {}
    for i, q in enumerate(query_ids):
        order = sorted(
            (j for j in range(len(corpus_ids)) if corpus_ids[j] != q),
            key=lambda j: (-sims[i, j], corpus_ids[j]),
        )
        out[q] = [(corpus_ids[j], sims[i, j]) for j in order[:k] if sims[i, j] >= min_similarity]
    return out


@pytest.mark.parametrize("block_size", [7, 1024])
def test_knn_equals_brute_force_including_cross_area(block_size: int) -> None:
    corpus = unit_vectors(300, seed=1)
    corpus_ids = list(range(1000, 1300))
    # The "area" is every third request: its neighbours come from the whole corpus.
    area_rows = list(range(0, 300, 3))
    query_ids = [corpus_ids[i] for i in area_rows]
    edges = knn_edges(
        query_ids,
        corpus[area_rows],
        corpus_ids,
        corpus,
        k=8,
        min_similarity=-1.0,
        block_size=block_size,
    )
    expected = brute_force(query_ids, corpus[area_rows], corpus_ids, corpus, 8, -1.0)
    got: dict[int, list[tuple[int, float]]] = {}
    for e in edges:
        got.setdefault(e.request_id, []).append((e.related_id, e.similarity))
        assert e.rank == len(got[e.request_id])
    assert set(got) == set(query_ids)
    cross_area = 0
    for q in query_ids:
        assert [r for r, _ in got[q]] == [r for r, _ in expected[q]]
        np.testing.assert_allclose(
            [s for _, s in got[q]], [s for _, s in expected[q]], rtol=0, atol=2e-6
        )
        cross_area += sum(1 for r, _ in got[q] if r not in query_ids)
        assert q not in [r for r, _ in got[q]]
    assert cross_area > 0


def test_knn_min_similarity_and_small_corpus() -> None:
    corpus = unit_vectors(40, dim=16, seed=2)
    ids = list(range(40))
    edges = knn_edges(ids, corpus, ids, corpus, k=50, min_similarity=0.2, block_size=16)
    expected = brute_force(ids, corpus, ids, corpus, 50, 0.2)
    for q in ids:
        assert [e.related_id for e in edges if e.request_id == q] == [r for r, _ in expected[q]]
    assert all(e.similarity >= 0.2 for e in edges)
    assert knn_edges([], np.zeros((0, 16)), ids, corpus) == []
    assert knn_edges([1], corpus[:1], [1], corpus[:1], k=3, min_similarity=-1) == []


def test_knn_identical_vectors_tie_break_by_id() -> None:
    v = unit_vectors(1, dim=8)[0]
    corpus = np.stack([v, v, v, -v])
    edges = knn_edges([2], corpus[2:3], [5, 3, 2, 9], corpus, k=3, min_similarity=-1.0)
    assert [(e.related_id, round(e.similarity, 5)) for e in edges] == [
        (3, 1.0),
        (5, 1.0),
        (9, -1.0),
    ]


def test_clusters_duplicates_and_related() -> None:
    edges = [
        (1, 2, 0.9),
        (2, 1, 0.9),
        (2, 3, 0.65),
        (4, 5, 0.62),
        (5, 6, 0.3),
        (7, 8, 0.85),
        (8, 7, 0.86),
    ]
    assert clusters(edges, 0.6) == [[1, 2, 3], [4, 5], [7, 8]]
    assert clusters(edges, 0.8) == [[1, 2], [7, 8]]
    dups = duplicate_pairs(edges, 0.8)
    assert [(d.a, d.b, d.similarity) for d in dups] == [(1, 2, 0.9), (7, 8, 0.86)]
    assert best_related(edges, 0.6) == {1: 2, 2: 1, 4: 5, 7: 8, 8: 7}
    # Equal similarity: the smaller id wins, whatever the order of the edges.
    assert best_related([(1, 9, 0.7), (1, 3, 0.7)], 0.6) == {1: 3}


def _stored(edges):
    rows: dict[int, list[tuple[int, float]]] = {}
    for e in edges:
        rows.setdefault(e.request_id, []).append((e.related_id, e.similarity))
    return rows


def test_incremental_recompute_matches_full_rebuild() -> None:
    ids = list(range(1, 121))
    vectors = unit_vectors(120, dim=24, seed=3)
    area = ids[:60]
    k, floor = 5, 0.0
    rows = _stored(knn_edges(area, vectors[:60], ids, vectors, k=k, min_similarity=floor))
    computed_at = dict.fromkeys(area, 100.0)
    updated_at = dict.fromkeys(ids, 50.0)

    # Nothing changed: nothing to recompute.
    assert (
        requests_to_recompute(
            area, vectors[:60], computed_at, rows, ids, vectors, updated_at, k, floor
        )
        == set()
    )

    # Request 70 (outside the area) moves next to request 10; request 20 changes; request 120 is
    # removed from the corpus.
    changed = vectors.copy()
    changed[69] = vectors[9] + 0.05 * unit_vectors(1, dim=24, seed=9)[0]
    changed[69] /= np.linalg.norm(changed[69])
    changed[19] = unit_vectors(1, dim=24, seed=10)[0]
    updated_at[70] = updated_at[20] = 200.0
    kept = [i for i in ids if i != 120]
    kept_vectors = changed[[i - 1 for i in kept]]
    kept_updated = {i: updated_at[i] for i in kept}

    stale = requests_to_recompute(
        area, changed[:60], computed_at, rows, kept, kept_vectors, kept_updated, k, floor
    )
    assert {10, 20} <= stale
    assert all(q in stale for q in area if any(r in (20, 70, 120) for r, _ in rows[q]))
    assert len(stale) < len(area)  # incremental: most requests untouched

    full = _stored(knn_edges(area, changed[:60], kept, kept_vectors, k=k, min_similarity=floor))
    fresh = _stored(
        knn_edges(
            sorted(stale),
            changed[sorted(i - 1 for i in stale)],
            kept,
            kept_vectors,
            k=k,
            min_similarity=floor,
        )
    )
    merged = {q: fresh.get(q, []) if q in stale else rows[q] for q in area}
    for q in area:
        assert [r for r, _ in merged[q]] == [r for r, _ in full[q]], q


def test_new_request_without_rows_is_recomputed() -> None:
    ids = [1, 2, 3]
    vectors = unit_vectors(3, dim=8, seed=4)
    rows = _stored(knn_edges([1, 2], vectors[:2], ids[:2], vectors[:2], k=2, min_similarity=-1))
    stale = requests_to_recompute(
        ids,
        vectors,
        {1: 10.0, 2: 10.0},
        rows,
        ids,
        vectors,
        {1: 5.0, 2: 5.0, 3: 20.0},
        k=2,
        min_similarity=-1.0,
    )
    # 3 is new; 1 and 2 had fewer than k neighbours, so the new vector enters their lists.
    assert stale == {1, 2, 3}


def test_array_derivations_equal_the_python_ones() -> None:
    """best_related / duplicate_pairs / clusters on arrays give exactly the tuple versions'
    results: ties, pairs stored in both directions, self-loops, chains through hubs."""
    rng = np.random.default_rng(12)
    for trial in range(30):
        n = int(rng.integers(2, 60))
        m = int(rng.integers(0, 200))
        # Coarse similarities so ties are common.
        edges = [
            (int(a), int(b), float(s))
            for a, b, s in zip(
                rng.integers(1, n + 1, m),
                rng.integers(1, n + 1, m),
                np.round(rng.uniform(0.0, 1.0, m), 1),
                strict=True,
            )
        ]
        unique: dict[tuple[int, int], tuple[int, int, float]] = {}
        for e in edges:  # stored rows are unique per (request, related)
            unique.setdefault((e[0], e[1]), e)
        edges = list(unique.values())
        arrays = EdgeArrays.from_tuples(edges)
        for threshold in (0.0, 0.3, 0.7, 1.0):
            assert best_related_array(arrays, threshold) == best_related(edges, threshold), trial
            assert duplicate_pairs_array(arrays, threshold) == duplicate_pairs(edges, threshold)
            assert duplicate_pair_count(arrays, threshold) == len(duplicate_pairs(edges, threshold))
            assert clusters_array(arrays, threshold) == clusters(edges, threshold), trial
    empty = EdgeArrays.from_tuples([])
    assert best_related_array(empty, 0.5) == {} and clusters_array(empty, 0.5) == []
    assert duplicate_pairs_array(empty, 0.5) == []


def test_knn_rows_do_not_depend_on_the_other_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's rows (neighbours, ranks, similarities bit for bit) are the same whether it is
    searched alone, in a small set (numpy products) or with every request (faiss, any block
    size): what lets an incremental update equal a full build."""
    ids = list(range(1, 801))
    vectors = unit_vectors(800, dim=48, seed=8)
    vectors[700] = vectors[5]  # identical vectors: ties in id order either way

    def rows(query_ids, **kw):
        picked = [i - 1 for i in query_ids]
        edges = knn_edges(query_ids, vectors[picked], ids, vectors, k=6, min_similarity=0.1, **kw)
        return {(e.request_id, e.related_id): (e.similarity, e.rank) for e in edges}

    monkeypatch.setattr(request_graph, "SMALL_QUERY_SET", 0)  # faiss for every set
    full = rows(ids)
    assert rows(ids, block_size=64) == full
    monkeypatch.setattr(request_graph, "SMALL_QUERY_SET", 10_000)  # numpy products
    assert rows(ids) == full
    some = [3, 6, 99, 701, 800]
    assert rows(some) == {key: v for key, v in full.items() if key[0] in some}
