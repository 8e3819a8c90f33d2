"""Likely duplicate pairs read from the stored related-request graph (for `requests duplicates`
and the merge proposals)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.request_graph import DuplicatePair, duplicate_pairs
from gtm_feedback_dagster.store.schema import Request, RequestArea, RequestRelation


def stored_duplicate_pairs(
    session: Session, threshold: float, area_id: int | None = None, limit: int = 100
) -> list[DuplicatePair]:
    """Duplicate candidates from the stored graph (both requests not merged), optionally only
    pairs touching one area."""
    a = Request.__table__.alias("a")
    b = Request.__table__.alias("b")
    query = (
        select(RequestRelation.request_id, RequestRelation.related_id, RequestRelation.similarity)
        .join(a, a.c.id == RequestRelation.request_id)
        .join(b, b.c.id == RequestRelation.related_id)
        .where(
            RequestRelation.similarity >= threshold,
            a.c.status != "merged",
            b.c.status != "merged",
        )
    )
    if area_id is not None:
        in_area = select(RequestArea.request_id).where(RequestArea.area_id == area_id)
        query = query.where(
            RequestRelation.request_id.in_(in_area) | RequestRelation.related_id.in_(in_area)
        )
    return duplicate_pairs(session.execute(query).tuples(), threshold)[:limit]
