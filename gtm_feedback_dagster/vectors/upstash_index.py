"""Upstash Vector as the serving index (production).

Things about the `upstash-vector` client (0.8) that shape this module, read from its source:
- every answer is HTTP 200 JSON `{"result": ...}` or `{"error": "..."}`; the client never looks
  at the status code, raises `UpstashError` for an error body and retries (`retries`,
  `retry_interval`) only when the HTTP call itself raises (connection errors, timeouts);
- a non-JSON body (a proxy's 502 page) surfaces as a JSON decode error, a JSON body without
  `result` as KeyError;
- for the COSINE metric the service returns `(1 + cosine) / 2` in [0, 1]; we map it back to cosine
  so scores agree with the local faiss index (DOT_PRODUCT uses the same mapping);
- `query_many` sends all queries in one request (one per row would be a round trip each);
- a rate limit answers an error body ("ERR max requests limit exceeded", or a gateway's 429 page)
  that the client does not retry: we back off and retry those ourselves, then raise a *retryable*
  error so the op's retry policy takes over. A daily/monthly quota is different: it clears only
  when the quota period resets, so it is raised at once, not retryable within the run (the
  entries wait for the sweep after the reset).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np
from upstash_vector import Index
from upstash_vector.errors import ClientError, UpstashError

from gtm_feedback_dagster.vectors.base import VectorHit, VectorIndexError, check_matrix

# Request sizes kept well inside the service's limits (topK at most 1000 per query; large upserts
# are better split).
UPSERT_BATCH = 500
DELETE_BATCH = 1000
QUERY_BATCH = 100
MAX_TOP_K = 1000

# Error bodies that mean "slow down" (per-second / concurrency limits, a proxy's 429).
_RATE_LIMITED = re.compile(
    r"max requests limit|rate.?limit|too many requests|\b429\b|max concurrent|throttl",
    re.IGNORECASE,
)
# Error bodies that mean a quota for the day or month is used up.
_QUOTA = re.compile(r"daily|monthly|quota", re.IGNORECASE)


def is_rate_limited(message: str) -> bool:
    """A transient "slow down" answer, as opposed to a quota for the period or a real error."""
    return bool(_RATE_LIMITED.search(message)) and not _QUOTA.search(message)


def _score_to_cosine(score: float) -> float:
    return float(min(1.0, max(-1.0, 2.0 * float(score) - 1.0)))


class UpstashIndex:
    """VectorIndex on Upstash Vector. Ids are stored as decimal strings of the int request id;
    metadata (title, areas, status) is passed through for people browsing the index console."""

    def __init__(
        self,
        url: str,
        token: str,
        namespace: str | None = None,
        retries: int = 3,
        retry_interval: float = 0.5,
        *,
        dim: int | None = None,
        timeout: float = 30.0,
        rate_limit_retries: int = 4,
        rate_limit_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url or not token:
            raise VectorIndexError("Upstash Vector needs a REST URL and a token")
        if namespace is None:
            from gtm_feedback_dagster.config import load_settings

            namespace = load_settings().upstash_namespace
        self.url = url.rstrip("/")
        self.namespace = namespace
        # Backoff on rate limits: rate_limit_backoff * 2**attempt seconds (+ up to 50% jitter),
        # rate_limit_retries times; 0.5 s and 4 give ~7.5 s in all before the op's retry policy.
        self.rate_limit_retries = max(0, int(rate_limit_retries))
        self.rate_limit_backoff = max(0.0, float(rate_limit_backoff))
        self._sleep = sleep
        self.rate_limited_attempts = 0  # total backoffs taken, for metadata and tests
        self.dim = dim
        self._index = Index(
            url=self.url,
            token=token,
            retries=retries,
            retry_interval=retry_interval,
            allow_telemetry=False,
        )
        # The client's own read timeout is 600 s: a hung connection would stall a route job for
        # ten minutes per retry. httpx.Client.timeout is a public setter; the attribute holding
        # the client is not public, so degrade gracefully if a future client renames it.
        http_client = getattr(self._index, "_client", None)
        if isinstance(http_client, httpx.Client):
            http_client.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
            # The client ignores the status; a gateway's 429 page would look merely malformed.
            hooks = dict(http_client.event_hooks)
            hooks["response"] = [*hooks.get("response", []), self._note_status]
            http_client.event_hooks = hooks
        self._last = threading.local()
        self._checked = False

    # -- plumbing -------------------------------------------------------------------------------

    def _note_status(self, response: httpx.Response) -> None:
        self._last.status = response.status_code

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return self._call_once(what, fn, *args, **kwargs)
            except VectorIndexError as exc:
                if not getattr(exc, "rate_limited", False) or attempt >= self.rate_limit_retries:
                    raise
                delay = self.rate_limit_backoff * (2**attempt)
                self._sleep(delay * (1.0 + 0.5 * random.random()))
                attempt += 1
                self.rate_limited_attempts += 1

    def _call_once(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self._last.status = None
        try:
            return fn(*args, **kwargs)
        except UpstashError as exc:
            message = str(exc)
            if getattr(self._last, "status", None) == 429 and not _QUOTA.search(message):
                message = f"HTTP 429: {message}"
            if is_rate_limited(message):
                error = VectorIndexError(
                    f"Upstash Vector {what} rate-limited: {message}", retryable=True
                )
                error.rate_limited = True  # type: ignore[attr-defined]
                raise error from exc
            raise VectorIndexError(f"Upstash Vector {what} failed: {exc}") from exc
        except ClientError as exc:
            raise VectorIndexError(f"Upstash Vector {what} rejected by the client: {exc}") from exc
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            # The client already retried these `retries` times.
            raise VectorIndexError(
                f"Upstash Vector {what} failed: cannot reach {self.url} "
                f"({type(exc).__name__}: {exc})",
                retryable=True,
            ) from exc
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if getattr(self._last, "status", None) == 429:
                error = VectorIndexError(
                    f"Upstash Vector {what} rate-limited: HTTP 429 from {self.url}",
                    retryable=True,
                )
                error.rate_limited = True  # type: ignore[attr-defined]
                raise error from exc
            raise VectorIndexError(
                f"Upstash Vector {what} failed: malformed response from {self.url} "
                f"({type(exc).__name__}: {exc})",
                retryable=True,
            ) from exc

    def _ensure_compatible(self) -> None:
        """Check once per object that the index's dimension and metric fit our vectors: a 1536-dim
        index or a Euclidean metric would otherwise fail late or rank silently wrong."""
        if self._checked or self.dim is None:
            return
        info = self._call("info", self._index.info)
        dimension = int(info.dimension)
        if dimension != self.dim:
            raise VectorIndexError(
                f"Upstash Vector index at {self.url} has dimension {dimension}, "
                f"but embeddings have dimension {self.dim}; create a {self.dim}-dim COSINE index"
            )
        metric = str(info.similarity_function or "").upper()
        if metric and metric not in {"COSINE", "DOT_PRODUCT"}:
            raise VectorIndexError(
                f"Upstash Vector index at {self.url} uses {metric}; it must use COSINE"
            )
        self._checked = True

    # -- VectorIndex ----------------------------------------------------------------------------

    def upsert(
        self, ids: Sequence[int], vectors: np.ndarray, metadata: Sequence[dict] | None = None
    ) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        mat = check_matrix(vectors, self.dim or np.asarray(vectors).shape[-1])
        if mat.shape[0] != len(ids):
            raise VectorIndexError(f"got {len(ids)} ids but {mat.shape[0]} vectors")
        if metadata is not None and len(metadata) != len(ids):
            raise VectorIndexError(f"got {len(ids)} ids but {len(metadata)} metadata entries")
        self._ensure_compatible()
        for start in range(0, len(ids), UPSERT_BATCH):
            stop = start + UPSERT_BATCH
            batch = []
            for offset, (request_id, row) in enumerate(
                zip(ids[start:stop], mat[start:stop], strict=True)
            ):
                item: dict[str, Any] = {"id": str(request_id), "vector": row.tolist()}
                if metadata is not None and metadata[start + offset]:
                    item["metadata"] = dict(metadata[start + offset])
                batch.append(item)
            self._call("upsert", self._index.upsert, vectors=batch, namespace=self.namespace)

    def delete(self, ids: Sequence[int]) -> None:
        keys = [str(int(i)) for i in ids]
        for start in range(0, len(keys), DELETE_BATCH):
            self._call(
                "delete",
                self._index.delete,
                ids=keys[start : start + DELETE_BATCH],
                namespace=self.namespace,
            )

    def search(self, queries: np.ndarray, top_k: int) -> list[list[VectorHit]]:
        q = check_matrix(queries, self.dim or np.asarray(queries).shape[-1], what="queries")
        if top_k <= 0 or q.shape[0] == 0:
            return [[] for _ in range(q.shape[0])]
        self._ensure_compatible()
        k = min(top_k, MAX_TOP_K)
        results: list[list[VectorHit]] = []
        for start in range(0, q.shape[0], QUERY_BATCH):
            rows = q[start : start + QUERY_BATCH]
            requests = [
                {"vector": row.tolist(), "top_k": k, "include_metadata": False} for row in rows
            ]
            answer = self._call(
                "query", self._index.query_many, queries=requests, namespace=self.namespace
            )
            if len(answer) != len(requests):
                raise VectorIndexError(
                    f"Upstash Vector query returned {len(answer)} result lists "
                    f"for {len(requests)} queries",
                    retryable=True,
                )
            for hits in answer:
                row_hits: list[VectorHit] = []
                for hit in hits:
                    try:
                        request_id = int(hit.id)
                    except (TypeError, ValueError):
                        # A vector someone else put in the namespace; not one of our requests.
                        continue
                    row_hits.append(VectorHit(id=request_id, score=_score_to_cosine(hit.score)))
                row_hits.sort(key=lambda h: h.score, reverse=True)
                results.append(row_hits[:k])
        return results

    def count(self) -> int:
        info = self._call("info", self._index.info)
        ns = info.namespaces.get(self.namespace or "")
        if ns is None:
            return 0
        # Pending vectors are stored but not yet indexed; they exist as far as callers care.
        return int(ns.vector_count) + int(ns.pending_vector_count)

    def fetch_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors by id (missing ids are absent) — used to verify a re-sync."""
        keys = [str(int(i)) for i in ids]
        out: dict[int, np.ndarray] = {}
        for start in range(0, len(keys), DELETE_BATCH):
            rows = self._call(
                "fetch",
                self._index.fetch,
                ids=keys[start : start + DELETE_BATCH],
                include_vectors=True,
                namespace=self.namespace,
            )
            for row in rows:
                if row is not None and row.vector is not None:
                    out[int(row.id)] = np.asarray(row.vector, dtype=np.float32)
        return out
