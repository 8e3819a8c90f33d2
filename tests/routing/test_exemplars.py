"""Confirmed-entry evidence: an entry is matched against the feedback people confirmed on a
request, not only against the request's own text (SQLite and PostgreSQL, the real local model)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.core.text import query_text, request_text
from gtm_feedback_dagster.routing.engine import route_batch
from gtm_feedback_dagster.routing.exemplars import (
    EXEMPLARS_PER_REQUEST,
    exemplar_hits,
    sync_exemplar_vectors,
    with_exemplars,
)
from gtm_feedback_dagster.routing.search import search_requests
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, FeedbackVector
from gtm_feedback_dagster.vectors.base import VectorHit
from tests.routing.conftest import EnvFactory
from tests.routing.handmade import add_entry, entry, seed_requests

REQUEST = "Scheduled email delivery of reports"
# How this customer base phrases that need: far from the request's own words.
CONFIRMED = "They want a Monday morning digest in their inbox with last week's numbers."
NEW = "Could they get the Monday morning inbox digest with last week's numbers?"


def _confirm(url: str, entry_id: int, request_id: int, match_type: str = "manual") -> None:
    with session_scope(url) as s:
        row = s.get(Feedback, entry_id)
        assert row is not None
        row.request_id, row.match_type, row.status = request_id, match_type, "routed"


def _vector_count(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(FeedbackVector)) or 0


def test_exemplar_hits_take_each_requests_best_entry() -> None:
    queries = np.eye(3, dtype=np.float32)[:2]  # two queries
    owners = np.array([5, 5, 9], dtype=np.int64)
    matrix = np.array([[0.2, 0, 0], [0.7, 0.1, 0], [0.1, 0.9, 0]], dtype=np.float32)
    hits = exemplar_hits(queries, owners, matrix)
    assert [(h.id, round(h.score, 3)) for h in hits[0]] == [(5, 0.7), (9, 0.1)]
    assert [(h.id, round(h.score, 3)) for h in hits[1]] == [(5, 0.1), (9, 0.9)]
    assert exemplar_hits(queries, np.zeros(0, dtype=np.int64), np.zeros((0, 3))) == [[], []]


def test_confirmed_feedback_finds_the_request_its_text_misses(
    db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded = seed_requests(db_url)
    target = seeded.request_ids[REQUEST]
    confirmed = add_entry(db_url, CONFIRMED, seeded.alice)
    _confirm(db_url, confirmed, target)
    # An automatic attachment is no confirmation: it never becomes evidence.
    auto = add_entry(db_url, "Export the dashboards to PDF for the board.", seeded.bob)
    _confirm(db_url, auto, seeded.request_ids["Export dashboards to PDF"], match_type="auto")

    new_id = add_entry(db_url, NEW, seeded.bob)
    env = make_env(db_url, local_embedder)
    report = route_batch(env, [new_id])

    assert report.exemplars_embedded == 1 and _vector_count(db_url) == 1
    routing = entry(db_url, new_id).meta["routing"]
    assert routing["matched_through"] == "confirmed feedback"
    vec_new, vec_confirmed, vec_request = local_embedder.embed(
        [query_text(NEW), query_text(CONFIRMED), request_text(REQUEST, "")]
    )
    # The evidence is the confirmed entry's cosine, well above the request text's own.
    assert routing["similarity"] == round(float(vec_new @ vec_confirmed), 4)
    assert float(vec_new @ vec_confirmed) > float(vec_new @ vec_request) + 0.2
    assert entry(db_url, new_id).request_id == target or routing["tier"] == "ask"
    assert report.outcomes[0].request_id == target
    # Search ranks as routing does: through the confirmed feedback too.
    with env.session() as s:
        best = search_requests(s, env.embedder, env.index, env.scorer, NEW, limit=1)[0]
    assert best.request.id == target
    assert abs(best.similarity - float(vec_new @ vec_confirmed)) < 1e-5


def test_vectors_are_embedded_once_and_again_after_an_edit(
    db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded = seed_requests(db_url)
    confirmed = add_entry(db_url, CONFIRMED, seeded.alice)
    _confirm(db_url, confirmed, seeded.request_ids[REQUEST], match_type="approved")
    env = make_env(db_url, local_embedder)
    assert route_batch(env, [add_entry(db_url, NEW, seeded.bob)]).exemplars_embedded == 1
    assert (
        route_batch(env, [add_entry(db_url, NEW + " Please.", seeded.bob)]).exemplars_embedded == 0
    )
    with session_scope(db_url) as s:
        row = s.get(Feedback, confirmed)
        assert row is not None
        row.customer_pain = "They want a weekly PDF of the pipeline dashboard by email."
    assert route_batch(env, [add_entry(db_url, NEW + " Soon.", seeded.bob)]).exemplars_embedded == 1
    assert _vector_count(db_url) == 1


def test_evidence_only_rescores_candidates_the_index_returned(
    db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded = seed_requests(db_url)
    target = seeded.request_ids[REQUEST]
    confirmed = add_entry(db_url, CONFIRMED, seeded.alice)
    _confirm(db_url, confirmed, target)
    env = make_env(db_url, local_embedder)
    route_batch(env, [add_entry(db_url, NEW, seeded.bob)])  # embeds the confirmed entry
    query = local_embedder.embed([query_text(NEW)])
    other = seeded.request_ids["IP allowlisting"]
    with session_scope(db_url) as s:
        merged, through = with_exemplars(
            s, local_embedder.model_id, [1], query, [[VectorHit(other, 0.1)]]
        )
        assert merged == [[VectorHit(other, 0.1)]] and through == {}
        merged, through = with_exemplars(
            s,
            local_embedder.model_id,
            [1],
            query,
            [[VectorHit(other, 0.1), VectorHit(target, 0.2)]],
        )
    assert merged[0][0].id == target and merged[0][0].score > 0.5
    assert through == {1: {target}}


def test_a_route_run_embeds_only_its_candidates_confirmed_entries_and_the_asset_the_rest(
    db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    """A labelled history of many entries does not slow a route run: it embeds the confirmed
    entries of the requests it is about to score (the newest 8 of each), and the
    `request_embeddings` sync (`sync_exemplar_vectors` without a limit) embeds the rest."""
    seeded = seed_requests(db_url)
    target = seeded.request_ids[REQUEST]
    for n in range(10):
        confirmed = add_entry(db_url, f"{CONFIRMED} ({n} of ten)", seeded.alice)
        _confirm(db_url, confirmed, target)
    env = make_env(db_url, local_embedder)
    report = route_batch(env, [add_entry(db_url, NEW, seeded.bob)])
    assert report.exemplars_embedded == EXEMPLARS_PER_REQUEST  # the newest 8 of the 10
    assert sync_exemplar_vectors(env.session, local_embedder, None, per_request=None) == 2
    assert _vector_count(db_url) == 10
