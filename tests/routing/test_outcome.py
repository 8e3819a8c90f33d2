"""New requests' drafts are embedded in one call per batch, with the vectors a single call
would give (SQLite and PostgreSQL, the real local model)."""

from __future__ import annotations

from sqlalchemy import select

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.core.text import request_text
from gtm_feedback_dagster.routing.engine import route_batch
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, RequestVector
from gtm_feedback_dagster.vectors.base import bytes_to_matrix
from tests.routing.conftest import EnvFactory
from tests.routing.handmade import NEW_NEEDS, CountingEmbedder, add_entry, seed_requests


def test_new_requests_of_a_batch_are_embedded_in_one_call(
    db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded = seed_requests(db_url)
    ids = [add_entry(db_url, text, seeded.alice) for text in NEW_NEEDS]
    counting = CountingEmbedder(local_embedder)
    env = make_env(db_url, counting)
    counting.calls.clear()  # the catalogue's own vectors were embedded by make_env
    report = route_batch(env, ids)

    assert report.counts["new"] == 3, report.outcomes
    # One call for the batch's entries, one for the three drafts; none per new request.
    assert counting.calls == [3, 3]
    with session_scope(db_url) as s:
        created = s.execute(
            select(Request.title, Request.description, RequestVector.vector, RequestVector.dim)
            .join(RequestVector, RequestVector.request_id == Request.id)
            .where(Request.created_by_routing.is_(True))
        ).all()
    assert len(created) == 3
    for title, description, blob, dim in created:
        alone = local_embedder.embed([request_text(title, description)])[0]
        stored = bytes_to_matrix([blob], dim)[0]
        assert float(stored @ alone) > 0.99999
