from __future__ import annotations

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.feedback.csv_import import import_csv
from gtm_feedback_dagster.requests import management as mg
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, Request
from tests.intake.seed import seed_url


def _attach(url: str, request_id: int, account_id: int, user_id: int, n: int) -> None:
    with session_scope(url) as session:
        for i in range(n):
            repo.add_feedback(
                session,
                {
                    "source": "cli",
                    "customer_pain": f"pain {account_id}-{i}",
                    "severity": "high" if i == 0 else "low",
                    "account_id": account_id,
                    "submitter_id": user_id,
                    "status": "routed",
                    "request_id": request_id,
                    "match_type": "manual",
                },
            )


def test_demand_counts_each_account_once(db_url: str) -> None:
    seeded = seed_url(db_url)
    _attach(db_url, seeded.dark_mode, seeded.acme, seeded.ann, 3)
    _attach(db_url, seeded.dark_mode, seeded.globex, seeded.bob, 1)
    with session_scope(db_url) as session:
        (row,) = mg.list_requests(session)
        detail = mg.request_detail(session, "dark-mode", "http://app")
        assert mg.list_requests(session, area="integrations") == []
        assert mg.list_requests(session, status="shipped") == []
        with pytest.raises(ValueError, match="unknown status"):
            mg.list_requests(session, status="done")
    assert (row["entries"], row["accounts"], row["arr"]) == (4, 2, 150_000.0)
    assert detail["arr"] == 150_000.0 and detail["url"] == "http://app/requests/dark-mode"
    assert detail["entries_by_severity"] == {"high": 2, "low": 2}
    assert [f["email"] for f in detail["followers"]] == []


