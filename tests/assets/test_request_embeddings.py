"""`request_embeddings`: incremental per area, removal of merged/deleted requests, the check,
the remote (OpenAI + Upstash) path and the weekly re-sync schedule."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import numpy as np
import pytest
from sqlalchemy import delete, select

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.assets.request_embeddings import request_embeddings
from gtm_feedback_dagster.resources.ai import EmbedderResource, VectorIndexResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.schedules.embedding_resync import embedding_resync_schedule
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, RequestVector
from tests.routing.handmade import seed_requests
from tests.standins.openai_standin import OpenAIStandin
from tests.standins.upstash_standin import UpstashStandin

AREAS = ["access-management", "dashboards", "integrations"]


@pytest.fixture
def instance():  # type: ignore[no-untyped-def]
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("product_area", AREAS)
        yield inst


class EditingEmbedder(EmbedderResource):
    """The local embedder, plus a colleague editing a request's title while the area is being
    embedded (what the check is there to catch)."""

    database_url: str
    edited_request_id: int

    def get(self) -> Embedder:
        inner = super().get()
        url, request_id = self.database_url, self.edited_request_id

        class Editing:
            model_id, dim, usage = inner.model_id, inner.dim, inner.usage

            def embed(self, texts):  # type: ignore[no-untyped-def]
                vectors = inner.embed(texts)
                with session_scope(url) as s:
                    request = s.get(Request, request_id)
                    assert request is not None
                    request.title += " (edited)"
                return vectors

        return Editing()  # type: ignore[return-value]


def _materialize(
    instance: dg.DagsterInstance,
    resources: Mapping[str, Any],
    area: str,
    full: bool = False,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [request_embeddings],
        partition_key=area,
        instance=instance,
        resources=resources,
        run_config={"ops": {"request_embeddings": {"config": {"full_resync": full}}}},
    )


def _meta(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node("request_embeddings")
    return {k: v.value for k, v in mat.metadata.items()}


def _check_passed(result: dg.ExecuteInProcessResult) -> bool:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed


def test_incremental_embedding_and_the_check(
    db_url: str, instance: dg.DagsterInstance, local_embedder: LocalEmbedder
) -> None:
    seeded = seed_requests(db_url)
    resources = {
        "store": StoreResource(database_url=db_url),
        "embedder": EmbedderResource(),
        "vector_index": VectorIndexResource(),
    }
    first = _materialize(instance, resources, "dashboards")
    meta = _meta(first)
    assert (meta["embedded"], meta["unchanged"], meta["removed"]) == (2, 0, 0)
    assert meta["model"] == "local:all-MiniLM-L6-v2"
    assert _check_passed(first)

    again = _meta(_materialize(instance, resources, "dashboards"))
    assert (again["embedded"], again["unchanged"]) == (0, 2)

    pdf = seeded.request_ids["Export dashboards to PDF"]
    with session_scope(db_url) as s:
        request = s.get(Request, pdf)
        assert request is not None
        request.title = "Export dashboards to PDF and PNG"
        old = s.get(RequestVector, pdf)
        assert old is not None
        old_hash = old.content_hash
    changed = _materialize(instance, resources, "dashboards")
    assert (_meta(changed)["embedded"], _meta(changed)["unchanged"]) == (1, 1)
    assert _check_passed(changed)
    with session_scope(db_url) as s:
        row = s.get(RequestVector, pdf)
        assert row is not None and row.content_hash != old_hash

    # Edited while being embedded: the stored vector is already stale, and the check says so.
    with session_scope(db_url) as s:
        request = s.get(Request, pdf)
        assert request is not None
        request.description += " Also PNG."
    editing = {
        **resources,
        "embedder": EditingEmbedder(database_url=db_url, edited_request_id=pdf),
    }
    racing = _materialize(instance, editing, "dashboards")
    assert _meta(racing)["embedded"] == 1
    (evaluation,) = racing.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["request_ids"].value == [pdf]
    assert _check_passed(_materialize(instance, resources, "dashboards"))  # next run repairs it

    # A merged request's vector goes.
    reports = seeded.request_ids["Scheduled email delivery of reports"]
    with session_scope(db_url) as s:
        dup = s.get(Request, reports)
        assert dup is not None
        dup.status, dup.merged_into_id = "merged", pdf
    merged = _meta(_materialize(instance, resources, "dashboards"))
    assert (merged["embedded"], merged["unchanged"], merged["removed"]) == (0, 1, 1)
    with session_scope(db_url) as s:
        assert s.get(RequestVector, reports) is None

    # Another area is independent; a full re-sync re-embeds everything of the area.
    assert _meta(_materialize(instance, resources, "integrations"))["embedded"] == 1
    assert _meta(_materialize(instance, resources, "integrations", full=True))["embedded"] == 1


def test_changing_the_model_re_embeds(
    sqlite_url: str, instance: dg.DagsterInstance, openai_standin: OpenAIStandin
) -> None:
    seed_requests(sqlite_url)
    store = StoreResource(database_url=sqlite_url)
    small = EmbedderResource(provider="openai", api_key="sk-test", base_url=openai_standin.base_url)
    other = EmbedderResource(
        provider="openai",
        api_key="sk-test",
        base_url=openai_standin.base_url,
        model="text-embedding-3-large",
    )
    index = VectorIndexResource()
    base = {"store": store, "vector_index": index}
    assert (
        _meta(_materialize(instance, {**base, "embedder": small}, "access-management"))["embedded"]
        == 2
    )
    assert (
        _meta(_materialize(instance, {**base, "embedder": small}, "access-management"))["embedded"]
        == 0
    )
    switched = _meta(_materialize(instance, {**base, "embedder": other}, "access-management"))
    assert switched["embedded"] == 2
    assert switched["model"] == "openai:text-embedding-3-large@384"
    with session_scope(sqlite_url) as s:
        assert set(s.scalars(select(RequestVector.model_id))) == {
            "openai:text-embedding-3-large@384"
        }


def test_openai_and_upstash_path(
    sqlite_url: str,
    instance: dg.DagsterInstance,
    openai_standin: OpenAIStandin,
    upstash_standin: UpstashStandin,
) -> None:
    seeded = seed_requests(sqlite_url)
    resources = {
        "store": StoreResource(database_url=sqlite_url),
        "embedder": EmbedderResource(
            provider="openai", api_key="sk-test", base_url=openai_standin.base_url
        ),
        "vector_index": VectorIndexResource(
            provider="upstash", url=upstash_standin.url, token="up-token"
        ),
    }
    meta = _meta(_materialize(instance, resources, "access-management"))
    assert meta["embedded"] == 2 and meta["embedding_tokens"] > 0
    assert meta["index"] == "upstash"
    stored = upstash_standin.stored()
    sso = seeded.request_ids["SAML single sign-on with Okta and Azure AD"]
    allow = seeded.request_ids["IP allowlisting"]
    assert set(stored) == {str(sso), str(allow)}
    assert stored[str(allow)].metadata == {
        "title": "IP allowlisting",
        "slug": "ip-allowlisting",
        "status": "open",
        "areas": ["access-management"],
    }
    # The same vector the table holds, sent as 384 floats.
    expected = OpenAIStandin.embedding_for(
        "IP allowlisting\n\nRestrict access to the workspace to approved IP address ranges.", 384
    )
    assert np.allclose(stored[str(allow)].vector, expected, atol=1e-6)

    # Merged (table row already gone, as store.merge does) and deleted requests leave the index.
    with session_scope(sqlite_url) as s:
        dup = s.get(Request, allow)
        assert dup is not None
        dup.status, dup.merged_into_id = "merged", seeded.request_ids["Export dashboards to PDF"]
        s.execute(delete(RequestVector).where(RequestVector.request_id == allow))
    _materialize(instance, resources, "access-management")
    assert set(upstash_standin.stored()) == {str(sso)}

    with session_scope(sqlite_url) as s:
        area, _ = repo.create_area(s, "Access Management")
        late = repo.create_request(s, "Audit log of sign-ins", "Who signed in when.", [area], None)
    _materialize(instance, resources, "access-management")
    assert str(late.id) in upstash_standin.stored()
    with session_scope(sqlite_url) as s:
        s.execute(delete(Request).where(Request.id == sso))
    full = _meta(_materialize(instance, resources, "access-management", full=True))
    assert full["embedded"] == 1 and full["remote_deleted"] >= 2
    assert set(upstash_standin.stored()) == {str(late.id)}


def test_a_permanent_embedding_error_fails_without_retries(
    sqlite_url: str, instance: dg.DagsterInstance, openai_standin: OpenAIStandin
) -> None:
    seed_requests(sqlite_url)
    openai_standin.api_key = "sk-right"
    resources = {
        "store": StoreResource(database_url=sqlite_url),
        "embedder": EmbedderResource(
            provider="openai", api_key="sk-wrong-key-1234", base_url=openai_standin.base_url
        ),
        "vector_index": VectorIndexResource(),
    }
    result = dg.materialize(
        [request_embeddings],
        partition_key="dashboards",
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    assert len(openai_standin.embedding_requests) == 1  # no op retries, no client retries
    failure = result.failure_data_for_node("request_embeddings")
    assert failure is not None
    assert "sk-wrong-key-1234" not in str(failure.error)


def test_weekly_resync_schedule_requests_every_area_once_per_week(
    instance: dg.DagsterInstance,
) -> None:
    when = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # a Sunday
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    requests = embedding_resync_schedule(context)
    assert isinstance(requests, list)
    assert [r.partition_key for r in requests] == AREAS
    assert [r.run_key for r in requests] == [f"embedding-resync:2026-11-29:{a}" for a in AREAS]
    assert all(r.run_config["ops"]["request_embeddings"]["config"]["full_resync"] for r in requests)
    assert embedding_resync_schedule.cron_schedule == "0 16 * * 0"
