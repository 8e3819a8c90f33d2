"""`related_request_graph` materialized on a real app database (SQLite, and once PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import numpy as np
import pytest
from sqlalchemy import select

from gtm_feedback_dagster.assets.related_request_graph import (
    DUPLICATES_CHECK,
    related_request_graph,
)
from gtm_feedback_dagster.requests.merge import merge_requests
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, RequestRelation
from tests.analytics_seed import GraphWorld, near, put_vector, seed_graph_world

K = 4
FLOOR = -1.0  # keep every neighbour, so rows are exactly the top k


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """In-memory instance: a fresh SQLite-backed one costs seconds per test."""
    inst = dg.DagsterInstance.ephemeral()
    inst.add_dynamic_partitions("product_area", ["alpha", "beta"])
    return inst


def run_graph(
    instance: dg.DagsterInstance, url: str, area: str = "alpha", **config: Any
) -> dg.ExecuteInJobResult:
    result = dg.materialize(
        [related_request_graph],
        partition_key=area,
        resources={"store": StoreResource(database_url=url)},
        instance=instance,
        run_config={
            "ops": {
                "related_request_graph": {
                    "config": {
                        "k": K,
                        "min_similarity": FLOOR,
                        "related_threshold": 0.5,
                        "duplicate_threshold": 0.95,
                        "cluster_threshold": 0.9,
                        **config,
                    }
                }
            }
        },
    )
    assert result.success
    return result


def stored_rows(url: str) -> dict[int, list[tuple[int, float, datetime]]]:
    with session_scope(url) as session:
        rows = session.execute(
            select(
                RequestRelation.request_id,
                RequestRelation.related_id,
                RequestRelation.similarity,
                RequestRelation.computed_at,
            ).order_by(RequestRelation.request_id, RequestRelation.rank)
        ).all()
    out: dict[int, list[tuple[int, float, datetime]]] = {}
    for r in rows:
        out.setdefault(r.request_id, []).append((r.related_id, r.similarity, r.computed_at))
    return out


def expected_neighbours(world: GraphWorld, queries: list[int], exclude: set[int] = frozenset()):
    ids = sorted(i for i in world.vectors if i not in exclude)
    matrix = np.stack([world.vectors[i] for i in ids]).astype(np.float64)
    out = {}
    for q in queries:
        sims = matrix @ world.vectors[q].astype(np.float64)
        order = sorted((j for j, i in enumerate(ids) if i != q), key=lambda j: (-sims[j], ids[j]))
        out[q] = [(ids[j], sims[j]) for j in order[:K]]
    return out


def metadata(result: dg.ExecuteInJobResult) -> dict[str, Any]:
    mats = result.asset_materializations_for_node("related_request_graph")
    return {k: v.value for k, v in mats[-1].metadata.items()}


def test_graph_rows_related_links_duplicates_and_check(app_env: str, instance) -> None:
    url = app_env
    with session_scope(url) as session:
        world = seed_graph_world(session)
    expected = expected_neighbours(world, world.alpha_ids)
    # A hand-set (or imported) link on a request with no neighbour above the threshold stays.
    lonely = next(q for q in world.alpha_ids if expected[q][0][1] < 0.5)
    with session_scope(url) as session:
        session.get(Request, lonely).related_request_id = world.beta_ids[-1]
    result = run_graph(instance, url)

    rows = stored_rows(url)
    assert set(rows) == set(world.alpha_ids)  # only the area's requests are queries
    cross_area = 0
    for q in world.alpha_ids:
        assert [r for r, _, _ in rows[q]] == [r for r, _ in expected[q]]
        np.testing.assert_allclose(
            [s for _, s, _ in rows[q]], [s for _, s in expected[q]], atol=2e-6
        )
        cross_area += sum(1 for r, _, _ in rows[q] if r in world.beta_ids)
    assert cross_area > 0
    # The planted cross-area neighbour is found.
    assert rows[world.alpha_ids[1]][0][0] == world.beta_ids[0]

    with session_scope(url) as session:
        related = dict(session.execute(select(Request.id, Request.related_request_id)).all())
    a, b = world.duplicate_pair
    assert related[a] == b and related[b] == a
    for q in world.alpha_ids:
        best_id, best_sim = expected[q][0]
        kept = world.beta_ids[-1] if q == lonely else None
        assert related[q] == (best_id if best_sim >= 0.5 else kept)
    assert all(related[q] is None for q in world.beta_ids)  # beta not materialized yet

    meta = metadata(result)
    assert meta["edges"] == K * len(world.alpha_ids)
    assert meta["duplicate_pairs"] == 1
    assert meta["recomputed_requests"] == len(world.alpha_ids)
    assert meta["clusters"] == 1 and meta["cluster_sizes"] == [2]
    assert f"requests merge {b} {a}" in meta["duplicates"]
    table = result.asset_materializations_for_node("related_request_graph")[-1].metadata[
        "duplicates_table"
    ]
    assert isinstance(table, dg.TableMetadataValue) and len(table.records) == 1
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == DUPLICATES_CHECK
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_incremental_run_recomputes_only_affected_requests(app_env: str, instance) -> None:
    url = app_env
    with session_scope(url) as session:
        world = seed_graph_world(session, n_alpha=20, n_beta=20)
    run_graph(instance, url)
    before = stored_rows(url)

    # Nothing changed: nothing recomputed, rows untouched.
    meta = metadata(run_graph(instance, url))
    assert meta["recomputed_requests"] == 0
    assert stored_rows(url) == before

    # One alpha request changes (it moves next to another alpha request).
    moved, target = world.alpha_ids[5], world.alpha_ids[6]
    rng = np.random.default_rng(99)
    world.vectors[moved] = near(world.vectors[target], rng, 0.05)
    with session_scope(url) as session:
        put_vector(session, moved, world.vectors[moved], updated_at=datetime.now(UTC))
    meta = metadata(run_graph(instance, url))
    after = stored_rows(url)
    changed = {q for q in world.alpha_ids if after[q] != before[q]}
    untouched = [q for q in world.alpha_ids if after[q] == before[q]]
    assert moved in changed and target in changed
    assert 0 < meta["recomputed_requests"] < len(world.alpha_ids)
    assert len(untouched) == len(world.alpha_ids) - meta["recomputed_requests"]
    # Untouched rows keep their computed_at; the result equals a full rebuild.
    expected = expected_neighbours(world, world.alpha_ids)
    for q in world.alpha_ids:
        assert [r for r, _, _ in after[q]] == [r for r, _ in expected[q]], q

    full = metadata(run_graph(instance, url, full_refresh=True))
    assert full["recomputed_requests"] == len(world.alpha_ids) and full["full_refresh"]
    rebuilt = stored_rows(url)
    assert {q: [r for r, _, _ in v] for q, v in rebuilt.items()} == {
        q: [r for r, _, _ in v] for q, v in after.items()
    }


def test_merged_request_rows_are_dropped_and_neighbours_recomputed(app_env: str, instance) -> None:
    url = app_env
    with session_scope(url) as session:
        world = seed_graph_world(session)
    run_graph(instance, url)
    keep, dup = world.duplicate_pair
    with session_scope(url) as session:
        merge_requests(session, dup, keep, "http://app")
    meta = metadata(run_graph(instance, url))
    rows = stored_rows(url)
    assert dup not in rows
    assert all(dup not in [r for r, _, _ in v] for v in rows.values())
    expected = expected_neighbours(world, [q for q in world.alpha_ids if q != dup], {dup})
    for q, neighbours in expected.items():
        assert [r for r, _, _ in rows[q]] == [r for r, _ in neighbours]
    assert meta["duplicate_pairs"] == 0
    assert meta["requests"] == len(world.alpha_ids) - 1


def test_changing_k_rebuilds(app_env: str, instance) -> None:
    url = app_env
    with session_scope(url) as session:
        world = seed_graph_world(session)
    run_graph(instance, url)
    meta = metadata(run_graph(instance, url, k=2))
    assert meta["full_refresh"] and meta["recomputed_requests"] == len(world.alpha_ids)
    assert all(len(v) == 2 for v in stored_rows(url).values())


def test_unknown_area_fails_without_retry(app_env: str, instance) -> None:
    instance.add_dynamic_partitions("product_area", ["ghost"])
    result = dg.materialize(
        [related_request_graph],
        partition_key="ghost",
        resources={"store": StoreResource(database_url=app_env)},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert "not in the app database" in str(result.get_step_failure_events()[0].event_specific_data)


@pytest.mark.postgres
def test_graph_on_postgres(pg_url: str, instance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with session_scope(pg_url) as session:
        world = seed_graph_world(session)
    run_graph(instance, pg_url)
    run_graph(instance, pg_url, area="beta")
    rows = stored_rows(pg_url)
    assert set(rows) == set(world.alpha_ids) | set(world.beta_ids)
    expected = expected_neighbours(world, world.alpha_ids + world.beta_ids)
    for q, neighbours in expected.items():
        assert [r for r, _, _ in rows[q]] == [r for r, _ in neighbours]
    # Re-running is idempotent (no unique-key clash on PostgreSQL's upsert path).
    run_graph(instance, pg_url, full_refresh=True)
    assert {q: [r for r, _, _ in v] for q, v in stored_rows(pg_url).items()} == {
        q: [r for r, _, _ in v] for q, v in rows.items()
    }
    assert datetime.now(UTC) - max(c for v in rows.values() for _, _, c in v) < timedelta(minutes=5)


def test_duplicates_check_is_recorded_per_area(app_env: str, instance) -> None:
    """One area's failing check stays visible after another area passes (partitioned check)."""
    url = app_env
    with session_scope(url) as session:
        seed_graph_world(session)  # alpha holds a planted duplicate pair, beta none
    run_graph(instance, url, "alpha")
    run_graph(instance, url, "beta")
    key = dg.AssetCheckKey(dg.AssetKey("related_request_graph"), DUPLICATES_CHECK)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
    latest: dict[str | None, bool] = {}
    for record in sorted(records, key=lambda r: r.id):
        evaluation = record.event.dagster_event.event_specific_data
        latest[record.partition] = evaluation.passed
    assert latest == {"alpha": False, "beta": True}
