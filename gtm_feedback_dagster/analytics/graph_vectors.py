"""The request vectors the related-request graph is built from: read from `request_vectors`, and
kept once per process (keyed by database and a cheap fingerprint of the table), refreshed from
the changed rows only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.analytics.data import id_chunks
from gtm_feedback_dagster.store.schema import Request, RequestVector
from gtm_feedback_dagster.vectors.base import bytes_to_matrix


@dataclass
class VectorSet:
    """The stored vectors of all non-merged requests (one model), as a matrix."""

    ids: list[int]
    matrix: np.ndarray
    updated_at: dict[int, float]
    model_id: str | None
    skipped_other_models: int = 0
    positions: dict[int, int] = field(default_factory=dict)

    def rows(self, ids: Sequence[int]) -> np.ndarray:
        return self.matrix[[self.positions[i] for i in ids]]


def load_vectors(session: Session) -> VectorSet:
    """Vectors of every non-merged request. If vectors of two models coexist (while the
    embedder is being switched), only the most common model's are used: similarities across
    models mean nothing."""
    rows = session.execute(
        select(
            RequestVector.request_id,
            RequestVector.model_id,
            RequestVector.dim,
            RequestVector.vector,
            RequestVector.updated_at,
        )
        .join(Request, Request.id == RequestVector.request_id)
        .where(Request.status != "merged")
        .order_by(RequestVector.request_id)
    ).all()
    if not rows:
        return VectorSet([], np.zeros((0, 0), dtype=np.float32), {}, None)
    model_counts = Counter((r.model_id, r.dim) for r in rows)
    (model_id, dim), _ = model_counts.most_common(1)[0]
    kept = [r for r in rows if (r.model_id, r.dim) == (model_id, dim)]
    ids = [r.request_id for r in kept]
    return VectorSet(
        ids=ids,
        matrix=bytes_to_matrix([r.vector for r in kept], dim),
        updated_at={r.request_id: r.updated_at.timestamp() for r in kept},
        model_id=model_id,
        skipped_other_models=len(rows) - len(kept),
        positions={rid: i for i, rid in enumerate(ids)},
    )


@dataclass(frozen=True)
class VectorFingerprint:
    """A cheap summary of the vectors `load_vectors` would return: the chosen (model, dim), how
    many, the sum of their ids and their newest `updated_at`. A merge, a new or a re-stored
    vector changes it."""

    model_id: str
    dim: int
    count: int
    id_sum: int
    newest: datetime | None
    skipped_other_models: int


def vector_fingerprint(session: Session) -> VectorFingerprint | None:
    """One aggregate query; None when no request has a vector."""
    groups = session.execute(
        select(
            RequestVector.model_id,
            RequestVector.dim,
            func.count(),
            func.sum(RequestVector.request_id),
            func.max(RequestVector.updated_at),
            func.min(RequestVector.request_id),
        )
        .join(Request, Request.id == RequestVector.request_id)
        .where(Request.status != "merged")
        .group_by(RequestVector.model_id, RequestVector.dim)
    ).all()
    if not groups:
        return None
    # load_vectors' choice: the most common (model, dim), ties to the one seen first in id order.
    model_id, dim, count, id_sum, newest, _ = min(groups, key=lambda g: (-g[2], g[5]))
    total = sum(int(g[2]) for g in groups)
    return VectorFingerprint(
        model_id, int(dim), int(count), int(id_sum), newest, total - int(count)
    )


@dataclass
class _CachedVectors:
    url: str
    fingerprint: VectorFingerprint
    vectors: VectorSet


# One database's vectors per process: every area's graph (a partition per run, or all areas in
# one process) reads the same 29k-row matrix, which costs ~0.6 s to load.
_vector_cache: _CachedVectors | None = None


def cached_vectors(session: Session) -> VectorSet:
    """`load_vectors`, reusing this process's last result while the fingerprint is unchanged;
    when it changed and the model did not, only the vectors that are new or re-stored since are
    read. Callers must not modify the returned set."""
    global _vector_cache
    fingerprint = vector_fingerprint(session)
    if fingerprint is None:
        return load_vectors(session)
    url = session.get_bind().url.render_as_string(hide_password=False)
    cached = _vector_cache
    if cached is not None and cached.url == url and cached.fingerprint == fingerprint:
        return cached.vectors
    vectors: VectorSet | None = None
    if (
        cached is not None
        and cached.url == url
        and (cached.fingerprint.model_id, cached.fingerprint.dim)
        == (fingerprint.model_id, fingerprint.dim)
        and cached.fingerprint.newest is not None
    ):
        vectors = _refreshed_vectors(session, cached.vectors, cached.fingerprint, fingerprint)
    if vectors is None:
        vectors = load_vectors(session)
    _vector_cache = _CachedVectors(url, fingerprint, vectors)
    return vectors


def clear_vector_cache() -> None:
    global _vector_cache
    _vector_cache = None


def _refreshed_vectors(
    session: Session, old: VectorSet, was: VectorFingerprint, now: VectorFingerprint
) -> VectorSet | None:
    """`old` brought up to date: the current ids (a cheap id-only query), the rows stored after
    the old newest `updated_at` or missing from `old`. None when the result does not match
    `now` (then everything is read again)."""
    in_corpus = and_(
        Request.status != "merged",
        RequestVector.model_id == now.model_id,
        RequestVector.dim == now.dim,
    )
    ids = list(
        session.scalars(
            select(RequestVector.request_id)
            .join(Request, Request.id == RequestVector.request_id)
            .where(in_corpus)
            .order_by(RequestVector.request_id)
        )
    )
    if len(ids) != now.count or sum(ids) != now.id_sum:
        return None
    columns = (RequestVector.request_id, RequestVector.vector, RequestVector.updated_at)
    fresh = {
        r.request_id: r
        for r in session.execute(
            select(*columns)
            .join(Request, Request.id == RequestVector.request_id)
            .where(in_corpus, RequestVector.updated_at > was.newest)
        )
    }
    missing = [rid for rid in ids if rid not in old.positions and rid not in fresh]
    for chunk in id_chunks(missing):
        fresh.update(
            (r.request_id, r)
            for r in session.execute(
                select(*columns)
                .join(Request, Request.id == RequestVector.request_id)
                .where(in_corpus, RequestVector.request_id.in_(chunk))
            )
        )
    if ids == old.ids:
        # The usual case (vectors re-stored, none added or merged away): copy and overwrite,
        # without a Python step per vector.
        matrix = old.matrix.copy()
        updated_at = dict(old.updated_at)
        position = old.positions
    else:
        kept = [i for i, rid in enumerate(ids) if rid not in fresh]
        matrix = np.empty((len(ids), now.dim), dtype=np.float32)
        if kept:
            matrix[kept] = old.matrix[[old.positions[ids[i]] for i in kept]]
        updated_at = {rid: old.updated_at[rid] for rid in ids if rid not in fresh}
        position = {rid: i for i, rid in enumerate(ids)}
    if fresh:
        fresh_ids = sorted(fresh)
        matrix[[position[rid] for rid in fresh_ids]] = bytes_to_matrix(
            [fresh[rid].vector for rid in fresh_ids], now.dim
        )
        updated_at.update((rid, fresh[rid].updated_at.timestamp()) for rid in fresh_ids)
    return VectorSet(
        ids=ids,
        matrix=matrix,
        updated_at=updated_at,
        model_id=now.model_id,
        skipped_other_models=now.skipped_other_models,
        positions=position,
    )
