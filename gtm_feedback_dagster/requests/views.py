"""Read queries of the request pages (web/): listings sorted by revenue, a request's revenue at
stake, entries, followers, relations and history, an area's latest report, the triage queue.

Plain SQLAlchemy over a Session; every figure counts an account once per request (an account
that asked five times weighs its ARR once). Listings sort and paginate in SQL so a page costs the
same at 100x the demo data. The one write here, `keep_both`, records a product owner's "these
are not duplicates" in both requests' `meta["distinct_from"]` (no table needed).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, aliased

from gtm_feedback_dagster.core.request_graph import DEFAULT_DUPLICATE_THRESHOLD
from gtm_feedback_dagster.store.schema import (
    REQUEST_STATUSES,
    Account,
    Approval,
    Feedback,
    Follower,
    InsightReport,
    Opportunity,
    ProductArea,
    Request,
    RequestArea,
    RequestRelation,
    User,
    utcnow,
)

SORTS = ("arr", "entries", "recent")
PER_PAGE = 25
MAX_PER_PAGE = 100
TRIAGE_ASK_AGE = timedelta(days=1)
MAX_MERGE_HOPS = 20


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


# ---------------------------------------------------------------------------- one request


@dataclass(frozen=True)
class Moved:
    """The slug asked for belongs to a merged request: its survivor's slug."""

    slug: str


def current_request(session: Session, slug: str) -> Request | Moved | None:
    request = session.scalars(select(Request).where(Request.slug == slug)).first()
    if request is None:
        return None
    hops = 0
    survivor = request
    while survivor.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        nxt = session.get(Request, survivor.merged_into_id)
        if nxt is None:
            break
        survivor, hops = nxt, hops + 1
    return Moved(survivor.slug) if survivor.id != request.id else request


def revenue_at_stake(session: Session, request_id: int) -> dict[str, Any]:
    """Distinct accounts, their ARR, the enterprise share of that ARR (and of the accounts),
    and the value of the open opportunities named by the entries (each counted once)."""
    accounts = session.execute(
        select(Account.id, Account.arr, Account.is_enterprise).where(
            Account.id.in_(
                select(Feedback.account_id).where(
                    Feedback.request_id == request_id, Feedback.account_id.is_not(None)
                )
            )
        )
    ).all()
    arr = sum(float(a.arr or 0.0) for a in accounts)
    enterprise_arr = sum(float(a.arr or 0.0) for a in accounts if a.is_enterprise)
    enterprise_accounts = sum(1 for a in accounts if a.is_enterprise)
    open_value = session.scalar(
        select(func.coalesce(func.sum(Opportunity.arr), 0.0)).where(
            Opportunity.id.in_(
                select(Feedback.opportunity_id).where(
                    Feedback.request_id == request_id, Feedback.opportunity_id.is_not(None)
                )
            ),
            or_(Opportunity.stage.is_(None), ~Opportunity.stage.like("Closed%")),
        )
    )
    return {
        "accounts": len(accounts),
        "arr": arr,
        "enterprise_accounts": enterprise_accounts,
        "enterprise_share": (enterprise_arr / arr) if arr > 0 else 0.0,
        "enterprise_account_share": (enterprise_accounts / len(accounts)) if accounts else 0.0,
        "open_opportunity_value": float(open_value or 0.0),
    }


def request_entries(session: Session, request_id: int, limit: int = 500) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Feedback, Account.name, User.name, User.email)
        .outerjoin(Account, Account.id == Feedback.account_id)
        .outerjoin(User, User.id == Feedback.submitter_id)
        .where(Feedback.request_id == request_id)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": f.id,
            "pain": f.customer_pain,
            "severity": f.severity,
            "account": account,
            "submitter": name or email,
            "created_at": f.created_at,
            "source": f.source,
            "match_type": f.match_type,
        }
        for f, account, name, email in rows
    ]


def followers(session: Session, request_id: int) -> list[dict[str, Any]]:
    return [
        {"name": u.name, "email": u.email}
        for u in session.scalars(
            select(User)
            .join(Follower, Follower.user_id == User.id)
            .where(Follower.request_id == request_id)
            .order_by(Follower.id)
        )
    ]


