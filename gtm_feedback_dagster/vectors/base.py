"""Vector index protocol, shared helpers and the factory that picks the configured index.

Plain Python, no Dagster. Every index scores with the inner product of L2-normalised vectors, i.e.
cosine similarity in [-1, 1], so a score means the same thing whichever index served it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from gtm_feedback_dagster.config import Settings

# The request_vectors table stores little-endian float32 whatever the machine's byte order, so a
# database copied between machines keeps decoding the same.
_LE_F32 = np.dtype("<f4")


class VectorIndexError(RuntimeError):
    """A vector index operation failed.

    `retryable` is True for failures that may pass on a later attempt (connection errors,
    timeouts, malformed gateway responses) and False for ones that will not (bad input,
    wrong dimension, an error answer from the service).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class VectorHit:
    id: int
    score: float  # cosine similarity (inner product of normalised vectors), higher is closer


@runtime_checkable
class VectorIndex(Protocol):
    def upsert(
        self, ids: Sequence[int], vectors: np.ndarray, metadata: Sequence[dict] | None = None
    ) -> None: ...

    def delete(self, ids: Sequence[int]) -> None: ...

    def search(self, queries: np.ndarray, top_k: int) -> list[list[VectorHit]]: ...

    def count(self) -> int: ...


def vectors_to_bytes(v: np.ndarray) -> bytes:
    """Serialise one vector (or a matrix, row-major) as little-endian float32 bytes."""
    arr = np.asarray(v)
    if arr.ndim not in (1, 2):
        raise VectorIndexError(f"expected a vector or a matrix, got an array of shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=_LE_F32).tobytes()


def bytes_to_vector(b: bytes, dim: int) -> np.ndarray:
    """Inverse of `vectors_to_bytes` for one vector: a writable native float32 array of shape (dim,)."""
    if len(b) != dim * 4:
        raise VectorIndexError(
            f"stored vector has {len(b)} bytes, expected {dim * 4} for dimension {dim}"
        )
    # astype copies: np.frombuffer over bytes is read-only, callers may normalise in place.
    return np.frombuffer(b, dtype=_LE_F32).astype(np.float32)


def bytes_to_matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Decode many stored vectors at once into a float32 (n, dim) matrix (one copy, no Python loop
    over floats) — how an index is filled from the request_vectors table."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    expected = dim * 4
    for i, b in enumerate(blobs):
        if len(b) != expected:
            raise VectorIndexError(
                f"stored vector #{i} has {len(b)} bytes, expected {expected} for dimension {dim}"
            )
    return np.frombuffer(b"".join(blobs), dtype=_LE_F32).astype(np.float32).reshape(len(blobs), dim)


def check_matrix(vectors: np.ndarray, dim: int, what: str = "vectors") -> np.ndarray:
    """Validate and return a C-contiguous float32 (n, dim) matrix; a single vector becomes one row."""
    arr = np.asarray(vectors)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise VectorIndexError(f"{what} must have shape (n, {dim}), got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise VectorIndexError(f"{what} contain NaN or infinite values")
    return arr


def build_vector_index(
    settings: Settings, dim: int = 384, url: str | None = None, token: str | None = None
) -> VectorIndex:
    """The configured index. "local" returns an empty FaissIndex that callers fill from the
    request_vectors table; "upstash" connects to UPSTASH_VECTOR_REST_URL with its token."""
    # Imported here so that importing this module never pulls faiss or httpx into CLI start-up.
    if settings.vector_index == "local":
        from gtm_feedback_dagster.vectors.faiss_index import FaissIndex

        return FaissIndex(dim=dim)
    if settings.vector_index == "upstash":
        from gtm_feedback_dagster.vectors.upstash_index import UpstashIndex

        if url is None or token is None:
            from gtm_feedback_dagster.config import load_secrets

            secrets = load_secrets()
            url = url if url is not None else secrets.upstash_url
            token = token if token is not None else secrets.upstash_token
        url, token = url or "", token or ""
        missing = [
            name
            for name, value in (
                ("UPSTASH_VECTOR_REST_URL", url),
                ("UPSTASH_VECTOR_REST_TOKEN", token),
            )
            if not value
        ]
        if missing:
            raise VectorIndexError(
                "GTM_FEEDBACK_VECTOR_INDEX=upstash needs " + " and ".join(missing) + " to be set"
            )
        return UpstashIndex(url=url, token=token, namespace=settings.upstash_namespace, dim=dim)
    raise VectorIndexError(
        f"GTM_FEEDBACK_VECTOR_INDEX must be local or upstash, got {settings.vector_index!r}"
    )
