"""The migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.schema import Base


def _diff(url: str) -> list:
    with db.engine_for(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrations_match_models(db_url: str) -> None:
    assert db.current_revision(db_url) is not None
    assert _diff(db_url) == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    before = db.current_revision(db_url)
    db.upgrade(db_url)
    assert db.current_revision(db_url) == before
