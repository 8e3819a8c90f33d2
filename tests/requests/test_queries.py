from __future__ import annotations

import pytest

from gtm_feedback_dagster.requests import management, queries
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from tests.intake.seed import seed_url


def attach_entries(url: str, request_id: int, account_id: int, user_id: int, n: int) -> None:
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
    attach_entries(db_url, seeded.dark_mode, seeded.acme, seeded.ann, 3)
    attach_entries(db_url, seeded.dark_mode, seeded.globex, seeded.bob, 1)
    with session_scope(db_url) as session:
        (row,) = queries.list_requests(session)
        detail = queries.request_detail(session, "dark-mode", "http://app")
        assert queries.list_requests(session, area="integrations") == []
        assert queries.list_requests(session, status="shipped") == []
        with pytest.raises(ValueError, match="unknown status"):
            queries.list_requests(session, status="done")
    assert (row["entries"], row["accounts"], row["arr"]) == (4, 2, 150_000.0)
    assert detail["arr"] == 150_000.0 and detail["url"] == "http://app/requests/dark-mode"
    assert detail["entries_by_severity"] == {"high": 2, "low": 2}
    assert [f["email"] for f in detail["followers"]] == []


def test_management_keeps_the_request_queries_importable() -> None:
    assert management.list_requests is queries.list_requests
    assert management.request_detail is queries.request_detail