def related_requests(
    session: Session,
    request_id: int,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
    limit: int = 10,
) -> dict[str, list[dict[str, Any]]]:
    """From `request_relations` (both directions, merged requests left out): likely duplicates
    (similarity >= threshold) and related requests, best first; plus the hand-set related link."""
    other = aliased(Request)
    forward = select(
        RequestRelation.related_id.label("oid"), RequestRelation.similarity.label("sim")
    ).where(RequestRelation.request_id == request_id)
    backward = select(
        RequestRelation.request_id.label("oid"), RequestRelation.similarity.label("sim")
    ).where(RequestRelation.related_id == request_id)
    both = forward.union_all(backward).subquery()
    rows = session.execute(
        select(other.id, other.slug, other.title, other.status, func.max(both.c.sim))
        .join(both, both.c.oid == other.id)
        .where(other.status != "merged", other.id != request_id)
        .group_by(other.id, other.slug, other.title, other.status)
        .order_by(func.max(both.c.sim).desc())
        .limit(limit * 2)
    ).all()
    me = session.get(Request, request_id)
    distinct = set((me.meta or {}).get("distinct_from", [])) if me else set()
    duplicates: list[dict[str, Any]] = []
    related: list[dict[str, Any]] = []
    for rid, slug, title, status, sim in rows:
        item = {"id": rid, "slug": slug, "title": title, "status": status, "similarity": float(sim)}
        if float(sim) >= threshold and rid not in distinct:
            duplicates.append(item)
        else:
            related.append(item)
    if me is not None and me.related_request_id:
        link = session.get(Request, me.related_request_id)
        if link is not None and all(r["id"] != link.id for r in related + duplicates):
            related.insert(
                0,
                {
                    "id": link.id,
                    "slug": link.slug,
                    "title": link.title,
                    "status": link.status,
                    "similarity": None,
                },
            )
    return {"duplicates": duplicates[:limit], "related": related[:limit]}


def status_history(session: Session, request: Request) -> list[dict[str, Any]]:
    """No status-history table exists: the timestamps that are recorded (created, requests
    merged into this one, shipped), oldest first."""
    events: list[dict[str, Any]] = [{"at": request.created_at, "what": "created"}]
    for slug, title, at in session.execute(
        select(Request.slug, Request.title, Request.updated_at)
        .where(Request.merged_into_id == request.id)
        .order_by(Request.updated_at)
    ):
        events.append({"at": at, "what": f"merged in: {title}", "slug": slug})
    if request.shipped_at:
        events.append({"at": request.shipped_at, "what": "shipped"})
    if request.status in ("deprioritized",):
        events.append({"at": request.updated_at, "what": request.status})
    return sorted(events, key=lambda e: e["at"])


def request_page(session: Session, request: Request) -> dict[str, Any]:
    creator = request.creator
    return {
        "id": request.id,
        "slug": request.slug,
        "title": request.title,
        "description": request.description,
        "status": request.status,
        "areas": [{"slug": a.slug, "name": a.name} for a in request.areas],
        "creator": creator.name if creator else None,
        "created_at": request.created_at,
        "shipped_at": request.shipped_at,
        "revenue": revenue_at_stake(session, request.id),
        "entries": request_entries(session, request.id),
        "followers": followers(session, request.id),
        **related_requests(session, request.id),
        "history": status_history(session, request),
    }


# ---------------------------------------------------------------------------- areas


def area_report(session: Session, slug: str) -> dict[str, Any] | None:
    """The area and its latest stored insight report (None: unknown area)."""
    area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).first()
    if area is None:
        return None
    report = session.scalars(
        select(InsightReport)
        .where(InsightReport.area_id == area.id)
        .order_by(InsightReport.day.desc())
        .limit(1)
    ).first()
    return {
        "area": {
            "id": area.id,
            "slug": area.slug,
            "name": area.name,
            "description": area.description,
        },
        "report": None
        if report is None
        else {
            "id": report.id,
            "day": report.day,
            "markdown": report.markdown,
            "data": report.data,
            "created_at": report.created_at,
        },
    }


# ---------------------------------------------------------------------------- triage


def _pair_kept(meta_a: dict[str, Any] | None, b_id: int) -> bool:
    return b_id in set((meta_a or {}).get("distinct_from", []))


