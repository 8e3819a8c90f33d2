"""Two replicas starting together migrate one after the other, not at once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from gtm_feedback_dagster.store import db


@pytest.mark.postgres
def test_concurrent_upgrades_on_postgres_both_succeed(pg_empty_url: str) -> None:
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            db.upgrade(pg_empty_url)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert db.current_revision(pg_empty_url) is not None
    with db.engine_for(pg_empty_url).connect() as conn:
        held = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        ).scalar()
    assert held == 0  # the lock is released


def test_pool_size_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_DB_POOL_SIZE", "3")
    monkeypatch.setenv("GTM_FEEDBACK_DB_MAX_OVERFLOW", "1")
    engine = db.make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    assert engine.pool.size() == 3  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 1  # type: ignore[attr-defined]
