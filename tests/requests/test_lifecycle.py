from __future__ import annotations

import pytest

from gtm_feedback_dagster.core.validation import ValidationError
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


def test_edit_request_keeps_old_slugs_resolving(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        request, changes = lifecycle.edit_request(session, "dark-mode", slug="Dark Theme")
        assert request.slug == "dark-theme" and len(changes) == 1
        lifecycle.edit_request(session, "dark-theme", slug="night-mode")
        assert request.meta["old_slugs"] == ["dark-mode", "dark-theme"]
        for old in ("dark-mode", "dark-theme", "http://localhost:8000/requests/dark-mode"):
            assert lifecycle.resolve_request(session, old).id == request.id
        # Going back to an old slug takes it off the list of old ones.
        lifecycle.edit_request(session, "night-mode", slug="dark-mode")
        assert request.meta["old_slugs"] == ["dark-theme", "night-mode"]
        with pytest.raises(repo.NotFoundError):
            lifecycle.resolve_request(session, "dark")  # a prefix of an old slug is not one


def test_edit_request_reports_every_problem_and_changes_nothing(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        with pytest.raises(ValidationError) as err:
            lifecycle.edit_request(
                session,
                "dark-mode",
                title=" ",
                slug="!!!",
                add_areas=("nowhere",),
                remove_areas=("dashboards",),
            )
        problems = " | ".join(err.value.problems)
        assert "title is empty" in problems and "no letters or digits" in problems
        assert "unknown product area 'nowhere'" in problems
        assert "at least one area" in problems
        request = repo.resolve_request(session, "dark-mode")
        assert request.title == "Dark mode" and [a.slug for a in request.areas] == ["dashboards"]
