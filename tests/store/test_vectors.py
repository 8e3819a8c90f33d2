"""The request_vectors table helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select

from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, RequestVector
from gtm_feedback_dagster.store.vectors import (
    content_hash,
    delete_vectors,
    deleted_request_ids,
    load_matrix,
    plan_sync,
    stale_open_requests,
    upsert_vectors,
    vectors_fingerprint,
)

MODEL = "test:model"


def _unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _seed(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        dash, _ = repo.create_area(s, "Dashboards")
        integ, _ = repo.create_area(s, "Integrations")
        ids = {
            "pdf": repo.create_request(s, "Export to PDF", "As a file.", [dash], None).id,
            "sf": repo.create_request(s, "Salesforce sync", "Incremental.", [integ], None).id,
            "both": repo.create_request(s, "Embed in CRM", "Iframe.", [dash, integ], None).id,
        }
    return ids


def _embed_all(url: str, model: str = MODEL) -> None:
    with session_scope(url) as s:
        plan = plan_sync(s, model)
        vectors = np.vstack([_unit(r.id) for r in plan.to_embed])
        upsert_vectors(s, model, [(r.id, r.content_hash) for r in plan.to_embed], vectors)


def test_content_hash_covers_title_and_description() -> None:
    assert content_hash("a", "b") == content_hash("a", "b")
    assert content_hash("a", "b") != content_hash("a", "c")
    assert content_hash("a", "b") != content_hash("ab", "")


def test_plan_sync_is_incremental(db_url: str) -> None:
    ids = _seed(db_url)
    with session_scope(db_url) as s:
        plan = plan_sync(s, MODEL)
        assert sorted(r.id for r in plan.to_embed) == sorted(ids.values())
        both = next(r for r in plan.to_embed if r.id == ids["both"])
        assert both.area_slugs == ("dashboards", "integrations")
        assert both.text == "Embed in CRM\n\nIframe."
    _embed_all(db_url)
    with session_scope(db_url) as s:
        plan = plan_sync(s, MODEL)
        assert plan.to_embed == [] and sorted(plan.unchanged) == sorted(ids.values())
        # Per area: only that area's requests.
        assert sorted(plan_sync(s, MODEL, "dashboards").unchanged) == sorted(
            [ids["pdf"], ids["both"]]
        )
        # A changed title, and a new model, make vectors stale.
        s.get(Request, ids["pdf"]).title = "Export dashboards to PDF"  # type: ignore[union-attr]
    with session_scope(db_url) as s:
        assert [r.id for r in plan_sync(s, MODEL).to_embed] == [ids["pdf"]]
        assert len(plan_sync(s, "other:model").to_embed) == 3
        assert len(plan_sync(s, MODEL, full=True).to_embed) == 3
        assert stale_open_requests(s, MODEL) == [ids["pdf"]]
        assert stale_open_requests(s, MODEL, "integrations") == []


def test_merged_requests_are_planned_for_removal(db_url: str) -> None:
    ids = _seed(db_url)
    _embed_all(db_url)
    with session_scope(db_url) as s:
        dup = s.get(Request, ids["both"])
        assert dup is not None
        dup.status, dup.merged_into_id = "merged", ids["pdf"]
    with session_scope(db_url) as s:
        plan = plan_sync(s, MODEL, "dashboards")
        assert plan.to_remove == [ids["both"]] and plan.not_searchable == [ids["both"]]
        assert delete_vectors(s, plan.to_remove) == 1
    with session_scope(db_url) as s:
        plan = plan_sync(s, MODEL, "dashboards")
        assert plan.to_remove == [] and plan.not_searchable == [ids["both"]]
        loaded_ids, _, _ = load_matrix(s, MODEL)
        assert ids["both"] not in loaded_ids


def test_vectors_roundtrip_and_upsert_replaces(db_url: str) -> None:
    ids = _seed(db_url)
    _embed_all(db_url)
    with session_scope(db_url) as s:
        loaded_ids, matrix, dim = load_matrix(s, MODEL)
        assert loaded_ids == sorted(ids.values()) and dim == 8
        for rid, row in zip(loaded_ids, matrix, strict=True):
            assert np.array_equal(row, _unit(rid))
        count, newest = vectors_fingerprint(s, MODEL)
        assert count == 3 and newest is not None
        # Upserting replaces the row (model, hash, vector) instead of failing.
        upsert_vectors(s, "other:model", [(ids["pdf"], "h")], _unit(99)[None, :])
    with session_scope(db_url) as s:
        row = s.get(RequestVector, ids["pdf"])
        assert row is not None and row.model_id == "other:model" and row.content_hash == "h"
        assert load_matrix(s, MODEL)[0] == sorted([ids["sf"], ids["both"]])
        assert load_matrix(s, "other:model")[0] == [ids["pdf"]]
        assert vectors_fingerprint(s, MODEL)[0] == 2


def test_deleted_requests_lose_their_rows_and_show_as_gaps(db_url: str) -> None:
    ids = _seed(db_url)
    _embed_all(db_url)
    with session_scope(db_url) as s:
        s.execute(delete(Request).where(Request.id == ids["sf"]))
    with session_scope(db_url) as s:
        # ON DELETE CASCADE took the vector row with it.
        assert s.scalar(select(RequestVector).where(RequestVector.request_id == ids["sf"])) is None
        assert deleted_request_ids(s) == [ids["sf"]]
