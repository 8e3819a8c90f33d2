"""`patch_neighbours` settles a stale list from its stored rows and the changed vectors only when
that gives exactly `knn_edges`' rows (neighbours, order, ranks, similarities bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from gtm_feedback_dagster.core.graph_patch import patch_neighbours
from gtm_feedback_dagster.core.request_graph import knn_edges, top_positions


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _rows(edges) -> dict[int, list[tuple[int, float, int]]]:  # type: ignore[no-untyped-def]
    out: dict[int, list[tuple[int, float, int]]] = {}
    for e in edges:
        out.setdefault(e.request_id, []).append((e.related_id, e.similarity, e.rank))
    return out


@pytest.mark.parametrize("floor", [-1.0, 0.3])
def test_patched_lists_equal_a_search(floor: float) -> None:
    rng = np.random.default_rng(17)
    n, dim, k = 400, 24, 6
    ids = list(range(10, 10 + n))
    # Clustered, with exact duplicates: near ties and equal scores in id order.
    centres = _unit(rng, 20, dim)
    vectors = centres[rng.integers(0, 20, n)] + 0.35 * _unit(rng, n, dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[50] = vectors[60]
    before = _rows(knn_edges(ids, vectors, ids, vectors, k=k, min_similarity=floor))

    # 12 vectors move (some next to others, one onto a duplicate), 3 leave the corpus.
    moved = rng.choice(n, size=12, replace=False)
    after = vectors.copy()
    for i in moved:
        target = after[rng.integers(0, n)]
        after[i] = target + 0.2 * _unit(rng, 1, dim)[0]
        after[i] /= np.linalg.norm(after[i])
    after[moved[0]] = after[200]
    removed = {ids[i] for i in rng.choice(np.setdiff1d(np.arange(n), moved), 3, replace=False)}
    corpus_rows = [i for i in range(n) if ids[i] not in removed]
    corpus_ids = [ids[i] for i in corpus_rows]
    updated_at = {ids[i]: (200.0 if i in set(moved.tolist()) else 50.0) for i in corpus_rows}
    expected = _rows(
        knn_edges(
            corpus_ids,
            after[corpus_rows],
            corpus_ids,
            after[corpus_rows],
            k=k,
            min_similarity=floor,
        )
    )

    # Every query whose own vector did not move, whether or not its list changed.
    queries = [ids[i] for i in corpus_rows if i not in set(moved.tolist())]
    stored = {q: [(r, s) for r, s, _ in before.get(q, [])] for q in queries}
    patched, unresolved = patch_neighbours(
        queries,
        after[[q - 10 for q in queries]],
        stored,
        dict.fromkeys(queries, 100.0),
        corpus_ids,
        after[corpus_rows],
        updated_at,
        k=k,
        min_similarity=floor,
    )
    got = _rows(patched)
    assert set(got).isdisjoint(unresolved)
    for q in queries:
        if q not in unresolved:
            assert got.get(q, []) == expected.get(q, []), q
    changed_lists = [q for q in queries if expected.get(q, []) != before.get(q, [])]
    settled = [q for q in changed_lists if q not in unresolved]
    assert settled, "some changed lists are settled without a search"
    assert unresolved, "some need a search (a neighbour moved away)"
    # Lists nothing touched come back unchanged (and are never left to a search).
    untouched = [q for q in queries if q not in changed_lists]
    assert all(got.get(q, []) == before.get(q, []) for q in untouched if q not in unresolved)


@pytest.mark.parametrize("width", [13, 64, 200, 1000, 4100])
def test_top_positions_picks_the_highest_scores(width: int) -> None:
    rng = np.random.default_rng(width)
    scores = np.round(rng.standard_normal((40, width)), 1).astype(np.float32)  # many ties
    scores[0, :] = 0.5
    scores[1, : min(width, 30)] = 9.0
    got = top_positions(scores, 13)
    expected = np.argpartition(-scores, 12, axis=1)[:, :13]
    for row in range(40):
        assert len(set(got[row].tolist())) == 13
        assert np.array_equal(
            np.sort(scores[row, got[row]]), np.sort(scores[row, expected[row]])
        ), row
