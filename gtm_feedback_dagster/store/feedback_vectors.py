"""Stored vectors of confirmed feedback: the phrasing customers already used for a request.

An entry is *confirmed* on a request when a person put it there (`match_type` approved: the
submitter said yes; manual: triage, a re-assignment, or an import that named the request). Auto
attachments are not: a wrong one would pull more of the same after it. A merge moves the
entries, so their vectors follow the surviving request without a write here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.store.schema import Feedback, FeedbackVector
from gtm_feedback_dagster.store.vectors import upsert_vector_rows
from gtm_feedback_dagster.vectors.base import bytes_to_matrix

CONFIRMED_MATCH_TYPES = ("approved", "manual")


def text_hash(pain: str) -> str:
    return hashlib.sha256(query_text(pain).encode("utf-8")).hexdigest()


def confirmed_without_vector(
    session: Session,
    model_id: str,
    limit: int | None,
    request_ids: Sequence[int] | None = None,
    per_request: int | None = None,
) -> list[tuple[int, str, str]]:
    """(feedback id, pain, hash) of confirmed entries with no current vector of `model_id`,
    newest first (they are the likeliest to be matched again); with `request_ids` only those
    requests' entries, and with `per_request` only each request's newest that many (the ones
    routing uses)."""
    query = (
        select(
            Feedback.id,
            Feedback.request_id,
            Feedback.customer_pain,
            FeedbackVector.model_id,
            FeedbackVector.content_hash,
        )
        .outerjoin(FeedbackVector, FeedbackVector.feedback_id == Feedback.id)
        .where(Feedback.match_type.in_(CONFIRMED_MATCH_TYPES), Feedback.request_id.is_not(None))
        .order_by(Feedback.id.desc())
    )
    chunks: list[Sequence[int] | None] = [None]
    if request_ids is not None:
        ids = sorted({int(i) for i in request_ids})
        chunks = [ids[i : i + 1000] for i in range(0, len(ids), 1000)]
    seen: dict[int, int] = {}
    missing: list[tuple[int, str, str]] = []
    for chunk in chunks:
        rows = session.execute(
            query if chunk is None else query.where(Feedback.request_id.in_(chunk))
        )
        for fid, rid, pain, stored_model, stored_hash in rows:
            if not (pain or "").strip():
                continue
            seen[rid] = seen.get(rid, 0) + 1
            if per_request is not None and seen[rid] > per_request:
                continue
            chash = text_hash(pain)
            if stored_model != model_id or stored_hash != chash:
                missing.append((int(fid), pain, chash))
                if limit is not None and len(missing) >= limit:
                    return missing
    return missing


def upsert_feedback_vectors(
    session: Session, model_id: str, items: Sequence[tuple[int, str]], vectors: np.ndarray
) -> None:
    """Store (feedback id, content hash) -> vector, replacing an older one."""
    upsert_vector_rows(session, FeedbackVector, "feedback_id", model_id, items, vectors)


def load_exemplars(
    session: Session, model_id: str, request_ids: Sequence[int], per_request: int
) -> tuple[np.ndarray, np.ndarray]:
    """(owner request id per row, float32 matrix) of up to `per_request` newest confirmed
    entries of each of `request_ids`, rows grouped by owner in ascending id order. Vectors of
    another model or of an edited text are left out."""
    ids = sorted({int(i) for i in request_ids})
    owners: list[int] = []
    blobs: list[bytes] = []
    dim = 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rank = (
            func.row_number()
            .over(partition_by=Feedback.request_id, order_by=Feedback.id.desc())
            .label("rank")
        )
        inner = (
            select(
                Feedback.request_id.label("owner"),
                Feedback.customer_pain.label("pain"),
                FeedbackVector.content_hash.label("chash"),
                FeedbackVector.vector.label("vector"),
                FeedbackVector.dim.label("dim"),
                rank,
            )
            .join(FeedbackVector, FeedbackVector.feedback_id == Feedback.id)
            .where(
                Feedback.request_id.in_(chunk),
                Feedback.match_type.in_(CONFIRMED_MATCH_TYPES),
                FeedbackVector.model_id == model_id,
            )
            .subquery()
        )
        rows = session.execute(
            select(inner.c.owner, inner.c.pain, inner.c.chash, inner.c.vector, inner.c.dim)
            .where(inner.c.rank <= per_request)
            .order_by(inner.c.owner, inner.c.rank)
        ).all()
        for owner, pain, chash, vector, row_dim in rows:
            if chash != text_hash(pain):
                continue  # edited since it was embedded: the next sync re-embeds it
            if dim and row_dim != dim:
                raise ValueError(f"feedback vectors of model {model_id} differ in dimension")
            dim = int(row_dim)
            owners.append(int(owner))
            blobs.append(vector)
    if not blobs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.asarray(owners, dtype=np.int64), bytes_to_matrix(blobs, dim)