def test_request_lifecycle(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        shipped = mg.set_request_status(session, "dark-mode", "shipped")
        assert shipped.changed and shipped.request.shipped_at is not None
        again = mg.set_request_status(session, "dark-mode", "shipped")
        assert not again.changed and "already shipped" in again.message
        # The shipped sensor announces it, then a reopen must not make it announce twice.
        shipped.request.shipped_notified_at = shipped.request.shipped_at
        reopened = mg.set_request_status(session, "dark-mode", "open")
        assert reopened.changed and reopened.request.shipped_at is None
        assert reopened.request.shipped_notified_at is not None
        assert mg.set_request_status(session, "dark-mode", "deprioritized").changed
        with pytest.raises(repo.NotFoundError, match="unknown request 'nope'"):
            mg.set_request_status(session, "nope", "shipped")


def test_create_request_validates_everything_at_once(sqlite_url: str) -> None:
    seeded = seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        with pytest.raises(ValueError) as excinfo:
            mg.create_request(session, " ", "", ["nowhere"], "ghost")
        message = str(excinfo.value)
        for part in (
            "title is empty",
            "description is empty",
            "unknown product area",
            "unknown user",
        ):
            assert part in message
        request = mg.create_request(
            session, "Dark mode", "Again, darker.", ["Dashboards"], "ann@example.com"
        )
        assert request.slug == "dark-mode-2"
        assert repo.follower_ids(session, request.id) == [seeded.ann]


def test_retry_puts_failed_and_fixable_invalid_entries_back_to_pending(sqlite_url: str) -> None:
    seeded = seed_url(sqlite_url)
    data = (
        b"text,severity,account,submitter\n"
        b"Needs SAML,high,Initech,ann@example.com\n"  # account not there yet
        b"Needs nothing,low,Acme,ghost@example.com\n"  # stays invalid
        b'bad,"quo"te,Acme,ann@example.com\n'  # unreadable row
    )
    assert import_csv(sqlite_url, data).invalid == 3
    with session_scope(sqlite_url) as session:
        failed, _ = repo.add_feedback(
            session,
            {
                "source": "cli",
                "customer_pain": "Timeouts",
                "severity": "medium",
                "account_id": seeded.acme,
                "submitter_id": seeded.ann,
                "status": "failed",
                "error": "LLM quota exceeded",
                "attempts": 3,
            },
        )
        routed, _ = repo.add_feedback(
            session,
            {
                "source": "cli",
                "customer_pain": "Dark",
                "severity": "low",
                "account_id": seeded.acme,
                "submitter_id": seeded.ann,
                "status": "routed",
                "request_id": seeded.dark_mode,
            },
        )
        failed_id, routed_id = failed.id, routed.id
    import_csv(sqlite_url, b"name,arr\nInitech,10\n")  # the missing account arrives

    with session_scope(sqlite_url) as session:
        (only,) = mg.retry_entries(session, failed_id)
        assert only.status == "pending"
        assert mg.retry_entries(session, routed_id)[0].message.endswith("nothing to retry")
    with session_scope(sqlite_url) as session:
        results = mg.retry_entries(session, all_failed=True)
    statuses = [r.status for r in results]
    assert statuses == ["pending", "invalid", "invalid"]
    assert "unknown user 'ghost@example.com'" in results[1].message
    assert "fix the row and import the file again" in results[2].message
    with session_scope(sqlite_url) as session:
        revived = session.scalars(
            select(Feedback).where(Feedback.customer_pain == "Needs SAML")
        ).one()
        assert (revived.status, revived.error, revived.account_id is not None) == (
            "pending",
            None,
            True,
        )
        failed_entry = session.get(Feedback, failed_id)
        assert failed_entry is not None
        assert (failed_entry.status, failed_entry.error, failed_entry.attempts) == (
            "pending",
            None,
            0,
        )
        with pytest.raises(ValueError, match="give an entry id or --all-failed"):
            mg.retry_entries(session)
        with pytest.raises(repo.NotFoundError, match="unknown entry 424242"):
            mg.retry_entries(session, 424242)


def test_area_creation_is_idempotent_and_checks_names(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        area, created = mg.create_area(session, "API & Developer Tools", firehose_channel="#api")
        assert (area.slug, area.firehose_channel, created) == (
            "api-developer-tools",
            "firehose-api",
            True,
        )
        assert mg.create_area(session, "API & Developer Tools")[1] is False
        with pytest.raises(ValueError, match="already exists with slug 'dashboards'"):
            mg.create_area(session, "Dashboards", slug="dash")
        with pytest.raises(ValueError, match="name is too long"):
            mg.create_area(session, "x" * 101)
        assert [a["slug"] for a in mg.list_areas(session)] == [
            "api-developer-tools",
            "dashboards",
            "integrations",
        ]


def test_account_detail_lists_opportunities_and_requests(sqlite_url: str) -> None:
    seeded = seed_url(sqlite_url)
    _attach(sqlite_url, seeded.dark_mode, seeded.acme, seeded.ann, 2)
    with session_scope(sqlite_url) as session:
        detail = mg.account_detail(session, "acme.com", "http://app")
        accounts = mg.list_accounts(session)
        users = mg.list_users(session)
        request = session.scalars(select(Request)).one()
        assert mg.follow(session, "dark-mode", "bob@example.com", on=True).endswith(
            "now follows dark-mode"
        )
        assert "already follows" in mg.follow(session, str(request.id), "Bob Stone", on=True)
        assert "no longer follows" in mg.follow(session, "dark-mode", "bob@example.com", on=False)
        assert "was not following" in mg.follow(session, "dark-mode", "bob@example.com", on=False)
    assert [o["name"] for o in detail["opportunities"]] == ["Acme renewal"]
    assert detail["requests"][0]["slug"] == "dark-mode" and detail["requests"][0]["entries"] == 2
    assert [a["name"] for a in accounts] == ["Acme", "Globex"]  # by ARR
    assert accounts[0]["entries"] == 2 and accounts[0]["requests"] == 1
    assert {u["email"]: u["entries"] for u in users} == {"ann@example.com": 2, "bob@example.com": 0}
