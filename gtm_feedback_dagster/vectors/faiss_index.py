"""Exact in-process vector index on faiss (the embedded default).

An exact inner-product index is fast enough at this product's scale (10k vectors k-NN in well
under a second, see DESIGN.md) and gives the same neighbours as a brute force, so results never
depend on approximate-index tuning. The source of truth for vectors is the request_vectors table;
this index is rebuilt from it in each process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import faiss
import numpy as np

from gtm_feedback_dagster.vectors.base import VectorHit, VectorIndexError, check_matrix


def _ids_array(ids: Sequence[int]) -> np.ndarray:
    try:
        arr = np.asarray(list(ids), dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise VectorIndexError(f"vector ids must be integers: {exc}") from exc
    if arr.ndim != 1:
        raise VectorIndexError("vector ids must be a flat sequence of integers")
    return arr


class FaissIndex:
    """Exact inner-product index: faiss IndexFlatIP inside IndexIDMap2 (int64 ids).

    `upsert` replaces existing ids. Methods hold a lock because faiss indexes are not safe for a
    write concurrent with anything else; the route job may search while a new request's vector is
    upserted from the same process.
    """

    def __init__(self, dim: int = 384) -> None:
        if dim <= 0:
            raise VectorIndexError(f"dimension must be positive, got {dim}")
        self.dim = dim
        # IndexIDMap2 (not IndexIDMap) keeps an id -> row map, so remove_ids/reconstruct work.
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._lock = threading.RLock()

    @classmethod
    def from_vectors(cls, ids: Sequence[int], vectors: np.ndarray) -> FaissIndex:
        arr = np.asarray(vectors)
        dim = arr.shape[1] if arr.ndim == 2 else 384
        index = cls(dim=dim)
        index.upsert(ids, arr)
        return index

    def upsert(
        self, ids: Sequence[int], vectors: np.ndarray, metadata: Sequence[dict] | None = None
    ) -> None:
        # metadata is accepted for protocol compatibility; the local index has no use for it
        # (titles/areas live in the app database).
        id_arr = _ids_array(ids)
        if len(id_arr) == 0:
            return
        mat = check_matrix(vectors, self.dim)
        if mat.shape[0] != len(id_arr):
            raise VectorIndexError(f"got {len(id_arr)} ids but {mat.shape[0]} vectors")
        if metadata is not None and len(metadata) != len(id_arr):
            raise VectorIndexError(f"got {len(id_arr)} ids but {len(metadata)} metadata entries")
        # A repeated id within one call: keep the last occurrence, as sequential upserts would.
        _, last_rev = np.unique(id_arr[::-1], return_index=True)
        if len(last_rev) != len(id_arr):
            keep = np.sort(len(id_arr) - 1 - last_rev)
            id_arr, mat = id_arr[keep], mat[keep]
        with self._lock:
            self._index.remove_ids(id_arr)
            self._index.add_with_ids(mat, id_arr)

    def delete(self, ids: Sequence[int]) -> None:
        id_arr = _ids_array(ids)
        if len(id_arr) == 0:
            return
        with self._lock:
            self._index.remove_ids(id_arr)

    def search(self, queries: np.ndarray, top_k: int) -> list[list[VectorHit]]:
        q = check_matrix(queries, self.dim, what="queries")
        if top_k <= 0 or q.shape[0] == 0:
            return [[] for _ in range(q.shape[0])]
        with self._lock:
            total = self._index.ntotal
            if total == 0:
                return [[] for _ in range(q.shape[0])]
            k = min(top_k, total)
            # One faiss call for the whole batch: faiss parallelises across query rows.
            scores, ids = self._index.search(q, k)
        results: list[list[VectorHit]] = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            # faiss pads with -1 when fewer than k results exist; never the case for a flat
            # index with k <= ntotal, but cheap to guard.
            results.append(
                [
                    VectorHit(id=int(i), score=float(s))
                    for s, i in zip(row_scores, row_ids, strict=True)
                    if i != -1
                ]
            )
        return results

    def count(self) -> int:
        with self._lock:
            return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids in the index (int64), in insertion order."""
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, request_id: object) -> bool:
        if not isinstance(request_id, int | np.integer):
            return False
        return bool(np.any(self.ids() == int(request_id)))
