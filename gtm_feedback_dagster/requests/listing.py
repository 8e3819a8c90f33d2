"""The request list of the web pages (web/): requests sorted by revenue, entries or age, filtered
by area, status, account segment or a search's hits, one page at a time.

Plain SQLAlchemy over a Session; every figure counts an account once per request (an account
that asked five times weighs its ARR once). Listings sort and paginate in SQL so a page costs the
same at 100x the demo data; `OrderCache` keeps the orderings a few seconds per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.schema import (
    REQUEST_STATUSES,
    Account,
    Feedback,
    ProductArea,
    Request,
    RequestArea,
)

SORTS = ("arr", "entries", "recent")
PER_PAGE = 25
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Listing:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _demand_subquery() -> Any:
    """Per request: entries, distinct accounts, ARR of the distinct accounts."""
    entries = (
        select(Feedback.request_id.label("rid"), func.count(Feedback.id).label("entries"))
        .where(Feedback.request_id.is_not(None))
        .group_by(Feedback.request_id)
        .subquery("entries")
    )
    pairs = (
        select(Feedback.request_id.label("rid"), Feedback.account_id.label("aid"))
        .where(Feedback.request_id.is_not(None), Feedback.account_id.is_not(None))
        .distinct()
        .subquery("pairs")
    )
    money = (
        select(
            pairs.c.rid.label("rid"),
            func.count(pairs.c.aid).label("accounts"),
            func.coalesce(func.sum(Account.arr), 0.0).label("arr"),
        )
        .join(Account, Account.id == pairs.c.aid)
        .group_by(pairs.c.rid)
        .subquery("money")
    )
    return entries, money


class OrderCache:
    """Orderings of the request list (ids with their demand), kept `ttl` seconds per filter, so
    paging and re-sorting a large catalogue does not aggregate every entry on each click. A
    process-local cache: a listing can be up to `ttl` seconds behind (detail pages never are)."""

    def __init__(self, ttl: float = 30.0, size: int = 256) -> None:
        self.ttl = ttl
        self.size = size
        self._rows: dict[Any, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def get(self, key: Any, compute: Any) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            hit = self._rows.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        rows = compute()
        with self._lock:
            if len(self._rows) >= self.size:
                self._rows.clear()
            self._rows[key] = (now, rows)
        return rows


def _ordered_demand(
    session: Session,
    sort: str,
    area: str | None,
    status: str | None,
    segment: str | None,
    only_ids: list[int] | None,
) -> list[dict[str, Any]]:
    """Every matching request id with entries, distinct accounts and their ARR, in page order."""
    entries, money = _demand_subquery()
    n_entries = func.coalesce(entries.c.entries, 0)
    n_accounts = func.coalesce(money.c.accounts, 0)
    arr = func.coalesce(money.c.arr, 0.0)
    query = (
        select(
            Request.id,
            n_entries.label("entries"),
            n_accounts.label("accounts"),
            arr.label("arr"),
        )
        .outerjoin(entries, entries.c.rid == Request.id)
        .outerjoin(money, money.c.rid == Request.id)
    )
    if status:
        query = query.where(Request.status == status)
    else:
        query = query.where(Request.status != "merged")
    if area:
        query = query.where(
            Request.id.in_(
                select(RequestArea.request_id)
                .join(ProductArea, ProductArea.id == RequestArea.area_id)
                .where(ProductArea.slug == area)
            )
        )
    if segment:
        query = query.where(
            Request.id.in_(
                select(Feedback.request_id)
                .join(Account, Account.id == Feedback.account_id)
                .where(Account.segment == segment)
            )
        )
    if only_ids is not None:
        query = query.where(Request.id.in_(only_ids or [-1]))
    if sort == "relevance" and only_ids:
        query = query.order_by(case({rid: i for i, rid in enumerate(only_ids)}, value=Request.id))
    elif sort == "entries":
        query = query.order_by(n_entries.desc(), Request.id.desc())
    elif sort == "recent":
        query = query.order_by(Request.created_at.desc(), Request.id.desc())
    else:
        query = query.order_by(arr.desc(), Request.id.desc())
    return [
        {"id": rid, "entries": int(e), "accounts": int(a), "arr": float(v or 0.0)}
        for rid, e, a, v in session.execute(query)
    ]


def list_request_page(
    session: Session,
    *,
    sort: str = "arr",
    area: str | None = None,
    status: str | None = None,
    segment: str | None = None,
    only_ids: list[int] | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    cache: OrderCache | None = None,
) -> Listing:
    """One page of requests with their demand. `only_ids` (a search's hits) keeps their order
    when `sort` is "relevance". Merged requests are left out unless asked for by status."""
    per_page = max(1, min(int(per_page), MAX_PER_PAGE))
    page = max(1, int(page))
    if status and status not in REQUEST_STATUSES:
        status = None
    if sort not in (*SORTS, "relevance"):
        sort = "arr"
    key = (sort, area, status, segment, tuple(only_ids) if only_ids is not None else None)

    def compute() -> list[dict[str, Any]]:
        return _ordered_demand(session, sort, area, status, segment, only_ids)

    ordered = cache.get(key, compute) if cache is not None else compute()
    window = ordered[(page - 1) * per_page : page * per_page]
    ids = [r["id"] for r in window]
    details = {
        r.id: r
        for r in session.execute(
            select(
                Request.id, Request.slug, Request.title, Request.status, Request.created_at
            ).where(Request.id.in_(ids or [-1]))
        )
    }
    areas = _areas_of(session, ids)
    rows = []
    for r in window:
        d = details.get(r["id"])
        if d is None:  # deleted since the ordering was cached
            continue
        rows.append(
            {
                **r,
                "slug": d.slug,
                "title": d.title,
                "status": d.status,
                "created_at": d.created_at,
                "areas": areas.get(r["id"], []),
            }
        )
    return Listing(rows, len(ordered), page, per_page)


def _areas_of(session: Session, ids: list[int]) -> dict[int, list[dict[str, str]]]:
    out: dict[int, list[dict[str, str]]] = {}
    if not ids:
        return out
    for rid, slug, name in session.execute(
        select(RequestArea.request_id, ProductArea.slug, ProductArea.name)
        .join(ProductArea, ProductArea.id == RequestArea.area_id)
        .where(RequestArea.request_id.in_(ids))
        .order_by(ProductArea.slug)
    ):
        out.setdefault(rid, []).append({"slug": slug, "name": name})
    return out


def filter_choices(session: Session) -> dict[str, list[Any]]:
    """Values for the list filters: areas (slug, name), statuses, account segments."""
    return {
        "areas": [
            {"slug": s, "name": n}
            for s, n in session.execute(
                select(ProductArea.slug, ProductArea.name).order_by(ProductArea.name)
            )
        ],
        "statuses": list(REQUEST_STATUSES),
        "segments": [
            s
            for s in session.scalars(
                select(Account.segment).where(Account.segment.is_not(None)).distinct()
            )
            if s
        ],
    }


__all__ = [
    "MAX_PER_PAGE",
    "PER_PAGE",
    "SORTS",
    "Listing",
    "OrderCache",
    "filter_choices",
    "list_request_page",
]
