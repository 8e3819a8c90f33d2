"""UpstashIndex through the real upstash_vector client against the local stand-in."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.vectors.base import VectorIndex, VectorIndexError, build_vector_index
from gtm_feedback_dagster.vectors.upstash_index import UpstashIndex
from tests.standins.upstash_standin import UpstashStandin

DIM = 384
TOKEN = "upstash-token"


def unit_rows(n: int, seed: int) -> np.ndarray:
    mat = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return mat / np.linalg.norm(mat, axis=1, keepdims=True)


def make_index(server: UpstashStandin, **kwargs: object) -> UpstashIndex:
    params: dict = {"url": server.url, "token": TOKEN, "retries": 0, "dim": DIM}
    params.update(kwargs)
    return UpstashIndex(**params)


def test_round_trip_matches_brute_force_cosine(upstash_standin: UpstashStandin) -> None:
    vectors = unit_rows(40, seed=1)
    ids = list(range(100, 140))
    index = make_index(upstash_standin)
    assert isinstance(index, VectorIndex)
    index.upsert(ids, vectors)
    assert index.count() == 40

    queries = unit_rows(5, seed=2)
    hits = index.search(queries, top_k=5)
    assert len(hits) == 5
    sims = queries @ vectors.T
    for q, row in enumerate(hits):
        order = np.argsort(-sims[q])[:5]
        assert [h.id for h in row] == [ids[i] for i in order]
        # Upstash reports (1 + cos) / 2; the index hands back plain cosine like faiss does.
        np.testing.assert_allclose([h.score for h in row], sims[q, order], atol=1e-5)

    # All five queries travelled in one request, without metadata.
    (query_req,) = upstash_standin.requests_to("/query")
    assert isinstance(query_req.json, list) and len(query_req.json) == 5
    assert all(q["includeMetadata"] is False and q["topK"] == 5 for q in query_req.json)

    index.delete([100, 101, 102])
    assert index.count() == 37
    remaining = {h.id for row in index.search(vectors[:3], top_k=40) for h in row}
    assert remaining.isdisjoint({100, 101, 102})


def test_upsert_sends_string_ids_metadata_and_no_telemetry(
    upstash_standin: UpstashStandin,
) -> None:
    index = make_index(upstash_standin)
    meta = [
        {"title": "SSO with Okta", "areas": ["identity"], "status": "open"},
        {"title": "PDF export", "areas": ["reporting", "billing"], "status": "shipped"},
    ]
    index.upsert([7, 8], unit_rows(2, seed=3), metadata=meta)
    (req,) = upstash_standin.requests_to("/upsert")
    assert [item["id"] for item in req.json] == ["7", "8"]
    assert [item["metadata"] for item in req.json] == meta
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert not any(h.startswith("upstash-telemetry") for h in req.headers)
    assert upstash_standin.stored()["8"].metadata == meta[1]


def test_upsert_replaces_and_single_query(upstash_standin: UpstashStandin) -> None:
    v = unit_rows(2, seed=4)
    index = make_index(upstash_standin)
    index.upsert([1], v[:1])
    index.upsert([1], v[1:])
    assert index.count() == 1
    (hits,) = index.search(v[1], top_k=3)  # a 1-D query is one row
    assert [h.id for h in hits] == [1] and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_namespace_is_used_and_counted_separately(upstash_standin: UpstashStandin) -> None:
    make_index(upstash_standin).upsert([1], unit_rows(1, seed=5))
    scoped = make_index(upstash_standin, namespace="ns1")
    scoped.upsert([2, 3], unit_rows(2, seed=6))
    assert scoped.count() == 2
    assert upstash_standin.requests_to("/upsert")[-1].path == "/upsert/ns1"
    assert {h.id for h in scoped.search(unit_rows(1, seed=7), top_k=10)[0]} == {2, 3}


def test_error_body_becomes_vector_index_error(upstash_standin: UpstashStandin) -> None:
    index = make_index(upstash_standin)
    upstash_standin.fail_next(
        200, {"error": "ERR max daily request limit exceeded"}, path="/upsert"
    )
    with pytest.raises(VectorIndexError, match="max daily request limit") as info:
        index.upsert([1], unit_rows(1, seed=8))
    assert not info.value.retryable


def test_wrong_index_dimension_is_reported() -> None:
    with UpstashStandin(dimension=1536) as server:
        with pytest.raises(VectorIndexError, match="dimension 1536"):
            make_index(server).upsert([1], unit_rows(1, seed=9))
        assert server.requests_to("/upsert") == []  # checked before sending vectors


def test_euclidean_index_is_refused() -> None:
    with (
        UpstashStandin(similarity="EUCLIDEAN") as server,
        pytest.raises(VectorIndexError, match="COSINE"),
    ):
        make_index(server).search(unit_rows(1, seed=10), top_k=1)


def test_malformed_body_is_retryable_error(upstash_standin: UpstashStandin) -> None:
    upstash_standin.fail_next(502, "<html>Bad gateway</html>", content_type="text/html")
    with pytest.raises(VectorIndexError, match="malformed response") as info:
        make_index(upstash_standin).count()
    assert info.value.retryable


def test_unreachable_service_is_retried_then_retryable_error() -> None:
    server = UpstashStandin().start()
    url = server.url
    server.stop()  # nothing listens on that port any more
    index = UpstashIndex(url=url, token=TOKEN, retries=2, retry_interval=0.01, dim=DIM)
    with pytest.raises(VectorIndexError, match="cannot reach") as info:
        index.count()
    assert info.value.retryable


def test_connection_drop_is_retried_by_the_client(upstash_standin: UpstashStandin) -> None:
    upstash_standin.fail_next(drop=True, path="/info")
    index = make_index(upstash_standin, retries=2, retry_interval=0.01)
    assert index.count() == 0
    assert [r.status for r in upstash_standin.requests_to("/info")] == [None, 200]


def test_timeout_is_enforced(upstash_standin: UpstashStandin) -> None:
    upstash_standin.fail_next(delay=3.0, path="/info")
    index = make_index(upstash_standin, timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(VectorIndexError) as info:
        index.count()
    assert info.value.retryable
    assert time.perf_counter() - started < 2.0


def test_build_vector_index_upstash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstash_standin: UpstashStandin
) -> None:
    settings = Settings(home=tmp_path, database_url="sqlite://", vector_index="upstash")
    monkeypatch.delenv("UPSTASH_VECTOR_REST_URL", raising=False)
    monkeypatch.setenv("UPSTASH_VECTOR_REST_TOKEN", TOKEN)
    with pytest.raises(VectorIndexError, match="UPSTASH_VECTOR_REST_URL"):
        build_vector_index(settings)
    monkeypatch.setenv("UPSTASH_VECTOR_REST_URL", upstash_standin.url)
    index = build_vector_index(settings)
    assert isinstance(index, UpstashIndex)
    index.upsert([1], unit_rows(1, seed=11))
    assert index.count() == 1
