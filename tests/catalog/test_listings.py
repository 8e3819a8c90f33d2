from __future__ import annotations

from sqlalchemy import select

from gtm_feedback_dagster.catalog import listings
from gtm_feedback_dagster.requests import lifecycle
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request
from tests.intake.seed import seed_url
from tests.requests.test_queries import attach_entries


def test_account_detail_lists_opportunities_and_requests(sqlite_url: str) -> None:
    seeded = seed_url(sqlite_url)
    attach_entries(sqlite_url, seeded.dark_mode, seeded.acme, seeded.ann, 2)
    with session_scope(sqlite_url) as session:
        detail = listings.account_detail(session, "acme.com", "http://app")
        accounts = listings.list_accounts(session)
        users = listings.list_users(session)
        request = session.scalars(select(Request)).one()
        assert lifecycle.follow(session, "dark-mode", "bob@example.com", on=True).endswith(
            "now follows dark-mode"
        )
        assert "already follows" in lifecycle.follow(session, str(request.id), "Bob Stone", on=True)
        assert "no longer follows" in lifecycle.follow(
            session, "dark-mode", "bob@example.com", on=False
        )
        assert "was not following" in lifecycle.follow(
            session, "dark-mode", "bob@example.com", on=False
        )
    assert [o["name"] for o in detail["opportunities"]] == ["Acme renewal"]
    assert detail["requests"][0]["slug"] == "dark-mode" and detail["requests"][0]["entries"] == 2
    assert [a["name"] for a in accounts] == ["Acme", "Globex"]  # by ARR
    assert accounts[0]["entries"] == 2 and accounts[0]["requests"] == 1
    assert {u["email"]: u["entries"] for u in users} == {"ann@example.com": 2, "bob@example.com": 0}
