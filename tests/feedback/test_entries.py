from __future__ import annotations

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.feedback import entries
from gtm_feedback_dagster.feedback.csv_import import import_csv
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback
from tests.intake.seed import seed_url


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
        (only,) = entries.retry_entries(session, failed_id)
        assert only.status == "pending"
        assert entries.retry_entries(session, routed_id)[0].message.endswith("nothing to retry")
    with session_scope(sqlite_url) as session:
        results = entries.retry_entries(session, all_failed=True)
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
            entries.retry_entries(session)
        with pytest.raises(repo.NotFoundError, match="unknown entry 424242"):
            entries.retry_entries(session, 424242)
