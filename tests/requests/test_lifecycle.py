from __future__ import annotations

import pytest

from gtm_feedback_dagster.requests import lifecycle
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from tests.intake.seed import seed_url


def test_request_lifecycle(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        shipped = lifecycle.set_request_status(session, "dark-mode", "shipped")
        assert shipped.changed and shipped.request.shipped_at is not None
        again = lifecycle.set_request_status(session, "dark-mode", "shipped")
        assert not again.changed and "already shipped" in again.message
        # The shipped sensor announces it, then a reopen must not make it announce twice.
        shipped.request.shipped_notified_at = shipped.request.shipped_at
        reopened = lifecycle.set_request_status(session, "dark-mode", "open")
        assert reopened.changed and reopened.request.shipped_at is None
        assert reopened.request.shipped_notified_at is not None
        assert lifecycle.set_request_status(session, "dark-mode", "deprioritized").changed
        with pytest.raises(repo.NotFoundError, match="unknown request 'nope'"):
            lifecycle.set_request_status(session, "nope", "shipped")


def test_create_request_validates_everything_at_once(sqlite_url: str) -> None:
    seeded = seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        with pytest.raises(ValueError) as excinfo:
            lifecycle.create_request(session, " ", "", ["nowhere"], "ghost")
        message = str(excinfo.value)
        for part in (
            "title is empty",
            "description is empty",
            "unknown product area",
            "unknown user",
        ):
            assert part in message
        request = lifecycle.create_request(
            session, "Dark mode", "Again, darker.", ["Dashboards"], "ann@example.com"
        )
        assert request.slug == "dark-mode-2"
        assert repo.follower_ids(session, request.id) == [seeded.ann]
