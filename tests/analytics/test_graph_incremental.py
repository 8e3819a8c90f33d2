"""An incremental `update_area_graph` gives exactly what a fresh full build gives: the stored rows
(similarities and ranks included), related links, duplicates, clusters and edge count — after
vectors changed (in and across areas), a request was merged and a new one was embedded, with
the per-process vector cache, the per-request row summaries and the suspect-row query in play."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select, update

from gtm_feedback_dagster.analytics.graph import (
    GraphUpdate,
    clear_area_rows_cache,
    update_area_graph,
)
from gtm_feedback_dagster.analytics.graph_vectors import (
    cached_vectors,
    clear_vector_cache,
    load_vectors,
)
from gtm_feedback_dagster.core.request_graph import GraphParams
from gtm_feedback_dagster.requests.merge import merge_requests
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import ProductArea, Request, RequestArea, RequestRelation
from tests.analytics_seed import near, put_vector, request, seed_graph_world, unit

PARAMS = GraphParams(
    k=4,
    min_similarity=0.0,
    related_threshold=0.3,
    cluster_threshold=0.5,
    duplicate_threshold=0.9,
)


def run_areas(url: str, full_refresh: bool) -> dict[str, GraphUpdate]:
    out = {}
    for slug in ("alpha", "beta"):
        with session_scope(url) as session:
            area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).one()
            out[slug] = update_area_graph(session, area, PARAMS, full_refresh=full_refresh)
    return out


def snapshot(url: str) -> dict[str, Any]:
    with session_scope(url) as session:
        rows = sorted(
            session.execute(
                select(
                    RequestRelation.request_id,
                    RequestRelation.related_id,
                    RequestRelation.similarity,
                    RequestRelation.rank,
                )
            ).tuples()
        )
        related = dict(
            session.execute(select(Request.id, Request.related_request_id)).tuples().all()
        )
    return {"rows": rows, "related": related}


def derived(updates: dict[str, GraphUpdate]) -> dict[str, Any]:
    return {
        slug: (u.edge_count, u.duplicate_count, u.clusters, u.queries, u.corpus, u.without_vector)
        for slug, u in updates.items()
    }


def neighbours(rows: list[tuple[int, int, float, int]]) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {}
    for q, r, s, _rank in rows:
        out.setdefault(q, []).append((r, s))
    return out


def test_incremental_update_equals_full_build(app_env: str) -> None:
    url = app_env
    clear_vector_cache()
    clear_area_rows_cache()
    rng = np.random.default_rng(21)
    with session_scope(url) as session:
        world = seed_graph_world(session, n_alpha=40, n_beta=30)
        areas = {a.slug: a for a in session.scalars(select(ProductArea))}
        # Requests in both areas, and tight groups so clusters and duplicates are not trivial.
        both = [
            request(session, f"Shared {i}", [areas["alpha"], areas["beta"]]).id for i in range(4)
        ]
        for i, rid in enumerate(both):
            world.vectors[rid] = near(world.vectors[world.alpha_ids[10 + i]], rng, 0.2)
            put_vector(
                session, rid, world.vectors[rid], updated_at=datetime(2026, 3, 1, tzinfo=UTC)
            )
    run_areas(url, full_refresh=True)
    before = snapshot(url)

    # Nothing changed: nothing recomputed, nothing written.
    unchanged = run_areas(url, full_refresh=False)
    assert all(not u.recomputed for u in unchanged.values())
    assert snapshot(url) == before

    # A few vectors change: an alpha request moves next to another, a beta request moves into
    # alpha's neighbourhood (cross-area), a shared request moves; one request is merged and a
    # new one gets a vector.
    alpha, beta = world.alpha_ids, world.beta_ids
    moves = {
        alpha[3]: near(world.vectors[alpha[20]], rng, 0.05),
        beta[5]: near(world.vectors[alpha[7]], rng, 0.05),
        both[0]: unit(rng),
    }
    with session_scope(url) as session:
        for rid, v in moves.items():
            world.vectors[rid] = v
            put_vector(session, rid, v, updated_at=datetime.now(UTC))
        fresh = request(session, "Brand new", [areas["alpha"]]).id
        world.vectors[fresh] = near(world.vectors[alpha[30]], rng, 0.01)
        put_vector(session, fresh, world.vectors[fresh], updated_at=datetime.now(UTC))
        merge_requests(session, alpha[12], alpha[11], "http://app")

    with session_scope(url) as session:
        # The cache is refreshed from the changed rows only, and equals a plain load.
        cached, plain = cached_vectors(session), load_vectors(session)
        assert cached.ids == plain.ids and cached.updated_at == plain.updated_at
        assert np.array_equal(cached.matrix, plain.matrix)
        assert cached.skipped_other_models == plain.skipped_other_models
        assert cached_vectors(session) is cached  # unchanged fingerprint: the same set

    incremental = run_areas(url, full_refresh=False)
    after = snapshot(url)
    recomputed = set(incremental["alpha"].recomputed) | set(incremental["beta"].recomputed)
    with session_scope(url) as session:
        area_requests = set(session.scalars(select(RequestArea.request_id)))
    assert 0 < len(recomputed) < len(area_requests) / 2  # incremental, not a rebuild
    # Some stale lists were settled from their stored rows, without a search.
    assert sum(u.searched for u in incremental.values()) < sum(
        len(u.recomputed) for u in incremental.values()
    )

    # Requests whose own vector did not change but whose neighbours did got new rows.
    old_rows, new_rows = neighbours(before["rows"]), neighbours(after["rows"])
    touched = {q for q in new_rows if new_rows[q] != old_rows.get(q)}
    assert touched - set(moves) - {fresh}

    clear_vector_cache()
    full = run_areas(url, full_refresh=True)
    assert snapshot(url) == after
    assert derived(full) == derived(incremental)

    # Another writer rewrote some requests' rows (same rows, an older computed_at): their
    # summaries no longer match this process's copy, so their rows are read again.
    with session_scope(url) as session:
        session.execute(
            update(RequestRelation)
            .where(RequestRelation.request_id.in_(alpha[:8]))
            .values(computed_at=datetime(2026, 3, 2, tzinfo=UTC))
        )
        for rid in (alpha[15], beta[9]):
            put_vector(session, rid, unit(rng), updated_at=datetime.now(UTC))
    warm = run_areas(url, full_refresh=False)
    warm_after = snapshot(url)
    assert any(u.recomputed for u in warm.values())
    full = run_areas(url, full_refresh=True)
    assert snapshot(url) == warm_after
    assert derived(full) == derived(warm)

    # Again in a "fresh process" (no cached vectors or rows): the same as a full build.
    with session_scope(url) as session:
        for rid in (alpha[25], beta[2]):
            put_vector(session, rid, unit(rng), updated_at=datetime.now(UTC))
    clear_vector_cache()
    clear_area_rows_cache()
    cold = run_areas(url, full_refresh=False)
    cold_after = snapshot(url)
    assert any(u.recomputed for u in cold.values())
    full = run_areas(url, full_refresh=True)
    assert snapshot(url) == cold_after
    assert derived(full) == derived(cold)
    assert any(u.clusters for u in full.values()) and any(u.duplicate_count for u in full.values())
