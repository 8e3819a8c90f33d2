"""requests/listing.py: the request list's demand table (figures, sorts, filters) against a
count by hand, and the per-process cache that reloads it in the background."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.requests.listing import DemandCache, DemandTable, list_request_page
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, Feedback, ProductArea, Request, utcnow
from tests.intake.seed import seed_url

SEGMENTS = ("enterprise", "mid-market", None)


def _random_catalogue(url: str, seed: int) -> None:
    """Accounts in several segments, requests in one or two areas (some merged, some closed),
    and entries spread over them with repeat accounts and entries without an account."""
    rng = random.Random(seed)
    base = seed_url(url)
    with session_scope(url) as s:
        accounts = [
            Account(
                name=f"Acct {i}",
                arr=float(rng.choice([0, 5_000, 80_000, 1_250_000])) or None,
                segment=rng.choice(SEGMENTS),
            )
            for i in range(12)
        ]
        s.add_all(accounts)
        s.flush()
        areas = list(s.scalars(select(ProductArea).order_by(ProductArea.id)))
        now = utcnow()
        requests = []
        for i in range(25):
            chosen = rng.sample(areas, rng.choice([1, 2]))
            r = repo.create_request(
                s,
                f"Request number {i}",
                "desc",
                chosen,
                base.ann,
                status=rng.choice(["open", "open", "open", "planned", "shipped", "merged"]),
                created_at=now - timedelta(hours=rng.randrange(1, 500)),
            )
            requests.append(r)
        s.flush()
        for j in range(160):
            s.add(
                Feedback(
                    source="cli",
                    external_id=f"listing-{j}",
                    customer_pain=f"pain {j}",
                    severity="medium",
                    account_id=rng.choice(accounts).id if rng.random() < 0.9 else None,
                    submitter_id=base.bob,
                    status="routed",
                    request_id=rng.choice(requests).id if rng.random() < 0.9 else None,
                )
            )


def _by_hand(session: Session) -> dict[int, dict]:
    """Per request: entries, distinct accounts, their ARR (each account once), segments, areas."""
    accounts = {a.id: a for a in session.scalars(select(Account))}
    out: dict[int, dict] = {}
    for r in session.scalars(select(Request)):
        mine = list(session.scalars(select(Feedback).where(Feedback.request_id == r.id)))
        distinct = {f.account_id for f in mine if f.account_id is not None}
        out[r.id] = {
            "status": r.status,
            "created": r.created_at,
            "entries": len(mine),
            "accounts": len(distinct),
            "arr": sum(accounts[a].arr or 0.0 for a in distinct),
            "segments": {accounts[a].segment for a in distinct} - {None},
            "areas": {a.slug for a in r.areas},
        }
    return out


def test_every_sort_and_filter_matches_a_count_by_hand(db_url: str) -> None:
    _random_catalogue(db_url, seed=11)
    with session_scope(db_url) as s:
        truth = _by_hand(s)
        table = DemandTable.load(s)
        area_slugs = sorted({a for t in truth.values() for a in t["areas"]})
        some_ids = sorted(truth)[::3]
        cases = [
            (sort, area, status, segment, only)
            for sort in ("arr", "entries", "recent")
            for area in (None, *area_slugs)
            for status in (None, "open", "merged")
            for segment in (None, "enterprise")
            for only in (None, some_ids)
        ]
        for sort, area, status, segment, only in cases:
            keep = [
                rid
                for rid, t in truth.items()
                if (t["status"] == status if status else t["status"] != "merged")
                and (area is None or area in t["areas"])
                and (segment is None or segment in t["segments"])
                and (only is None or rid in only)
            ]
            field = {"arr": "arr", "entries": "entries", "recent": "created"}[sort]
            keep.sort(key=lambda rid: (truth[rid][field], rid), reverse=True)
            got = table.figures(table.order(sort, area, status, segment, only))
            assert [g["id"] for g in got] == keep, (sort, area, status, segment, only)
            for g in got:
                t = truth[g["id"]]
                assert (g["entries"], g["accounts"]) == (t["entries"], t["accounts"])
                assert g["arr"] == pytest.approx(t["arr"])
        # A search's hits in their own order, and a page of them.
        hits = list(reversed(some_ids))
        shown = [h for h in hits if truth[h]["status"] != "merged"]
        assert [
            g["id"] for g in table.figures(table.order("relevance", None, None, None, hits))
        ] == shown
        page = list_request_page(s, sort="relevance", only_ids=hits, per_page=2, page=2)
        assert [r["id"] for r in page.rows] == shown[2:4] and page.total == len(shown)


class GatedSessions:
    """A session factory whose sessions can be held at the door (to catch a reload mid-way)
    or refused (a database that went away)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.open = threading.Event()
        self.open.set()
        self.broken = False
        self.opened = 0

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        self.opened += 1
        assert self.open.wait(10)
        if self.broken:
            raise ConnectionError("database unreachable")
        with session_scope(self.url) as s:
            yield s


def _add_entry(url: str, request_slug: str, account: int, user: int, key: str) -> None:
    with session_scope(url) as s:
        rid = s.scalar(select(Request.id).where(Request.slug == request_slug))
        s.add(
            Feedback(
                source="cli",
                external_id=key,
                customer_pain="more",
                severity="low",
                account_id=account,
                submitter_id=user,
                status="routed",
                request_id=rid,
            )
        )


def _entries_of_dark_mode(table: DemandTable) -> int:
    (at,) = (table.status == "open").nonzero()
    return int(table.entries[at[0]])


def test_a_stale_table_is_served_while_it_reloads_in_the_background(sqlite_url: str) -> None:
    base = seed_url(sqlite_url)
    sessions = GatedSessions(sqlite_url)
    cache = DemandCache(sessions, ttl=0.0)  # every view finds it stale
    first = cache.get()  # nothing loaded yet: this view waits for the load
    assert _entries_of_dark_mode(first) == 0
    _add_entry(sqlite_url, "dark-mode", base.acme, base.ann, "bg-1")

    sessions.open.clear()  # the reload this view starts is held at the database
    assert cache.get() is first  # ... and the view does not wait for it
    sessions.open.set()
    for _ in range(100):
        table = cache.get()
        if table is not first:
            break
        threading.Event().wait(0.02)
    assert _entries_of_dark_mode(table) == 1


def test_after_an_action_the_next_view_waits_for_the_fresh_table(sqlite_url: str) -> None:
    base = seed_url(sqlite_url)
    cache = DemandCache(GatedSessions(sqlite_url), ttl=3600.0)
    assert _entries_of_dark_mode(cache.get()) == 0
    _add_entry(sqlite_url, "dark-mode", base.acme, base.ann, "act-1")
    assert _entries_of_dark_mode(cache.get()) == 0  # fresh enough by its ttl
    cache.invalidate()
    assert _entries_of_dark_mode(cache.get()) == 1


def test_a_failed_reload_keeps_the_previous_table(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    sessions = GatedSessions(sqlite_url)
    cache = DemandCache(sessions, ttl=0.0)
    first = cache.get()
    sessions.broken = True
    cache.invalidate()
    assert cache.get() is first  # the reload failed; the old table still answers
    fresh = DemandCache(sessions, ttl=0.0)
    with pytest.raises(ConnectionError):  # no table at all: the view says so, nothing made up
        fresh.get()
