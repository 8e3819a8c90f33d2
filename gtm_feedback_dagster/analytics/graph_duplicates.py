"""Likely duplicate pairs read from the stored related-request graph (for `requests duplicates`
and the merge proposals)."""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.request_graph import DuplicatePair, duplicate_pairs
from gtm_feedback_dagster.store.schema import Request, RequestArea, RequestRelation


def stored_duplicate_pairs(
    session: Session, threshold: float, area_id: int | None = None, limit: int = 100
) -> list[DuplicatePair]:
    """Duplicate candidates from the stored graph (both requests not merged), optionally only
    pairs touching one area: `duplicate_pairs` of those rows, first `limit`.

    The database orders the rows by (-similarity, smaller id, larger id) and returns only the
    first 2 x `limit`: a pair is stored at most twice (once per direction, unique key), and its
    first row carries its highest similarity, so the first `limit` distinct pairs of that order
    are exactly `duplicate_pairs(...)[:limit]` — without ranking every pair of the area in
    Python (~50k at 100x, ~0.3 s per area)."""
    a = Request.__table__.alias("a")
    b = Request.__table__.alias("b")
    request_id, related_id = RequestRelation.request_id, RequestRelation.related_id
    smaller = case((request_id < related_id, request_id), else_=related_id)
    larger = case((request_id < related_id, related_id), else_=request_id)
    query = (
        select(smaller, larger, RequestRelation.similarity)
        .join(a, a.c.id == request_id)
        .join(b, b.c.id == related_id)
        .where(
            RequestRelation.similarity >= threshold,
            request_id != related_id,
            a.c.status != "merged",
            b.c.status != "merged",
        )
    )
    if area_id is not None:
        in_area = select(RequestArea.request_id).where(RequestArea.area_id == area_id)
        query = query.where(request_id.in_(in_area) | related_id.in_(in_area))
    if limit <= 0:  # slice semantics of the unlimited list
        return duplicate_pairs(session.execute(query).tuples(), threshold)[:limit]
    query = query.order_by(RequestRelation.similarity.desc(), smaller, larger).limit(2 * limit)
    pairs: list[DuplicatePair] = []
    seen: set[tuple[int, int]] = set()
    for lo, hi, similarity in session.execute(query).tuples():
        if (lo, hi) in seen:
            continue
        seen.add((lo, hi))
        pairs.append(DuplicatePair(int(lo), int(hi), float(similarity)))
        if len(pairs) == limit:
            break
    return pairs
