from __future__ import annotations

import pytest

from gtm_feedback_dagster.catalog import entities, listings
from gtm_feedback_dagster.store.db import session_scope
from tests.intake.seed import seed_url


def test_area_creation_is_idempotent_and_checks_names(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    with session_scope(sqlite_url) as session:
        area, created = entities.create_area(
            session, "API & Developer Tools", firehose_channel="#api"
        )
        assert (area.slug, area.firehose_channel, created) == (
            "api-developer-tools",
            "firehose-api",
            True,
        )
        assert entities.create_area(session, "API & Developer Tools")[1] is False
        with pytest.raises(ValueError, match="already exists with slug 'dashboards'"):
            entities.create_area(session, "Dashboards", slug="dash")
        with pytest.raises(ValueError, match="name is too long"):
            entities.create_area(session, "x" * 101)
        assert [a["slug"] for a in listings.list_areas(session)] == [
            "api-developer-tools",
            "dashboards",
            "integrations",
        ]
