"""Text embedders: the packaged all-MiniLM-L6-v2 model (default, in `local_model`) and OpenAI
embeddings, behind one `Embedder` protocol.

Plain Python, no Dagster. Both produce float32 (n, 384) matrices with L2-normalised rows, so the
inner product of two rows is their cosine similarity in every index.

Heavy imports (openai ≈ 0.5 s here; onnxruntime and torch in `local_model`) happen lazily inside
the classes: importing this module must stay cheap for CLI start-up.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    pass
from gtm_feedback_dagster.config import Settings


@dataclass
class EmbeddingUsage:
    calls: int = 0
    texts: int = 0
    prompt_tokens: int = 0


class EmbeddingError(RuntimeError):
    """Embedding failed. `retryable` False means permanent (bad key, malformed response, wrong
    dimension): retrying will not help. Messages never contain the API key."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class EmbeddingTransientError(EmbeddingError):
    """The service stayed unavailable (429, 5xx, timeouts, connection errors) after the client's
    retries; a later run may succeed."""

    retryable = True


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    usage: EmbeddingUsage

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise_rows(mat: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    if mat.shape[0] and not np.all(norms > 0):
        raise EmbeddingError("the embedding model returned a zero vector")
    return np.ascontiguousarray(mat / norms, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------------------------

_SECRET_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{4,}")


def _redact(text: str, secret: str) -> str:
    if secret:
        text = text.replace(secret, "***")
    # Servers echo (partly masked) keys in 401 messages; never pass any of it on.
    return _SECRET_PATTERN.sub("sk-***", text)


def _server_message(exc: Any) -> str:
    """The human part of an OpenAI error body ({"error": {"message": ...}}), else the status."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return getattr(exc, "message", None) or type(exc).__name__


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings, `dimensions=384` so vectors fit the same indexes as the
    local model. Retries on 429/5xx/timeouts are the openai client's (`max_retries`, exponential
    backoff honouring Retry-After)."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        dimensions: int = 384,
        batch_size: int = 256,
        max_retries: int = 3,
        timeout: float = 30.0,
        *,
        encoding_format: Literal["base64", "float"] = "base64",
    ) -> None:
        if not api_key:
            raise EmbeddingError("an OpenAI API key is required for the openai embedder")
        if batch_size <= 0 or batch_size > 2048:
            # The API accepts at most 2048 inputs per request.
            raise ValueError("batch_size must be between 1 and 2048")
        import openai

        self._api_key = api_key
        self.model = model
        self.dim = dimensions
        self.model_id = f"openai:{model}@{dimensions}"
        self.batch_size = batch_size
        # base64 is what the client asks for by default: a quarter of the JSON size of floats.
        self.encoding_format = encoding_format
        self.usage = EmbeddingUsage()
        self._usage_lock = threading.Lock()
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # The API rejects empty strings; an empty text still needs a row (one per input).
        items = [t if t.strip() else "(empty)" for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._embed_batch(items[start : start + self.batch_size])
            for start in range(0, len(items), self.batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        import openai

        try:
            response = self._client.embeddings.create(
                model=self.model,
                input=batch,
                dimensions=self.dim,
                encoding_format=self.encoding_format,
            )
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise EmbeddingTransientError(
                f"OpenAI embeddings timed out after the client's retries (model {self.model})"
            ) from None
        except openai.APIConnectionError as exc:
            raise EmbeddingTransientError(
                f"cannot reach the OpenAI embeddings endpoint: {_redact(str(exc), self._api_key)}"
            ) from None
        except (openai.OpenAIError, ValueError) as exc:
            # ValueError: the client lets a JSON decode error of a garbled body escape as is.
            raise EmbeddingError(
                "malformed response from the OpenAI embeddings endpoint: "
                + _redact(str(exc), self._api_key)
            ) from None
        # `from None` above: the chained openai exception carries request details we do not need
        # in logs; the message says what happened.
        mat = self._decode(response, len(batch))
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "prompt_tokens", None)
        with self._usage_lock:
            self.usage.calls += 1
            self.usage.texts += len(batch)
            if isinstance(tokens, int):
                self.usage.prompt_tokens += tokens
        return mat

    def _status_error(self, exc: Any) -> EmbeddingError:
        status = getattr(exc, "status_code", None)
        detail = _redact(_server_message(exc), self._api_key)
        code = None
        body = getattr(exc, "body", None)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
        if status in (401, 403):
            return EmbeddingError(
                f"OpenAI rejected the API key (HTTP {status}): {detail}. "
                "Check OPENAI_API_KEY and the key's project permissions."
            )
        if status == 429 and code == "insufficient_quota":
            # A billing problem, not a rate limit: waiting does not fix it.
            return EmbeddingError(f"OpenAI quota exhausted (HTTP 429): {detail}")
        if status in (408, 409, 429) or (isinstance(status, int) and status >= 500):
            return EmbeddingTransientError(
                f"OpenAI embeddings unavailable after retries (HTTP {status}): {detail}"
            )
        return EmbeddingError(f"OpenAI embeddings request failed (HTTP {status}): {detail}")

    def _decode(self, response: Any, expected: int) -> np.ndarray:
        data = list(getattr(response, "data", None) or [])
        if len(data) != expected:
            raise EmbeddingError(
                f"OpenAI returned {len(data)} embeddings for {expected} inputs (malformed response)"
            )
        # The API labels each row with its input position; do not trust the list order.
        try:
            data.sort(key=lambda d: int(d.index))
        except (TypeError, ValueError, AttributeError) as exc:
            raise EmbeddingError("OpenAI embeddings response lacks row indexes") from exc
        if [int(d.index) for d in data] != list(range(expected)):
            raise EmbeddingError("OpenAI embeddings response has wrong row indexes")
        rows = np.empty((expected, self.dim), dtype=np.float32)
        for i, item in enumerate(data):
            vec = self._decode_one(item.embedding)
            if vec.shape[0] != self.dim:
                raise EmbeddingError(
                    f"{self.model} returned vectors of dimension {vec.shape[0]}, expected "
                    f"{self.dim}; the model must support dimensions={self.dim} "
                    "(text-embedding-3-*)"
                )
            rows[i] = vec
        if not np.isfinite(rows).all():
            raise EmbeddingError("OpenAI returned embeddings with NaN or infinite values")
        return _normalise_rows(rows)

    @staticmethod
    def _decode_one(embedding: Any) -> np.ndarray:
        # Either format may come back whatever we asked for (compatible servers differ), so
        # decode by type: base64 of little-endian float32, or a JSON list of numbers.
        if isinstance(embedding, str):
            try:
                raw = base64.b64decode(embedding, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise EmbeddingError(
                    "OpenAI returned an embedding that is not valid base64"
                ) from exc
            if len(raw) % 4:
                raise EmbeddingError("OpenAI returned a base64 embedding of odd length")
            return np.frombuffer(raw, dtype="<f4").astype(np.float32)
        if isinstance(embedding, list | tuple) and all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in embedding
        ):
            return np.asarray(embedding, dtype=np.float32)
        raise EmbeddingError(
            f"OpenAI returned an embedding of unexpected type {type(embedding).__name__}"
        )


# --------------------------------------------------------------------------------------------


def build_embedder(settings: Settings, openai_api_key: str | None = None) -> Embedder:
    """The configured embedder: "local" (default) or "openai" (needs OPENAI_API_KEY, passed in
    or else read through `config.load_secrets()`)."""
    if settings.embedder == "local":
        # Lazily: `local_model` imports this module (errors, usage, normalisation).
        from gtm_feedback_dagster.ai.local_model import LocalEmbedder

        return LocalEmbedder(backend=settings.local_backend, home=settings.home)
    if settings.embedder == "openai":
        if openai_api_key is None:
            from gtm_feedback_dagster.config import load_secrets

            openai_api_key = load_secrets().openai_api_key
        api_key = openai_api_key or ""
        if not api_key:
            raise EmbeddingError(
                "GTM_FEEDBACK_EMBEDDER=openai needs OPENAI_API_KEY to be set "
                "(or use GTM_FEEDBACK_EMBEDDER=local for the packaged model)"
            )
        return OpenAIEmbedder(
            api_key=api_key,
            base_url=settings.openai_base_url,
            model=settings.openai_embedding_model,
        )
    raise EmbeddingError(
        f"GTM_FEEDBACK_EMBEDDER must be local or openai, got {settings.embedder!r}"
    )
