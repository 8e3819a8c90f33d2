"""FaissIndex against a numpy brute force, plus the byte helpers and the factory."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.vectors.base import (
    VectorIndex,
    VectorIndexError,
    build_vector_index,
    bytes_to_matrix,
    bytes_to_vector,
    vectors_to_bytes,
)
from gtm_feedback_dagster.vectors.faiss_index import FaissIndex

DIM = 384


def unit_rows(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    mat = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return mat / np.linalg.norm(mat, axis=1, keepdims=True)


def test_exact_neighbours_equal_numpy_brute_force() -> None:
    vectors = unit_rows(2000, seed=1)
    ids = np.arange(2000) * 7 + 3  # ids unrelated to row positions
    queries = unit_rows(50, seed=2)
    index = FaissIndex.from_vectors(ids.tolist(), vectors)
    assert isinstance(index, VectorIndex)

    hits = index.search(queries, top_k=10)

    sims = queries @ vectors.T
    order = np.argsort(-sims, axis=1)[:, :10]
    for q, row in enumerate(hits):
        assert [h.id for h in row] == ids[order[q]].tolist()
        np.testing.assert_allclose([h.score for h in row], sims[q, order[q]], atol=1e-5)


def test_upsert_replaces_existing_ids() -> None:
    v = unit_rows(3, seed=3)
    index = FaissIndex()
    index.upsert([1, 2], v[:2])
    index.upsert([2], v[2:3])  # id 2 now points at v[2]
    assert index.count() == 2
    (best,) = index.search(v[2:3], top_k=1)[0]
    assert best.id == 2 and best.score == pytest.approx(1.0, abs=1e-5)
    (old,) = index.search(v[1:2], top_k=1)[0]
    assert not (old.id == 2 and old.score > 0.99)


def test_repeated_id_in_one_upsert_keeps_the_last() -> None:
    v = unit_rows(2, seed=4)
    index = FaissIndex()
    index.upsert([5, 5], v)
    assert index.count() == 1
    assert index.search(v[1:2], top_k=1)[0][0].score == pytest.approx(1.0, abs=1e-5)


def test_delete_removes() -> None:
    v = unit_rows(5, seed=5)
    index = FaissIndex.from_vectors([10, 11, 12, 13, 14], v)
    index.delete([11, 13, 999])  # unknown ids are ignored
    assert index.count() == 3
    assert sorted(index.ids().tolist()) == [10, 12, 14]
    found = {h.id for row in index.search(v, top_k=5) for h in row}
    assert found == {10, 12, 14}
    assert 10 in index and 11 not in index


def test_batch_search_shape_and_top_k_above_count() -> None:
    index = FaissIndex.from_vectors([1, 2, 3], unit_rows(3, seed=6))
    hits = index.search(unit_rows(7, seed=7), top_k=50)
    assert len(hits) == 7
    assert all(len(row) == 3 for row in hits)
    assert all(row[0].score >= row[1].score >= row[2].score for row in hits)
    # A single 1-D query is treated as one row.
    assert len(index.search(unit_rows(1, seed=8)[0], top_k=2)) == 1


def test_empty_index_and_empty_calls() -> None:
    index = FaissIndex()
    assert index.count() == 0
    assert index.search(unit_rows(2, seed=9), top_k=5) == [[], []]
    index.upsert([], np.zeros((0, DIM), dtype=np.float32))
    index.delete([])
    assert index.search(unit_rows(1, seed=9), top_k=0) == [[]]


def test_rejects_bad_shapes_and_values() -> None:
    index = FaissIndex()
    with pytest.raises(VectorIndexError, match="shape"):
        index.upsert([1], np.zeros((1, 12), dtype=np.float32))
    with pytest.raises(VectorIndexError, match="2 ids but 1 vectors"):
        index.upsert([1, 2], unit_rows(1, seed=10))
    bad = unit_rows(1, seed=11)
    bad[0, 0] = np.nan
    with pytest.raises(VectorIndexError, match="NaN"):
        index.upsert([1], bad)
    with pytest.raises(VectorIndexError, match="shape"):
        index.search(np.zeros((1, 5), dtype=np.float32), top_k=1)


def test_vector_bytes_round_trip_little_endian() -> None:
    v = unit_rows(1, seed=12)[0]
    blob = vectors_to_bytes(v)
    assert len(blob) == DIM * 4
    assert blob[:4] == struct.pack("<f", float(v[0]))
    back = bytes_to_vector(blob, DIM)
    np.testing.assert_array_equal(back, v)
    back[0] = 0.0  # writable copy, not a view on the bytes
    big_endian = v.astype(">f4")
    assert vectors_to_bytes(big_endian) == blob  # byte order is normalised on write
    with pytest.raises(VectorIndexError, match="1536 bytes, expected 3072"):
        bytes_to_vector(blob, 768)  # a vector stored by a model of another dimension


def test_bytes_to_matrix() -> None:
    m = unit_rows(4, seed=13)
    blobs = [vectors_to_bytes(row) for row in m]
    np.testing.assert_array_equal(bytes_to_matrix(blobs, DIM), m)
    assert bytes_to_matrix([], DIM).shape == (0, DIM)
    with pytest.raises(VectorIndexError):
        bytes_to_matrix([*blobs, b"\x00" * 8], DIM)


def test_build_vector_index_local(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url="sqlite://")
    index = build_vector_index(settings)
    assert isinstance(index, FaissIndex) and index.count() == 0 and index.dim == DIM
