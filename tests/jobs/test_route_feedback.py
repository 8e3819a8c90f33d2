"""`route_feedback_job`: the Dagster shell around routing — on SQLite and PostgreSQL (app
database and instance), with retries, permanent failures, the LLM path and the remote providers
(OpenAI embeddings + Upstash Vector) through their real clients and local stand-ins."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job, route_run_config
from gtm_feedback_dagster.resources.ai import EmbedderResource, LLMResource, VectorIndexResource
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.new_feedback import FeedbackCursor, new_feedback_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, RequestVector
from tests.routing.handmade import add_entry, counts, entry, seed_requests
from tests.standins.openai_standin import OpenAIStandin
from tests.standins.upstash_standin import UpstashStandin

PDF_TEXT = "They need to export their dashboards to PDF so they can share them in board meetings."
NEW_TEXT = "Sales reps want a mobile app that keeps working offline on planes."


def _resources(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "store": StoreResource(database_url=url),
        "embedder": EmbedderResource(),
        "vector_index": VectorIndexResource(),
        "llm": LLMResource(),
        "slack": SlackResource(),  # outbox-only: no token
        **overrides,
    }


def _run(instance: dg.DagsterInstance, ids: list[int], resources: dict[str, Any]):  # type: ignore[no-untyped-def]
    return route_feedback_job.execute_in_process(
        run_config=route_run_config(ids),
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = [
        e
        for e in result.all_node_events
        if e.event_type_value == "STEP_OUTPUT" and e.node_name == "route_feedback_batch"
    ]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}  # type: ignore[union-attr]


def test_sensor_and_job_route_pending_feedback(
    dagster_env,
    local_embedder: LocalEmbedder,  # type: ignore[no-untyped-def]
) -> None:
    instance, url = dagster_env
    seeded = seed_requests(url)
    ids = [add_entry(url, PDF_TEXT, seeded.alice), add_entry(url, NEW_TEXT, seeded.bob)]
    context = dg.build_sensor_context(
        instance=instance,
        cursor=FeedbackCursor(0, 9e12).serialize(),
        resources={"store": StoreResource(database_url=url)},
    )
    tick = new_feedback_sensor(context)
    assert isinstance(tick, dg.SensorResult)
    (request,) = tick.run_requests
    result = route_feedback_job.execute_in_process(
        run_config=request.run_config, instance=instance, resources=_resources(url)
    )
    assert result.success
    meta = _metadata(result)
    assert meta["requested"] == 2
    assert meta["tier_attach"] + meta["tier_ask"] + meta["tier_new"] == 2
    assert meta["tier_failed"] == 0
    assert meta["embedding_model"] == "local:all-MiniLM-L6-v2"
    assert meta["requests_embedded"] == 5  # the seeded requests had no vectors yet
    assert set(meta["timings_seconds"]) >= {"embed_batch", "search", "decide_apply", "total"}
    summary = result.output_for_node("route_feedback_batch")
    assert sorted(e["id"] for e in summary["entries"]) == sorted(ids)
    assert counts(url)["pending"] == 0
    assert entry(url, ids[1]).match_type == "new_request"
    # A rerun of the same batch (e.g. a run retry after a crash) changes nothing.
    before = counts(url)
    again = route_feedback_job.execute_in_process(
        run_config=request.run_config, instance=instance, resources=_resources(url)
    )
    assert again.success and _metadata(again)["tier_skipped"] == 0
    assert _metadata(again)["requested"] == 2 and counts(url) == before


def test_transient_failures_retry_the_op(sqlite_url: str, openai_standin: OpenAIStandin) -> None:
    seeded = seed_requests(sqlite_url)
    ids = [add_entry(sqlite_url, PDF_TEXT, seeded.alice)]
    # The client retries 3 times itself; the 4th failure reaches the op, whose RetryPolicy
    # runs it again.
    openai_standin.fail_next(
        status=503,
        body={"error": {"message": "overloaded", "type": "server_error"}},
        headers={"retry-after-ms": "1"},
        times=4,
        path="/v1/embeddings",
    )
    embedder = EmbedderResource(
        provider="openai", api_key="sk-test", base_url=openai_standin.base_url
    )
    with dg.instance_for_test() as instance:
        result = _run(instance, ids, _resources(sqlite_url, embedder=embedder))
    assert result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1
    routed = entry(sqlite_url, ids[0])
    assert routed.status != "pending"
    # The first try died while embedding, before any entry was tried: only the retry counts.
    assert routed.attempts == 1


def test_a_permanent_failure_fails_the_run_without_retries_and_keeps_entries(
    sqlite_url: str, openai_standin: OpenAIStandin
) -> None:
    seeded = seed_requests(sqlite_url)
    ids = [add_entry(sqlite_url, PDF_TEXT, seeded.alice)]
    openai_standin.api_key = "sk-the-right-one"
    embedder = EmbedderResource(
        provider="openai", api_key="sk-wrong-secret-9876", base_url=openai_standin.base_url
    )
    with dg.instance_for_test() as instance:
        result = _run(instance, ids, _resources(sqlite_url, embedder=embedder))
    assert not result.success
    assert len(openai_standin.embedding_requests) == 1  # no client retries, no op retries
    failure = result.failure_data_for_node("route_feedback_batch")
    assert failure is not None
    assert "rejected the API key" in str(failure.error)
    assert "sk-wrong-secret-9876" not in str(failure.error)
    left = entry(sqlite_url, ids[0])
    # The run failed before deciding anything: not blamed on the entry; the sweep retries it.
    assert left.status == "pending" and left.attempts == 0


def test_llm_judges_and_drafts(
    sqlite_url: str, openai_standin: OpenAIStandin, local_embedder: LocalEmbedder
) -> None:
    seeded = seed_requests(sqlite_url)
    pdf = seeded.request_ids["Export dashboards to PDF"]
    ids = [
        add_entry(sqlite_url, PDF_TEXT, seeded.alice),
        add_entry(sqlite_url, NEW_TEXT, seeded.bob),
    ]

    def model(body: dict) -> dict:
        system = body["messages"][0]["content"]
        data = json.loads(
            body["messages"][1]["content"].removeprefix("<data>").removesuffix("</data>")
        )
        if system.startswith("You match"):
            if "PDF" in data["pain"]:
                return {"request_id": pdf, "confidence": 0.96, "reason": "Same PDF export."}
            return {"request_id": None, "confidence": 0.1, "reason": "Nothing similar."}
        return {
            "title": "Offline mode for the mobile app",
            "description": "Field reps lose access to the app without a signal.",
            "area_slugs": ["dashboards"],
        }

    openai_standin.chat_handler = model
    llm = LLMResource(model="gpt-4o-mini", api_key="sk-test", base_url=openai_standin.base_url)
    with dg.instance_for_test() as instance:
        result = _run(instance, ids, _resources(sqlite_url, llm=llm))
    assert result.success
    meta = _metadata(result)
    assert meta["methods"] == {"llm": 2}
    assert meta["llm_tokens"]["calls"] == 3 and meta["llm_tokens"]["prompt_tokens"] > 0
    attached = entry(sqlite_url, ids[0])
    assert (attached.request_id, attached.confidence) == (pdf, 0.96)
    assert attached.reason == "Same PDF export."
    created = entry(sqlite_url, ids[1])
    with session_scope(sqlite_url) as s:
        request = s.get(Request, created.request_id)
        assert request is not None
        assert request.title == "Offline mode for the mobile app"
        assert request.meta["drafted_by"] == "llm"
        assert [a.slug for a in request.areas] == ["dashboards"]


def test_openai_embeddings_and_upstash_index(
    sqlite_url: str, openai_standin: OpenAIStandin, upstash_standin: UpstashStandin
) -> None:
    seeded = seed_requests(sqlite_url)
    ids = [
        add_entry(sqlite_url, "Export dashboards to PDF for the board", seeded.alice),
        add_entry(sqlite_url, NEW_TEXT, seeded.bob),
        add_entry(sqlite_url, NEW_TEXT + " Again.", seeded.alice),
    ]
    resources = _resources(
        sqlite_url,
        embedder=EmbedderResource(
            provider="openai", api_key="sk-test", base_url=openai_standin.base_url
        ),
        vector_index=VectorIndexResource(provider="upstash", url=upstash_standin.url, token="t"),
    )
    with dg.instance_for_test() as instance:
        result = _run(instance, ids, resources)
    assert result.success
    meta = _metadata(result)
    assert meta["embedding_model"] == "openai:text-embedding-3-small@384"
    assert meta["embedding_tokens"] > 0
    assert entry(sqlite_url, ids[0]).request_id == seeded.request_ids["Export dashboards to PDF"]
    created = entry(sqlite_url, ids[1]).request_id
    assert entry(sqlite_url, ids[2]).request_id == created  # matched the new request in-run
    stored = upstash_standin.stored()
    assert str(created) in stored and len(stored) == 6
    assert stored[str(created)].metadata["status"] == "open"  # type: ignore[index]
    # One embeddings call for the five requests, one for the batch, one for the new request.
    assert len(openai_standin.embedding_requests) == 3
    batch_call = openai_standin.embedding_requests[1].json
    assert len(batch_call["input"]) == 3 and batch_call["dimensions"] == 384
    with session_scope(sqlite_url) as s:
        assert set(s.scalars(select(RequestVector.model_id))) == {
            "openai:text-embedding-3-small@384"
        }


@pytest.mark.parametrize("provider", ["local", "openai", "upstash"])
def test_resources_are_bound_from_settings(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from gtm_feedback_dagster.config import load_settings
    from gtm_feedback_dagster.resources.ai import resources_for

    if provider == "openai":
        monkeypatch.setenv("GTM_FEEDBACK_EMBEDDER", "openai")
        monkeypatch.setenv("GTM_FEEDBACK_LLM_MODEL", "gpt-4o-mini")
    if provider == "upstash":
        monkeypatch.setenv("GTM_FEEDBACK_VECTOR_INDEX", "upstash")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-never-in-config")
    bound = resources_for(load_settings())
    dumped = repr({k: v.__dict__ for k, v in bound.items()})
    assert "sk-secret-never-in-config" not in dumped
    if provider == "openai":
        assert bound["embedder"].provider == "openai"
        assert isinstance(bound["embedder"].api_key, dg.EnvVar)  # type: ignore[union-attr]
        assert bound["llm"].model == "gpt-4o-mini"
    elif provider == "upstash":
        assert bound["vector_index"].provider == "upstash"
    else:
        assert bound["embedder"].provider == "local" and bound["llm"].get() is None


def test_routing_parts_are_in_the_code_location() -> None:
    from gtm_feedback_dagster.definitions import defs

    job = defs.resolve_job_def("route_feedback_job")
    assert job.executor_def is dg.in_process_executor
    assert defs.resolve_sensor_def("new_feedback_sensor").job_name == "route_feedback_job"
    schedule = defs.resolve_schedule_def("embedding_resync_schedule")
    assert schedule.job_name == "request_embeddings_job"
    spec = next(
        s for s in defs.resolve_all_asset_specs() if s.key.to_user_string() == "request_embeddings"
    )
    assert spec.partitions_def is not None and spec.owners == ["team:gtm-feedback"]
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert "open_requests_have_current_vectors" in checks


def test_an_unavailable_judge_is_in_the_event_log_and_the_entries_wait(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    openai_standin: OpenAIStandin,
) -> None:
    """Issue 16: an LLM 429 after the client's retries is a warning in the Dagster event log (not
    only the compute log); the entries stay pending (no calibrated fallback decides them)."""
    from tests.standins.openai_standin import openai_error

    seeded = seed_requests(sqlite_url)
    ids = [
        add_entry(sqlite_url, PDF_TEXT, seeded.alice),
        add_entry(sqlite_url, NEW_TEXT, seeded.bob),
    ]
    openai_standin.fail_next(
        429,
        openai_error("Rate limit reached", 429, "requests"),
        path="/v1/chat/completions",
        times=None,
    )
    llm = LLMResource(model="gpt-4o-mini", api_key="sk-test", base_url=openai_standin.base_url)
    with dg.instance_for_test() as instance:
        result = _run(instance, ids, _resources(sqlite_url, llm=llm))
        assert result.success
        warnings = [
            record.dagster_event.message if record.dagster_event else record.user_message
            for record in instance.all_logs(result.run_id)
            if record.level == 30  # logging.WARNING
        ]
    assert any("LLM judge unavailable" in (w or "") and "429" in (w or "") for w in warnings), (
        warnings
    )
    meta = _metadata(result)
    assert meta["tier_waiting"] == 2 and meta["tier_attach"] == 0
    assert meta["llm"]["unavailable"] and meta["llm"]["budget_hit"] is False
    assert {entry(sqlite_url, i).status for i in ids} == {"pending"}
