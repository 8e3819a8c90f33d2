"""Upstash Vector as the serving index (production).

Things about the `upstash-vector` client (0.8) that shape this module, read from its source:
- every answer is HTTP 200 JSON `{"result": ...}` or `{"error": "..."}`; the client never looks
  at the status code, raises `UpstashError` for an error body and retries (`retries`,
  `retry_interval`) only when the HTTP call itself raises (connection errors, timeouts);
- a non-JSON body (a proxy's 502 page) surfaces as a JSON decode error, a JSON body without
  `result` as KeyError;
- for the COSINE metric the service returns `(1 + cosine) / 2` in [0, 1]; we map it back to cosine
  so scores agree with the local faiss index (DOT_PRODUCT uses the same mapping);
- `query_many` sends all queries in one request (one per row would be a round trip each).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def _score_to_cosine(score: float) -> float:
    return float(min(1.0, max(-1.0, 2.0 * float(score) - 1.0)))


class UpstashIndex:
    """VectorIndex on Upstash Vector. Ids are stored as decimal strings of the int request id;
    metadata (title, areas, status) is passed through for people browsing the index console."""

    def __init__(
        self,
        url: str,
        token: str,
        namespace: str = "",
        retries: int = 3,
        retry_interval: float = 0.5,
        *,
        dim: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not url or not token:
            raise VectorIndexError("Upstash Vector needs a REST URL and a token")
        self.url = url.rstrip("/")
        self.namespace = namespace
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
        self._checked = False

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UpstashError as exc:
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
