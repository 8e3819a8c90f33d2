"""The `request_vectors` table: the source of truth for request embeddings.

Whatever index serves searches (faiss in-process, Upstash Vector remotely), the vectors live here
with the model that made them and a hash of the text they embed. A vector is *current* when both
match: a changed title/description or a new model makes it stale, and it is re-embedded.

Plain Python over a caller's `Session`; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.text import request_text
from gtm_feedback_dagster.store.schema import (
    ProductArea,
    Request,
    RequestArea,
    RequestVector,
    utcnow,
)
from gtm_feedback_dagster.vectors.base import bytes_to_matrix, vectors_to_bytes

# Requests that routing and search may point feedback at. Merged requests live on in the request
# they were merged into; everything else (shipped and deprioritized too) stays findable, so a
# customer asking for something that shipped is attached to it rather than duplicating it.
SEARCHABLE_STATUSES = ("open", "shipped", "deprioritized")


def content_hash(title: str, description: str) -> str:
    """Hash of exactly the text that is embedded for a request."""
    return hashlib.sha256(request_text(title, description).encode("utf-8")).hexdigest()


def searchable_clause():  # type: ignore[no-untyped-def]
    return (Request.status.in_(SEARCHABLE_STATUSES)) & (Request.merged_into_id.is_(None))


@dataclass(frozen=True)
class RequestForEmbedding:
    id: int
    title: str
    description: str
    status: str
    slug: str
    area_slugs: tuple[str, ...]

    @property
    def text(self) -> str:
        return request_text(self.title, self.description)

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.description)

    def index_metadata(self) -> dict[str, object]:
        """What a remote index keeps next to the vector, for people browsing its console."""
        return {
            "title": self.title,
            "slug": self.slug,
            "status": self.status,
            "areas": list(self.area_slugs),
        }


@dataclass
class SyncPlan:
    """What it takes to bring the vectors of a set of requests up to date."""

    to_embed: list[RequestForEmbedding] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    to_remove: list[int] = field(default_factory=list)  # table rows of non-searchable requests
    not_searchable: list[int] = field(default_factory=list)  # merged etc., with a row or not


def _area_slugs_by_request(session: Session, request_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(request_ids), 1000):
        chunk = list(request_ids[start : start + 1000])
        rows = session.execute(
            select(RequestArea.request_id, ProductArea.slug)
            .join(ProductArea, ProductArea.id == RequestArea.area_id)
            .where(RequestArea.request_id.in_(chunk))
            .order_by(ProductArea.slug)
        )
        for request_id, slug in rows:
            out.setdefault(request_id, []).append(slug)
    return out


def plan_sync(
    session: Session,
    model_id: str,
    area_slug: str | None = None,
    full: bool = False,
) -> SyncPlan:
    """Which requests (of one area, or all) need a new vector and which vectors must go.

    `full` re-embeds every searchable request (the weekly re-sync), current or not.
    """
    query = select(
        Request.id,
        Request.title,
        Request.description,
        Request.status,
        Request.slug,
        Request.merged_into_id,
        RequestVector.model_id,
        RequestVector.content_hash,
    ).outerjoin(RequestVector, RequestVector.request_id == Request.id)
    if area_slug is not None:
        query = query.where(
            Request.id.in_(
                select(RequestArea.request_id)
                .join(ProductArea, ProductArea.id == RequestArea.area_id)
                .where(ProductArea.slug == area_slug)
            )
        )
    rows = session.execute(query.order_by(Request.id)).all()
    plan = SyncPlan()
    wanted: list[tuple[int, str, str, str, str]] = []
    for rid, title, description, status, slug, merged_into, vmodel, vhash in rows:
        searchable = status in SEARCHABLE_STATUSES and merged_into is None
        if not searchable:
            plan.not_searchable.append(rid)
            if vmodel is not None:
                plan.to_remove.append(rid)
            continue
        if not full and vmodel == model_id and vhash == content_hash(title, description or ""):
            plan.unchanged.append(rid)
        else:
            wanted.append((rid, title, description or "", status, slug))
    areas = _area_slugs_by_request(session, [w[0] for w in wanted])
    plan.to_embed = [
        RequestForEmbedding(rid, title, desc, status, slug, tuple(areas.get(rid, [])))
        for rid, title, desc, status, slug in wanted
    ]
    return plan


def upsert_vector_rows(
    session: Session,
    table: Any,
    key: str,
    model_id: str,
    items: Sequence[tuple[int, str]],
    vectors: np.ndarray,
) -> None:
    """Store (`key` id, content_hash) -> vector rows of `table` (`request_vectors` or
    `feedback_vectors`: the same columns), replacing older ones."""
    mat = np.asarray(vectors, dtype=np.float32)
    if mat.ndim != 2 or mat.shape[0] != len(items):
        raise ValueError(f"got {len(items)} rows but vectors of shape {mat.shape}")
    if not items:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    rows = [
        {
            key: int(row_id),
            "model_id": model_id,
            "content_hash": chash,
            "dim": int(mat.shape[1]),
            "vector": vectors_to_bytes(mat[i]),
            "updated_at": now,
        }
        for i, (row_id, chash) in enumerate(items)
    ]
    for start in range(0, len(rows), 500):
        stmt = insert(table).values(rows[start : start + 500])
        stmt = stmt.on_conflict_do_update(
            index_elements=[getattr(table, key)],
            set_={
                column: getattr(stmt.excluded, column)
                for column in ("model_id", "content_hash", "dim", "vector", "updated_at")
            },
        )
        session.execute(stmt)


def upsert_vectors(
    session: Session,
    model_id: str,
    items: Sequence[tuple[int, str]],
    vectors: np.ndarray,
) -> None:
    """Store (request_id, content_hash) -> vector rows, replacing older ones."""
    upsert_vector_rows(session, RequestVector, "request_id", model_id, items, vectors)


def delete_vectors(session: Session, request_ids: Iterable[int]) -> int:
    ids = [int(i) for i in request_ids]
    removed = 0
    for start in range(0, len(ids), 1000):
        result = session.execute(
            delete(RequestVector).where(RequestVector.request_id.in_(ids[start : start + 1000]))
        )
        removed += result.rowcount or 0
    return removed


def load_matrix(
    session: Session, model_id: str, searchable_only: bool = True
) -> tuple[list[int], np.ndarray, int]:
    """(ids, float32 matrix, dim) of the stored vectors made by `model_id` — what an in-process
    index is filled with. Vectors of another model are left out: they live in another space."""
    query = select(RequestVector.request_id, RequestVector.vector, RequestVector.dim).where(
        RequestVector.model_id == model_id
    )
    if searchable_only:
        query = query.join(Request, Request.id == RequestVector.request_id).where(
            searchable_clause()
        )
    rows = session.execute(query.order_by(RequestVector.request_id)).all()
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32), 0
    dims = {r[2] for r in rows}
    if len(dims) != 1:
        raise ValueError(f"stored vectors of model {model_id} have several dimensions: {dims}")
    dim = dims.pop()
    return [r[0] for r in rows], bytes_to_matrix([r[1] for r in rows], dim), dim


def vectors_fingerprint(session: Session, model_id: str) -> tuple[int, datetime | None]:
    """Cheap change detector for a cached in-process index: (row count, newest update)."""
    count, newest = session.execute(
        select(func.count(), func.max(RequestVector.updated_at)).where(
            RequestVector.model_id == model_id
        )
    ).one()
    return int(count), newest


def stale_open_requests(session: Session, model_id: str, area_slug: str | None = None) -> list[int]:
    """Open requests (of an area) whose vector is missing, from another model or out of date."""
    query = (
        select(
            Request.id,
            Request.title,
            Request.description,
            RequestVector.model_id,
            RequestVector.content_hash,
        )
        .outerjoin(RequestVector, RequestVector.request_id == Request.id)
        .where(Request.status == "open", Request.merged_into_id.is_(None))
    )
    if area_slug is not None:
        query = query.where(
            Request.id.in_(
                select(RequestArea.request_id)
                .join(ProductArea, ProductArea.id == RequestArea.area_id)
                .where(ProductArea.slug == area_slug)
            )
        )
    stale = []
    for rid, title, description, vmodel, vhash in session.execute(query.order_by(Request.id)):
        if vmodel != model_id or vhash != content_hash(title, description or ""):
            stale.append(rid)
    return stale


def deleted_request_ids(session: Session) -> list[int]:
    """Ids below the highest request id that no longer exist (deleted requests).

    Their table rows went with the request (ON DELETE CASCADE), but a remote index may still hold
    their vectors; ids are dense integers, so the gaps are exactly what to delete there."""
    existing = list(session.scalars(select(Request.id).order_by(Request.id)))
    if not existing:
        return []
    present = set(existing)
    return [i for i in range(1, existing[-1] + 1) if i not in present]
