"""`route_feedback_job` reports what it writes: the vectors it stores are materializations of
the `request_embeddings` partitions of their areas, and `feedback_entries` / `feature_requests`
are observed after the run — on SQLite and PostgreSQL (app database and instance)."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import select

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.assets.request_embeddings import request_embeddings
from gtm_feedback_dagster.assets.sources import feature_requests, feedback_entries
from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job, route_run_config
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request
from tests.routing.handmade import AREAS, add_entry, entry, seed_requests

PDF_TEXT = "They need to export their dashboards to PDF so they can share them in board meetings."
NEW_TEXT = "Sales reps want a mobile app that keeps working offline on planes."

KEY = request_embeddings.key


def _route(instance: dg.DagsterInstance, url: str, ids: list[int]) -> dg.ExecuteInProcessResult:
    result = route_feedback_job.execute_in_process(
        run_config=route_run_config(ids),
        instance=instance,
        resources={
            "store": StoreResource(database_url=url),
            "embedder": EmbedderResource(),
            "vector_index": VectorIndexResource(),
            "llm": LLMResource(),
            "slack": SlackResource(),
        },
    )
    assert result.success
    return result


def _latest(instance: dg.DagsterInstance, area: str) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=KEY, asset_partitions=[area]), limit=1
    ).records
    return records[0] if records else None


def _observation_runs(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[str]:
    return [r.run_id for r in instance.fetch_observations(key, limit=100).records]


def test_route_run_reports_its_vectors_and_tables(
    dagster_env, local_embedder: LocalEmbedder
) -> None:  # type: ignore[no-untyped-def]
    instance, url = dagster_env
    seeded = seed_requests(url)
    all_areas = sorted(name.lower().replace(" ", "-") for name, _ in AREAS)

    # The seeded requests have no vectors yet: the first run stores them (and attaches the
    # entry), so every area's partition is materialized by it, with the area's request ids.
    first = _route(instance, url, [add_entry(url, PDF_TEXT, seeded.alice)])
    assert entry(url, 1).match_type == "auto"
    for area in all_areas:
        record = _latest(instance, area)
        assert record is not None and record.run_id == first.run_id, area
    dashboards = _latest(instance, "dashboards")
    assert dashboards is not None and dashboards.asset_materialization is not None
    meta = {k: v.value for k, v in dashboards.asset_materialization.metadata.items()}
    assert meta["embedded"] == 2 and meta["dagster/partition_row_count"] == 2
    assert meta["written_by"] == "route_feedback_job"
    assert instance.get_materialized_partitions(KEY) == set(all_areas)
    # Both tables it wrote were observed in the run.
    assert _observation_runs(instance, feedback_entries.key) == [first.run_id]
    assert _observation_runs(instance, feature_requests.key) == [first.run_id]

    # A new need: routing creates a request in area X; only X's partition gets a new event.
    new_id = add_entry(url, NEW_TEXT, seeded.bob)
    second = _route(instance, url, [new_id])
    created = entry(url, new_id)
    assert created.match_type == "new_request" and created.request_id is not None
    with session_scope(url) as session:
        request = session.scalars(select(Request).where(Request.id == created.request_id)).one()
        areas = sorted(a.slug for a in request.areas)
    assert areas, "a created request has an area"
    for area in all_areas:
        record = _latest(instance, area)
        assert record is not None
        assert record.run_id == (second.run_id if area in areas else first.run_id), area
    latest = instance.get_latest_materialization_event(KEY)
    assert latest is not None and latest.run_id == second.run_id
    assert latest.asset_materialization is not None
    assert latest.asset_materialization.partition in areas
    meta = {k: v.value for k, v in latest.asset_materialization.metadata.items()}
    assert meta["request_ids"] == [created.request_id] and meta["embedded"] == 1
    assert _observation_runs(instance, feature_requests.key) == [second.run_id, first.run_id]

    # A rerun of the same batch writes nothing: no new materialization, no new observation.
    _route(instance, url, [new_id])
    latest = instance.get_latest_materialization_event(KEY)
    assert latest is not None and latest.run_id == second.run_id
    assert _observation_runs(instance, feedback_entries.key) == [second.run_id, first.run_id]
    assert _observation_runs(instance, feature_requests.key) == [second.run_id, first.run_id]
