"""What is derived from the graph's edges: clusters (connected components above a threshold),
duplicate pairs and each request's best related request, on edge tuples and on `EdgeArrays`
(numpy, the same results). Plain Python over numpy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DuplicatePair:
    a: int  # the smaller id
    b: int
    similarity: float


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def clusters(edges: Iterable[tuple[int, int, float]], threshold: float) -> list[list[int]]:
    """Connected components (size >= 2) of the graph of edges with similarity >= threshold;
    largest first, members sorted, ties by smallest member."""
    uf = _UnionFind()
    for a, b, sim in edges:
        if sim >= threshold and a != b:
            uf.union(int(a), int(b))
    groups: dict[int, list[int]] = defaultdict(list)
    for node in uf.parent:
        groups[uf.find(node)].append(node)
    found = [sorted(members) for members in groups.values() if len(members) >= 2]
    found.sort(key=lambda m: (-len(m), m[0]))
    return found


def duplicate_pairs(
    edges: Iterable[tuple[int, int, float]], threshold: float
) -> list[DuplicatePair]:
    """Unordered pairs with similarity >= threshold, once each, most similar first."""
    best: dict[tuple[int, int], float] = {}
    for a, b, sim in edges:
        if sim < threshold or a == b:
            continue
        key = (min(a, b), max(a, b))
        best[key] = max(sim, best.get(key, sim))
    pairs = [DuplicatePair(a, b, sim) for (a, b), sim in best.items()]
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    return pairs


def best_related(edges: Iterable[tuple[int, int, float]], threshold: float) -> dict[int, int]:
    """Each request's most similar neighbour at or above the threshold (requests without one are
    absent)."""
    best: dict[int, tuple[float, int]] = {}
    for a, b, sim in edges:
        if sim < threshold or a == b:
            continue
        current = best.get(a)
        if current is None or (sim, -b) > (current[0], -current[1]):
            best[a] = (sim, b)
    return {a: b for a, (_sim, b) in best.items()}


@dataclass(frozen=True)
class EdgeArrays:
    """Edges as three aligned arrays (request ids, related ids, similarities): what the
    array versions of `best_related`, `duplicate_pairs` and `clusters` take — the same results,
    without a Python step per edge (an area holds ~44k edges at 100x)."""

    request_ids: np.ndarray  # int64
    related_ids: np.ndarray  # int64
    similarities: np.ndarray  # float64

    @classmethod
    def from_tuples(cls, edges: Iterable[tuple[int, int, float]]) -> EdgeArrays:
        rows = list(edges)
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty.copy(), np.zeros(0, dtype=np.float64))
        a, b, sim = zip(*rows, strict=True)
        return cls(
            np.asarray(a, dtype=np.int64),
            np.asarray(b, dtype=np.int64),
            np.asarray(sim, dtype=np.float64),
        )

    @classmethod
    def concat(cls, parts: Sequence[EdgeArrays]) -> EdgeArrays:
        if not parts:
            return cls.from_tuples([])
        return cls(
            np.concatenate([p.request_ids for p in parts]),
            np.concatenate([p.related_ids for p in parts]),
            np.concatenate([p.similarities for p in parts]),
        )

    def _subset(self, keep: np.ndarray) -> EdgeArrays:
        return EdgeArrays(self.request_ids[keep], self.related_ids[keep], self.similarities[keep])

    def only(self, request_ids: Iterable[int]) -> EdgeArrays:
        """The edges of the given requests."""
        wanted = np.fromiter(request_ids, dtype=np.int64)
        return self._subset(np.isin(self.request_ids, wanted))

    def without(self, request_ids: Iterable[int]) -> EdgeArrays:
        """The edges of every other request."""
        unwanted = np.fromiter(request_ids, dtype=np.int64)
        return self._subset(~np.isin(self.request_ids, unwanted))

    def at_least(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges with similarity >= threshold, self-loops dropped."""
        keep = (self.similarities >= threshold) & (self.request_ids != self.related_ids)
        return self.request_ids[keep], self.related_ids[keep], self.similarities[keep]


def best_related_array(edges: EdgeArrays, threshold: float) -> dict[int, int]:
    """`best_related` on arrays: per request the most similar neighbour, ties to the smaller
    id."""
    a, b, sim = edges.at_least(threshold)
    if len(a) == 0:
        return {}
    order = np.lexsort((b, -sim, a))
    a, b = a[order], b[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = a[1:] != a[:-1]
    return dict(zip(a[first].tolist(), b[first].tolist(), strict=True))


def duplicate_pairs_array(edges: EdgeArrays, threshold: float) -> list[DuplicatePair]:
    """`duplicate_pairs` on arrays: unordered pairs at or above the threshold, once each with
    their highest similarity, most similar first."""
    a, b, sim = edges.at_least(threshold)
    if len(a) == 0:
        return []
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((-sim, hi, lo))
    lo, hi, sim = lo[order], hi[order], sim[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, sim = lo[first], hi[first], sim[first]
    order = np.lexsort((hi, lo, -sim))
    return [
        DuplicatePair(x, y, s)
        for x, y, s in zip(lo[order].tolist(), hi[order].tolist(), sim[order].tolist(), strict=True)
    ]


def duplicate_pair_count(edges: EdgeArrays, threshold: float) -> int:
    """`len(duplicate_pairs(...))` without building the pairs."""
    a, b, _ = edges.at_least(threshold)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # One int64 key per pair (request ids are database integer keys, below 2**31).
    return len(np.unique((lo << 32) | hi)) if len(lo) else 0


def clusters_array(edges: EdgeArrays, threshold: float) -> list[list[int]]:
    """`clusters` on arrays: connected components (size >= 2) of the edges at or above the
    threshold, by minimum-label propagation with pointer jumping; largest first, members sorted,
    ties by smallest member."""
    a, b, _ = edges.at_least(threshold)
    if len(a) == 0:
        return []
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inverse[: len(a)], inverse[len(a) :]
    labels = np.arange(len(nodes))
    while True:
        new = labels.copy()
        np.minimum.at(new, u, labels[v])
        np.minimum.at(new, v, labels[u])
        new = new[new]
        if np.array_equal(new, labels):
            break
        labels = new
    order = np.lexsort((nodes, labels))  # by component, members ascending
    grouped_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, grouped_labels[1:] != grouped_labels[:-1]])
    members = np.split(nodes[order], starts[1:])
    found = [m.tolist() for m in members if len(m) >= 2]
    found.sort(key=lambda m: (-len(m), m[0]))
    return found
