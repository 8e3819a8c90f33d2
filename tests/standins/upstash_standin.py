"""Local stand-in for Upstash Vector, for the real `upstash_vector.Index` client.

    with UpstashStandin(dimension=384) as server:
        index = upstash_vector.Index(url=server.url, token="x", retries=0)

An in-memory, exact index with namespaces. Like the service, every answer is JSON `{"result": ...}`
or `{"error": "..."}` (the client ignores the HTTP status), and COSINE scores are
`(1 + cosine) / 2`. Filters support `field = 'value'` / `field != 'value'` / numbers joined by AND,
which is all this project needs; anything else answers an error.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.standins.http_standin import HTTPStandin, RecordedRequest, Response, json_response

_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(=|!=)\s*(?:'([^']*)'|(-?\d+(?:\.\d+)?))\s*$")


@dataclass
class StoredVector:
    vector: np.ndarray
    metadata: dict | None = None
    data: str | None = None


def ok(result: Any) -> Response:
    return json_response({"result": result})


def err(message: str, status: int = 400) -> Response:
    return json_response({"error": message, "status": status}, status)


class UpstashStandin(HTTPStandin):
    def __init__(
        self, dimension: int = 384, similarity: str = "COSINE", token: str | None = None
    ) -> None:
        super().__init__()
        self.dimension = dimension
        self.similarity = similarity
        self.token = token
        self.namespaces: dict[str, dict[str, StoredVector]] = {"": {}}
        self._store_lock = threading.Lock()

    # -- helpers for tests ----------------------------------------------------------------------

    def stored(self, namespace: str = "") -> dict[str, StoredVector]:
        return self.namespaces.get(namespace, {})

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response:
        if self.token is not None and request.headers.get("authorization") != (
            f"Bearer {self.token}"
        ):
            return err("Unauthorized: Invalid token", 401)
        parts = request.path.strip("/").split("/", 1)
        op = parts[0]
        ns = parts[1] if len(parts) > 1 else ""
        body = request.json
        with self._store_lock:  # handler threads run concurrently; the store is plain dicts
            if op == "upsert":
                return self._upsert(ns, body)
            if op == "query":
                return self._query(ns, body)
            if op == "fetch":
                return self._fetch(ns, body or {})
            if op == "delete":
                return self._delete(ns, body or {})
            if op == "info":
                return ok(self._info())
            if op == "range":
                return self._range(ns, body or {})
            if op == "reset":
                if "all" in request.query:
                    self.namespaces = {"": {}}
                else:
                    self.namespaces[ns] = {}
                return ok("Success")
            if op == "update":
                return self._update(ns, body or {})
            if op == "list-namespaces":
                return ok(sorted(self.namespaces))
            if op == "delete-namespace":
                if ns == "" or ns not in self.namespaces:
                    return err(f"Namespace {ns!r} does not exist")
                del self.namespaces[ns]
                return ok("Success")
            if op in ("upsert-data", "query-data"):
                return err(
                    "Embedding data for this index is not allowed. The index must be "
                    "created with an embedding model to use it."
                )
        return err(f"unknown endpoint {request.path}", 404)

    # -- operations -----------------------------------------------------------------------------

    def _vector(self, raw: Any) -> np.ndarray | Response:
        if not isinstance(raw, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in raw
        ):
            return err("vector must be an array of numbers")
        if len(raw) != self.dimension:
            return err(f"Invalid vector dimension: {len(raw)}, expected: {self.dimension}")
        return np.asarray(raw, dtype=np.float64)

    def _upsert(self, ns: str, body: Any) -> Response:
        items = body if isinstance(body, list) else [body]
        staged: dict[str, StoredVector] = {}
        for item in items:
            if not isinstance(item, dict) or "id" not in item:
                return err("each vector needs an id")
            vec = self._vector(item.get("vector"))
            if isinstance(vec, Response):
                return vec
            meta = item.get("metadata")
            if meta is not None and not isinstance(meta, dict):
                return err("metadata must be an object")
            staged[str(item["id"])] = StoredVector(vec, meta, item.get("data"))
        # All or nothing, as the service validates the whole batch first.
        self.namespaces.setdefault(ns, {}).update(staged)
        return ok("Success")

    def _matches(self, filter_: str, meta: dict | None) -> bool | None:
        if not filter_:
            return True
        meta = meta or {}
        for clause in re.split(r"\s+AND\s+", filter_, flags=re.IGNORECASE):
            m = _CLAUSE.match(clause)
            if m is None:
                return None
            field, op, text, number = m.groups()
            want: Any = text if text is not None else float(number)
            have = meta.get(field)
            if isinstance(have, int | float) and not isinstance(have, bool):
                have = float(have)
            if (have == want) != (op == "="):
                return False
        return True

    def _score(self, query: np.ndarray, stored: np.ndarray) -> float:
        if self.similarity == "EUCLIDEAN":
            return float(1.0 / (1.0 + np.sum((query - stored) ** 2)))
        if self.similarity == "DOT_PRODUCT":
            return float((1.0 + float(query @ stored)) / 2.0)
        denom = float(np.linalg.norm(query) * np.linalg.norm(stored)) or 1.0
        return float((1.0 + float(query @ stored) / denom) / 2.0)

    def _render(self, key: str, sv: StoredVector, spec: dict, score: float | None = None) -> dict:
        out: dict[str, Any] = {"id": key}
        if score is not None:
            out["score"] = score
        if spec.get("includeVectors"):
            out["vector"] = [float(x) for x in sv.vector]
        if spec.get("includeMetadata") and sv.metadata is not None:
            out["metadata"] = sv.metadata
        if spec.get("includeData") and sv.data is not None:
            out["data"] = sv.data
        return out

    def _query_one(self, ns: str, spec: Any) -> list[dict] | Response:
        if not isinstance(spec, dict):
            return err("query must be an object")
        if "data" in spec:
            return err("Embedding data for this index is not allowed.")
        vec = self._vector(spec.get("vector"))
        if isinstance(vec, Response):
            return vec
        top_k = spec.get("topK", 10)
        if not isinstance(top_k, int) or top_k < 1 or top_k > 1000:
            return err("topK must be between 1 and 1000")
        filter_ = spec.get("filter", "") or ""
        scored = []
        for key, sv in self.namespaces.get(ns, {}).items():
            match = self._matches(filter_, sv.metadata)
            if match is None:
                return err(f"Invalid filter: {filter_}")
            if match:
                scored.append((self._score(vec, sv.vector), key, sv))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [self._render(key, sv, spec, score) for score, key, sv in scored[:top_k]]

    def _query(self, ns: str, body: Any) -> Response:
        if isinstance(body, list):
            answers = []
            for spec in body:
                one = self._query_one(ns, spec)
                if isinstance(one, Response):
                    return one
                answers.append(one)
            return ok(answers)
        one = self._query_one(ns, body)
        return one if isinstance(one, Response) else ok(one)

    def _selected(self, ns: str, body: dict) -> list[str] | Response:
        store = self.namespaces.get(ns, {})
        if body.get("ids") is not None:
            ids = body["ids"]
            return [str(i) for i in (ids if isinstance(ids, list) else [ids])]
        if body.get("prefix") is not None:
            return [k for k in store if k.startswith(body["prefix"])]
        if body.get("filter"):
            keys = []
            for key, sv in store.items():
                match = self._matches(body["filter"], sv.metadata)
                if match is None:
                    return err(f"Invalid filter: {body['filter']}")
                if match:
                    keys.append(key)
            return keys
        return err("ids, prefix or filter is required")

    def _fetch(self, ns: str, body: dict) -> Response:
        keys = self._selected(ns, body)
        if isinstance(keys, Response):
            return keys
        store = self.namespaces.get(ns, {})
        return ok([self._render(k, store[k], body) if k in store else None for k in keys])

    def _delete(self, ns: str, body: dict) -> Response:
        keys = self._selected(ns, body)
        if isinstance(keys, Response):
            return keys
        store = self.namespaces.get(ns, {})
        deleted = sum(1 for k in keys if store.pop(k, None) is not None)
        return ok({"deleted": deleted})

    def _info(self) -> dict:
        total = sum(len(v) for v in self.namespaces.values())
        return {
            "vectorCount": total,
            "pendingVectorCount": 0,
            "indexSize": total * self.dimension * 4,
            "dimension": self.dimension,
            "similarityFunction": self.similarity,
            "namespaces": {
                name: {"vectorCount": len(v), "pendingVectorCount": 0}
                for name, v in self.namespaces.items()
            },
        }

    def _range(self, ns: str, body: dict) -> Response:
        limit = body.get("limit")
        if not isinstance(limit, int) or limit < 1:
            return err("limit must be a positive integer")
        cursor = body.get("cursor") or "0"
        try:
            start = int(cursor)
        except ValueError:
            return err(f"invalid cursor {cursor!r}")
        store = self.namespaces.get(ns, {})
        keys = sorted(k for k in store if k.startswith(body.get("prefix") or ""))
        page = keys[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(keys) else ""
        return ok(
            {"nextCursor": next_cursor, "vectors": [self._render(k, store[k], body) for k in page]}
        )

    def _update(self, ns: str, body: dict) -> Response:
        store = self.namespaces.get(ns, {})
        key = str(body.get("id"))
        if key not in store:
            return ok({"updated": 0})
        sv = store[key]
        if "vector" in body:
            vec = self._vector(body["vector"])
            if isinstance(vec, Response):
                return vec
            sv.vector = vec
        if "metadata" in body:
            if body.get("metadataUpdateMode") == "PATCH" and sv.metadata is not None:
                sv.metadata = {**sv.metadata, **body["metadata"]}
                sv.metadata = {k: v for k, v in sv.metadata.items() if v is not None}
            else:
                sv.metadata = body["metadata"]
        if "data" in body:
            sv.data = body["data"]
        return ok({"updated": 1})