def triage_items(
    session: Session,
    now: datetime | None = None,
    limit: int = 50,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
) -> dict[str, list[dict[str, Any]]]:
    """What waits for a product owner:
    - `asks`: approvals still pending after a day (the submitter did not answer);
    - `declined`: "Not a match" answers whose entry now sits in another (new) request — a
      possible duplicate of the suggestion, to merge or keep;
    - `duplicates`: likely-duplicate pairs from the related-request graph.
    Pairs marked "keep both" and merged requests are left out."""
    now = now or utcnow()
    suggested = aliased(Request)
    submitter = aliased(User)
    asks = [
        {
            "approval_id": a.id,
            "confidence": float(a.confidence),
            "created_at": a.created_at,
            "pain": f.customer_pain,
            "submitter": (u.name or u.email) if u else None,
            "request": {"id": r.id, "slug": r.slug, "title": r.title},
        }
        for a, f, r, u in session.execute(
            select(Approval, Feedback, suggested, submitter)
            .join(Feedback, Feedback.id == Approval.feedback_id)
            .join(suggested, suggested.id == Approval.request_id)
            .outerjoin(submitter, submitter.id == Feedback.submitter_id)
            .where(Approval.status == "pending", Approval.created_at <= now - TRIAGE_ASK_AGE)
            .order_by(Approval.created_at)
            .limit(limit)
        ).all()
    ]
    current = aliased(Request)
    declined = []
    for a, f, r, c in session.execute(
        select(Approval, Feedback, suggested, current)
        .join(Feedback, Feedback.id == Approval.feedback_id)
        .join(suggested, suggested.id == Approval.request_id)
        .join(current, current.id == Feedback.request_id)
        .where(
            Approval.status == "rejected",
            current.id != suggested.id,
            current.status != "merged",
            suggested.status != "merged",
        )
        .order_by(Approval.decided_at.desc())
        .limit(limit * 2)
    ).all():
        if _pair_kept(c.meta, r.id):
            continue
        declined.append(
            {
                "approval_id": a.id,
                "confidence": float(a.confidence),
                "pain": f.customer_pain,
                "decided_at": a.decided_at,
                "suggested": {"id": r.id, "slug": r.slug, "title": r.title},
                "created": {"id": c.id, "slug": c.slug, "title": c.title},
            }
        )
    # One pass over the graph's strong edges, best first; each pair once whatever its direction.
    a_req = aliased(Request)
    b_req = aliased(Request)
    duplicates = []
    seen: set[tuple[int, int]] = set()
    for sim, a_id, a_slug, a_title, a_meta, b_id, b_slug, b_title in session.execute(
        select(
            RequestRelation.similarity,
            a_req.id,
            a_req.slug,
            a_req.title,
            a_req.meta,
            b_req.id,
            b_req.slug,
            b_req.title,
        )
        .join(a_req, a_req.id == RequestRelation.request_id)
        .join(b_req, b_req.id == RequestRelation.related_id)
        .where(
            RequestRelation.similarity >= threshold,
            a_req.status != "merged",
            b_req.status != "merged",
        )
        .order_by(RequestRelation.similarity.desc(), RequestRelation.id)
        .limit(limit * 4)
    ).all():
        # keep_both marks both requests, so one side's meta tells.
        pair = (min(a_id, b_id), max(a_id, b_id))
        if pair in seen or _pair_kept(a_meta, b_id):
            continue
        seen.add(pair)
        first, second = (
            ((a_id, a_slug, a_title), (b_id, b_slug, b_title))
            if a_id < b_id
            else ((b_id, b_slug, b_title), (a_id, a_slug, a_title))
        )
        duplicates.append(
            {
                "similarity": float(sim),
                "a": {"id": first[0], "slug": first[1], "title": first[2]},
                "b": {"id": second[0], "slug": second[1], "title": second[2]},
            }
        )
    duplicates.sort(key=lambda d: -d["similarity"])
    return {"asks": asks, "declined": declined[:limit], "duplicates": duplicates[:limit]}


def keep_both(session: Session, a_id: int, b_id: int) -> bool:
    """Marks two requests as distinct (not duplicates); idempotent. True when newly marked."""
    changed = False
    for me, other in ((a_id, b_id), (b_id, a_id)):
        request = session.get(Request, me)
        if request is None:
            raise LookupError(f"unknown request #{me}")
        meta = dict(request.meta or {})
        marks = list(meta.get("distinct_from", []))
        if other not in marks:
            marks.append(other)
            meta["distinct_from"] = marks
            request.meta = meta
            changed = True
    session.flush()
    return changed


__all__ = [
    "SORTS",
    "Listing",
    "Moved",
    "OrderCache",
    "area_report",
    "current_request",
    "filter_choices",
    "keep_both",
    "list_request_page",
    "request_page",
    "revenue_at_stake",
    "triage_items",
]
