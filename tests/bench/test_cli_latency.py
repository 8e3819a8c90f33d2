"""bench/cli_latency.py's set-up: which entries stay pending for the timed commands."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.cli_latency import keep_pending, unpark_one
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, Feedback


def _entries(url: str, n: int) -> list[int]:
    with session_scope(url) as session:
        user = repo.get_or_create_user(session, "ana@example.com", "Ana Lopez")
        account = Account(name="Acme", external_id="001ACME", arr=1.0)
        session.add(account)
        session.flush()
        ids = []
        for i in range(n):
            entry, _ = repo.add_feedback(
                session,
                {
                    "source": "cli",
                    "customer_pain": f"pain number {i}",
                    "severity": "high",
                    "account_id": account.id,
                    "submitter_id": user.id,
                },
            )
            ids.append(entry.id)
    return ids


def _count(url: str, status: str) -> int:
    with session_scope(url) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Feedback).where(Feedback.status == status)
            )
            or 0
        )


def test_the_newest_entries_stay_pending_and_parked_ones_come_back_one_by_one(
    sqlite_url: str,
) -> None:
    ids = _entries(sqlite_url, 5)
    assert keep_pending(sqlite_url, 2) == ids[-2:]
    assert _count(sqlite_url, "pending") == 2 and _count(sqlite_url, "failed") == 3
    assert unpark_one(sqlite_url) == ids[2]
    assert _count(sqlite_url, "pending") == 3
