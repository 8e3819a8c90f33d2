"""Upstash rate limits are transient (backoff, then a retryable error); quotas and real errors are
not retried in-process. Real upstash_vector client against the local stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from gtm_feedback_dagster.vectors.base import VectorIndexError
from gtm_feedback_dagster.vectors.upstash_index import UpstashIndex, is_rate_limited
from tests.standins.upstash_standin import UpstashStandin

DIM = 384
RATE_LIMIT = {"error": "ERR max requests limit exceeded. Limit: 1000, Usage: 1000."}


def rows(n: int) -> np.ndarray:
    mat = np.random.default_rng(3).standard_normal((n, DIM)).astype(np.float32)
    return mat / np.linalg.norm(mat, axis=1, keepdims=True)


def make_index(server: UpstashStandin, **kwargs: object) -> tuple[UpstashIndex, list[float]]:
    slept: list[float] = []
    params: dict = {
        "url": server.url,
        "token": "t",
        "retries": 0,
        "dim": DIM,
        "rate_limit_backoff": 0.01,
        "sleep": slept.append,
    }
    params.update(kwargs)
    return UpstashIndex(**params), slept


def test_rate_limit_body_is_retried_with_backoff_then_succeeds(
    upstash_standin: UpstashStandin,
) -> None:
    index, slept = make_index(upstash_standin)
    upstash_standin.fail_next(200, RATE_LIMIT, path="/upsert", times=2)
    index.upsert([1, 2], rows(2))
    assert set(upstash_standin.stored()) == {"1", "2"}
    assert len(upstash_standin.requests_to("/upsert")) == 3
    assert len(slept) == 2 and slept[1] > slept[0]  # exponential
    assert index.rate_limited_attempts == 2


def test_http_429_with_json_error_is_transient(upstash_standin: UpstashStandin) -> None:
    index, slept = make_index(upstash_standin)
    upstash_standin.fail_next(429, {"error": "Too Many Requests"}, path="/query")
    assert index.search(rows(1), top_k=1) == [[]]
    assert len(slept) == 1


def test_gateway_429_page_is_transient(upstash_standin: UpstashStandin) -> None:
    index, slept = make_index(upstash_standin)
    upstash_standin.fail_next(429, "<html>slow down</html>", content_type="text/html", path="/info")
    assert index.count() == 0
    assert len(slept) == 1


def test_persistent_rate_limit_ends_in_a_retryable_error(upstash_standin: UpstashStandin) -> None:
    index, slept = make_index(upstash_standin, rate_limit_retries=3)
    upstash_standin.fail_next(200, RATE_LIMIT, path="/upsert", times=None)
    with pytest.raises(VectorIndexError, match="rate-limited") as info:
        index.upsert([1], rows(1))
    assert info.value.retryable  # the op's retry policy (and run retries) take over
    assert len(slept) == 3
    assert len(upstash_standin.requests_to("/upsert")) == 4


def test_daily_quota_and_real_errors_are_not_backed_off(upstash_standin: UpstashStandin) -> None:
    index, slept = make_index(upstash_standin)
    upstash_standin.fail_next(200, {"error": "ERR max daily request limit exceeded"})
    with pytest.raises(VectorIndexError, match="daily"):
        index.count()
    upstash_standin.fail_next(200, {"error": "Invalid vector dimension: 3, expected: 384"})
    with pytest.raises(VectorIndexError) as info:
        index.count()
    assert not info.value.retryable
    assert slept == []


def test_classifier() -> None:
    assert is_rate_limited("ERR max requests limit exceeded")
    assert is_rate_limited("HTTP 429: Too Many Requests")
    assert not is_rate_limited("ERR max daily request limit exceeded")
    assert not is_rate_limited("Unauthorized: Invalid token")


def test_namespace_comes_from_settings(
    upstash_standin: UpstashStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_UPSTASH_NAMESPACE", "staging")
    index, _ = make_index(upstash_standin)
    assert index.namespace == "staging"
    index.upsert([5], rows(1))
    assert set(upstash_standin.stored("staging")) == {"5"}
    assert upstash_standin.stored("") == {}
    explicit, _ = make_index(upstash_standin, namespace="")
    assert explicit.namespace == ""
