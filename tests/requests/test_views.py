"""requests/views.py, listing.py, triage.py: the read queries of the request pages (and
`lifecycle.keep_both`), on SQLite and PostgreSQL."""

from __future__ import annotations

from gtm_feedback_dagster.requests import listing as request_list
from gtm_feedback_dagster.requests import triage, views
from gtm_feedback_dagster.requests.lifecycle import keep_both
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request
from tests.web.support import seed_web


def test_listing_sorts_by_distinct_account_arr_and_hides_merged(db_url: str) -> None:
    seed = seed_web(db_url)
    with session_scope(db_url) as s:
        listing = request_list.list_request_page(s, sort="arr")
        slugs = [r["slug"] for r in listing.rows]
        assert slugs[0] == "dark-mode" and "night-theme" not in slugs
        top = listing.rows[0]
        assert (top["accounts"], top["arr"], top["entries"]) == (2, 150_000.0, 2)
        assert listing.total == 3 and listing.pages == 1
        by_entries = request_list.list_request_page(s, sort="entries", per_page=1, page=2)
        assert len(by_entries.rows) == 1 and by_entries.pages == 3
        merged = request_list.list_request_page(s, status="merged")
        assert [r["slug"] for r in merged.rows] == ["night-theme"]
        hits = request_list.list_request_page(
            s, only_ids=[seed.twin, seed.hostile], sort="relevance"
        )
        assert [r["id"] for r in hits.rows] == [seed.twin, seed.hostile]
        assert request_list.list_request_page(s, area="integrations").total == 0
        assert request_list.list_request_page(s, segment="nope").total == 0


def test_revenue_relations_history_and_redirect(db_url: str) -> None:
    seed = seed_web(db_url)
    with session_scope(db_url) as s:
        money = views.revenue_at_stake(s, seed.base.dark_mode)
        assert money["accounts"] == 2 and money["arr"] == 150_000.0
        assert round(money["enterprise_share"], 3) == round(50 / 150, 3)
        hostile = views.revenue_at_stake(s, seed.hostile)
        assert hostile["open_opportunity_value"] == 1.0  # the Acme renewal, stage unset = open
        rel = views.related_requests(s, seed.base.dark_mode)
        assert [d["id"] for d in rel["duplicates"]] == [seed.twin]
        back = views.related_requests(s, seed.twin)  # the relation is read both ways
        assert [d["id"] for d in back["duplicates"]] == [seed.base.dark_mode]
        moved = views.current_request(s, "night-theme")
        assert isinstance(moved, views.Moved) and moved.slug == "dark-mode"
        assert views.current_request(s, "nope") is None
        request = s.get(Request, seed.base.dark_mode)
        whats = [e["what"] for e in views.status_history(s, request)]
        assert whats[0] == "created" and "merged in: Night theme" in whats


def test_triage_items_and_keep_both(db_url: str) -> None:
    seed = seed_web(db_url)
    with session_scope(db_url) as s:
        items = triage.triage_items(s)
        assert [a["approval_id"] for a in items["asks"]] == [seed.approval]
        assert [(d["a"]["id"], d["b"]["id"]) for d in items["duplicates"]] == [
            (seed.base.dark_mode, seed.twin)
        ]
        assert keep_both(s, seed.base.dark_mode, seed.twin) is True
        assert keep_both(s, seed.twin, seed.base.dark_mode) is False  # idempotent
    with session_scope(db_url) as s:
        assert triage.triage_items(s)["duplicates"] == []
        assert views.related_requests(s, seed.base.dark_mode)["duplicates"] == []
