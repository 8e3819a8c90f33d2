"""Embedders: the real local model, and the real openai client against the local stand-in."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gtm_feedback_dagster.ai import local_model
from gtm_feedback_dagster.ai.embedders import (
    EmbeddingError,
    EmbeddingTransientError,
    OpenAIEmbedder,
    build_embedder,
)
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.text import query_text, request_text
from tests.standins.openai_standin import OpenAIStandin, openai_error

KEY = "sk-test-0123456789abcdef"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", **overrides)


def _unit_rows(mat: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5))


# --- texts ---------------------------------------------------------------------------------------


def test_request_and_query_text() -> None:
    assert request_text("SSO", "Okta login") == "SSO\n\nOkta login"
    assert request_text("SSO", "") == "SSO"
    # A query embeds exactly like a request with an empty description.
    assert query_text("  SSO \n") == request_text("SSO", "")


def test_importing_embedders_does_not_import_heavy_libraries() -> None:
    # CLI start-up depends on this: the module is imported by every command.
    import subprocess

    code = (
        "import sys, gtm_feedback_dagster.ai.embedders, gtm_feedback_dagster.ai.local_model, "
        "gtm_feedback_dagster.ai.onnx_export, gtm_feedback_dagster.ai.llm, "
        "gtm_feedback_dagster.vectors.base; "
        "print(','.join(m for m in ('sentence_transformers', 'torch', 'openai', 'faiss', "
        "'onnxruntime', 'tokenizers', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- local model ---------------------------------------------------------------------------------


@pytest.mark.model
def test_local_shape_dtype_and_normalisation(local_embedder: LocalEmbedder) -> None:
    mat = local_embedder.embed(["Export dashboards to PDF", "SAML single sign-on", "x"])
    assert mat.shape == (3, 384)
    assert mat.dtype == np.float32
    assert _unit_rows(mat)
    assert local_embedder.model_id == "local:all-MiniLM-L6-v2"
    assert local_embedder.dim == 384


@pytest.mark.model
def test_local_paraphrase_is_closer_than_unrelated(local_embedder: LocalEmbedder) -> None:
    a, para, other = local_embedder.embed(
        [
            "Customers want to log in with their company Okta account",
            "Support single sign-on through Okta for enterprise users",
            "The invoice PDF shows the wrong currency symbol",
        ]
    )
    assert float(a @ para) > float(a @ other) + 0.1


@pytest.mark.model
def test_local_is_deterministic_and_batch_independent(local_embedder: LocalEmbedder) -> None:
    texts = [f"feature request number {i} about reporting" for i in range(5)]
    together = local_embedder.embed(texts)
    alone = local_embedder.embed(texts[2:3])
    np.testing.assert_allclose(together[2], alone[0], atol=1e-5)


@pytest.mark.model
def test_local_model_loads_once_per_process(local_embedder: LocalEmbedder) -> None:
    key = ("onnx", str(local_model.packaged_model_path()))
    loaded = local_model._MODELS[key]
    first, second = LocalEmbedder(batch_size=8), LocalEmbedder()
    first.embed(["one"])
    second.embed(["two"])
    assert local_model.MODEL_LOAD_COUNT == 1
    assert local_model._MODELS[key] is loaded
    assert first.usage.texts == 1 and second.usage.texts == 1


def test_local_empty_input_returns_empty_matrix() -> None:
    # An empty batch short-circuits: no model call.
    mat = LocalEmbedder().embed([])
    assert mat.shape == (0, 384) and mat.dtype == np.float32


# --- OpenAI --------------------------------------------------------------------------------------


def _openai(server: OpenAIStandin, **kwargs: object) -> OpenAIEmbedder:
    params: dict = {"api_key": KEY, "base_url": server.base_url, "max_retries": 2, "timeout": 5.0}
    params.update(kwargs)
    return OpenAIEmbedder(**params)


def test_openai_base64_decoding_and_request(openai_standin: OpenAIStandin) -> None:
    texts = ["Export dashboards to PDF", "SAML single sign-on"]
    emb = _openai(openai_standin)
    mat = emb.embed(texts)
    assert mat.shape == (2, 384) and mat.dtype == np.float32
    for row, text in zip(mat, texts, strict=True):
        np.testing.assert_allclose(row, OpenAIStandin.embedding_for(text, 384), atol=1e-6)
    (req,) = openai_standin.embedding_requests
    assert req.path == "/v1/embeddings"
    assert req.json == {
        "model": "text-embedding-3-small",
        "input": texts,
        "dimensions": 384,
        "encoding_format": "base64",
    }
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert emb.model_id == "openai:text-embedding-3-small@384"


def test_openai_float_decoding(openai_standin: OpenAIStandin) -> None:
    emb = _openai(openai_standin, encoding_format="float")
    mat = emb.embed(["Export dashboards to PDF"])
    np.testing.assert_allclose(
        mat[0], OpenAIStandin.embedding_for("Export dashboards to PDF", 384), atol=1e-6
    )
    assert openai_standin.embedding_requests[0].json["encoding_format"] == "float"


def test_openai_batches_and_records_usage(openai_standin: OpenAIStandin) -> None:
    texts = [f"request {i} about exports" for i in range(600)]
    emb = _openai(openai_standin, batch_size=256)
    mat = emb.embed(texts)
    sizes = [len(r.json["input"]) for r in openai_standin.embedding_requests]
    assert sizes == [256, 256, 88]
    # Rows stay in input order across batches.
    np.testing.assert_allclose(mat[300], OpenAIStandin.embedding_for(texts[300], 384), atol=1e-6)
    assert _unit_rows(mat)
    assert emb.usage.calls == 3
    assert emb.usage.texts == 600
    assert emb.usage.prompt_tokens == 600 * 4  # the stand-in counts words


def test_openai_retries_429_with_retry_after(openai_standin: OpenAIStandin) -> None:
    openai_standin.fail_next(
        429, openai_error("Rate limit reached", 429, "requests"), {"Retry-After": "0"}
    )
    mat = _openai(openai_standin).embed(["hello world"])
    assert mat.shape == (1, 384)
    reqs = openai_standin.embedding_requests
    assert [r.status for r in reqs] == [429, 200]
    assert reqs[1].headers["x-stainless-retry-count"] == "1"


def test_openai_retries_500(openai_standin: OpenAIStandin) -> None:
    openai_standin.fail_next(500, openai_error("The server had an error", 500, "server_error"))
    assert _openai(openai_standin).embed(["hello"]).shape == (1, 384)
    assert [r.status for r in openai_standin.embedding_requests] == [500, 200]


def test_openai_persistent_5xx_is_transient_error(openai_standin: OpenAIStandin) -> None:
    openai_standin.fail_next(503, {"error": {"message": "overloaded"}}, times=None)
    with pytest.raises(EmbeddingTransientError) as info:
        _openai(openai_standin, max_retries=1).embed(["hello"])
    assert info.value.retryable
    assert "503" in str(info.value)
    assert [r.status for r in openai_standin.embedding_requests] == [503, 503]


def test_openai_bad_key_is_permanent_and_never_leaks_the_key() -> None:
    secret = "sk-proj-SECRETSECRET987654321"
    with OpenAIStandin(api_key="sk-the-right-one") as server:
        emb = OpenAIEmbedder(api_key=secret, base_url=server.base_url, max_retries=3)
        with pytest.raises(EmbeddingError) as info:
            emb.embed(["hello"])
        assert len(server.embedding_requests) == 1  # 401 is not retried
    # The stand-in echoed the key in its 401 body; none of it may surface.
    message = str(info.value)
    assert not info.value.retryable
    assert "401" in message and "OPENAI_API_KEY" in message
    assert secret not in message and "SECRET" not in message
    assert info.value.__cause__ is None or secret not in str(info.value.__cause__)


def test_openai_wrong_dimension_is_permanent(openai_standin: OpenAIStandin) -> None:
    openai_standin.force_dimension = 512
    with pytest.raises(EmbeddingError) as info:
        _openai(openai_standin).embed(["hello"])
    assert "dimension 512" in str(info.value) and not info.value.retryable


def test_openai_malformed_responses(openai_standin: OpenAIStandin) -> None:
    emb = _openai(openai_standin, max_retries=0)
    openai_standin.fail_next(200, {"object": "list", "data": [], "model": "m", "usage": None})
    with pytest.raises(EmbeddingError, match="0 embeddings for 1 inputs"):
        emb.embed(["hello"])
    bad = {"object": "list", "model": "m", "data": [{"index": 0, "embedding": "%%%not-b64"}]}
    openai_standin.fail_next(200, bad)
    with pytest.raises(EmbeddingError, match="base64"):
        emb.embed(["hello"])
    openai_standin.fail_next(200, b"this is not json", content_type="application/json")
    with pytest.raises(EmbeddingError):
        emb.embed(["hello"])


def test_openai_timeout_is_retried_then_succeeds(openai_standin: OpenAIStandin) -> None:
    openai_standin.fail_next(delay=2.0)  # sleeps past the client's timeout, once
    started = time.perf_counter()
    mat = _openai(openai_standin, timeout=0.3, max_retries=1).embed(["hello"])
    assert mat.shape == (1, 384)
    assert time.perf_counter() - started < 2.0


def test_openai_persistent_timeout_is_transient_error(openai_standin: OpenAIStandin) -> None:
    openai_standin.fail_next(delay=2.0, times=None)
    started = time.perf_counter()
    with pytest.raises(EmbeddingTransientError, match="timed out"):
        _openai(openai_standin, timeout=0.3, max_retries=0).embed(["hello"])
    assert time.perf_counter() - started < 1.5


def test_openai_empty_text_still_gets_a_row(openai_standin: OpenAIStandin) -> None:
    mat = _openai(openai_standin).embed(["", "hello"])
    assert mat.shape == (2, 384) and _unit_rows(mat)
    assert all(openai_standin.embedding_requests[0].json["input"])
    assert _openai(openai_standin).embed([]).shape == (0, 384)


# --- factory -------------------------------------------------------------------------------------


def test_build_embedder_local(tmp_path: Path) -> None:
    emb = build_embedder(_settings(tmp_path))
    assert isinstance(emb, LocalEmbedder) and emb.backend == "onnx" and emb.home == tmp_path
    torch_emb = build_embedder(_settings(tmp_path, local_backend="torch"))
    assert isinstance(torch_emb, LocalEmbedder) and torch_emb.backend == "torch"
    assert torch_emb.model_id == emb.model_id == "local:all-MiniLM-L6-v2"
    with pytest.raises(EmbeddingError, match="GTM_FEEDBACK_LOCAL_BACKEND"):
        build_embedder(_settings(tmp_path, local_backend="cuda"))


def test_build_embedder_openai_needs_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        build_embedder(_settings(tmp_path, embedder="openai"))


def test_build_embedder_openai(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_standin: OpenAIStandin
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    settings = _settings(tmp_path, embedder="openai", openai_base_url=openai_standin.base_url)
    emb = build_embedder(settings)
    assert isinstance(emb, OpenAIEmbedder)
    assert emb.embed(["hello"]).shape == (1, 384)
    assert openai_standin.embedding_requests[0].json["model"] == "text-embedding-3-small"
