"""`stored_duplicate_pairs` (ordered and limited in SQL) returns exactly the first `limit` of
`duplicate_pairs` over every qualifying stored row: ties, pairs stored in both directions with
different similarities, merged requests and the area filter included."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select

from gtm_feedback_dagster.analytics.graph_duplicates import stored_duplicate_pairs
from gtm_feedback_dagster.core.request_graph import duplicate_pairs
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import ProductArea, Request, RequestArea, RequestRelation
from tests.analytics_seed import seed_graph_world, set_status


def test_stored_duplicate_pairs_equal_the_python_ranking(app_env: str) -> None:
    rng = np.random.default_rng(4)
    with session_scope(app_env) as session:
        world = seed_graph_world(session, n_alpha=25, n_beta=20)
        ids = world.alpha_ids + world.beta_ids
        at = datetime(2026, 3, 1, tzinfo=UTC)
        seen: set[tuple[int, int]] = set()
        for _ in range(400):
            a, b = (int(x) for x in rng.choice(ids, size=2, replace=False))
            if (a, b) in seen:
                continue
            seen.add((a, b))
            # Coarse similarities: many ties, and a pair's two directions often differ.
            sim = float(np.round(rng.uniform(0.5, 1.0), 1))
            session.add(RequestRelation(request_id=a, related_id=b, similarity=sim, computed_at=at))
        set_status(session, world.alpha_ids[3], "merged")
        session.flush()
        areas = {a.slug: a.id for a in session.scalars(select(ProductArea))}
        merged = set(session.scalars(select(Request.id).where(Request.status == "merged")))
        rows = [
            (q, r, s)
            for q, r, s in session.execute(
                select(
                    RequestRelation.request_id,
                    RequestRelation.related_id,
                    RequestRelation.similarity,
                )
            ).tuples()
            if q not in merged and r not in merged
        ]
        in_area = {
            slug: set(
                session.scalars(select(RequestArea.request_id).where(RequestArea.area_id == aid))
            )
            for slug, aid in areas.items()
        }
        for threshold in (0.6, 0.8, 1.0):
            for limit in (1, 7, 50, 1000):
                expected = duplicate_pairs(rows, threshold)[:limit]
                assert stored_duplicate_pairs(session, threshold, limit=limit) == expected
                for slug, aid in areas.items():
                    touching = [e for e in rows if e[0] in in_area[slug] or e[1] in in_area[slug]]
                    assert (
                        stored_duplicate_pairs(session, threshold, area_id=aid, limit=limit)
                        == duplicate_pairs(touching, threshold)[:limit]
                    )
        assert len(stored_duplicate_pairs(session, 0.6, limit=1000)) > 50
