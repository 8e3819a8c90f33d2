"""The firehose sensor's query is served by indexes (a scan made its tick take 12 s at 100x)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from gtm_feedback_dagster.notifications import firehose
from gtm_feedback_dagster.store.db import session_scope


def test_firehose_query_uses_the_routed_at_and_outbox_indexes(sqlite_url: str) -> None:
    now = datetime.now(UTC)
    captured: list[str] = []
    with session_scope(sqlite_url) as session:
        # Compile the real query of the sensor and ask SQLite how it would run it.
        session.connection().engine.echo = False
        original = session.execute

        def explain(statement, *args, **kwargs):  # type: ignore[no-untyped-def]
            compiled = statement.compile(
                dialect=session.bind.dialect, compile_kwargs={"literal_binds": True}
            )
            plan = original(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            captured.extend(str(row[-1]) for row in plan)
            return original(statement, *args, **kwargs)

        session.execute = explain  # type: ignore[method-assign]
        firehose.routed_entries_since(session, now - timedelta(minutes=5), now)
    plan = "\n".join(captured)
    assert "ix_feedback_status_routed_at" in plan, plan
    assert "ix_outbox_feedback_kind" in plan, plan
