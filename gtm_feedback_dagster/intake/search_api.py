"""`GET /api/search?q=…&area=…&limit=…` in the intake service: ranked requests with a calibrated
confidence and a short reason — the same search routing uses.

Protected like the rest of the API (`Authorization: Bearer $GTM_FEEDBACK_API_TOKEN`, checked by
`intake.api.check_token`). Embedding is CPU-bound, so the handler is a plain function that
Starlette runs in its thread pool; the embedder (model loaded once per process) and the
in-process index (rebuilt only when the stored vectors change) live as long as the service.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.intake.api import check_token

log = logging.getLogger(__name__)

MAX_LIMIT = 50


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SearchService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._embedder: Any = None
        self._scorer: Any = None
        self._index_cache: Any = None

    def _parts(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._embedder is None:
                from gtm_feedback_dagster.ai.embedders import build_embedder
                from gtm_feedback_dagster.routing.confidence import CalibratedScorer
                from gtm_feedback_dagster.routing.search import IndexCache

                self._embedder = build_embedder(self.settings)
                self._scorer = CalibratedScorer()
                self._index_cache = IndexCache(self.settings)
            return self._embedder, self._scorer, self._index_cache

    def search(self, text: str, area: str | None, limit: int) -> list[dict[str, Any]]:
        from gtm_feedback_dagster.routing.engine import ensure_request_vectors
        from gtm_feedback_dagster.routing.search import search_requests
        from gtm_feedback_dagster.store import repo
        from gtm_feedback_dagster.store.db import session_scope

        embedder, scorer, cache = self._parts()

        def session() -> Any:
            return session_scope(self.settings.database_url)

        with session() as s:
            area_slug = repo.resolve_area(s, area).slug if area else None
            index = cache.get(s, embedder.model_id, embedder.dim)
        if ensure_request_vectors(session, embedder, index):
            with session() as s:  # the table changed: pick the new vectors up
                index = cache.get(s, embedder.model_id, embedder.dim)
        with session() as s:
            results = search_requests(s, embedder, index, scorer, text, area_slug, limit)
        return [r.as_dict(self.settings.app_url) for r in results]

    def handle(self, request: Request) -> JSONResponse:
        denied = check_token(request)
        if denied is not None:
            return denied
        text = (request.query_params.get("q") or "").strip()
        if not text:
            return _error(400, "query parameter q is required")
        if len(text) > self.settings.max_text_chars:
            return _error(
                400, f"q is too long ({len(text)} > {self.settings.max_text_chars} characters)"
            )
        raw_limit = request.query_params.get("limit") or "10"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            return _error(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
        area = (request.query_params.get("area") or "").strip() or None
        from gtm_feedback_dagster.store.repo import NotFoundError

        try:
            results = self.search(text, area, int(raw_limit))
        except NotFoundError as exc:
            return _error(400, str(exc))
        return JSONResponse(
            {"query": text, "area": area, "count": len(results), "results": results}
        )


def build_routes(settings: Settings) -> list[BaseRoute]:
    service = SearchService(settings)
    return [Route("/api/search", service.handle, methods=["GET"], name="search")]
