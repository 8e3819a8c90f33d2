"""`GET /api/search?q=…&area=…&limit=…` in the intake service: ranked requests with a calibrated
confidence and a short reason — the same search routing uses.

Protected like the rest of the API (`Authorization: Bearer $GTM_FEEDBACK_API_TOKEN`, checked by
`intake.api.check_token`). Embedding is CPU-bound, so the handler is a plain function that
Starlette runs in its thread pool; the embedder (model loaded once per process) and the
in-process index (rebuilt only when the stored vectors change) live as long as the service.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gtm_feedback_dagster.intake.api import check_token
from gtm_feedback_dagster.runtime import Runtime

log = logging.getLogger(__name__)

MAX_LIMIT = 50
LIMIT_PATTERN = re.compile(r"[0-9]{1,4}")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SearchService:
    """The HTTP face of `routing.search.Search`; the search parts are built on first use and
    live as long as the service."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self._lock = threading.Lock()
        self._search: Any = None
        self.status = "cold"  # cold | warming | ready | failed

    def warm(self) -> None:
        """Load the model and fill the serving index before the first request needs them (the
        service runs this in a thread at start-up; `/healthz` reports the status)."""
        self.status = "warming"
        try:
            search = self._engine()
            search.embedder.embed(["warm-up"])
            search.sync()
        except Exception:
            log.exception("search warm-up failed; the first search will retry")
            self.status = "failed"
            return
        self.status = "ready"

    def _engine(self) -> Any:
        with self._lock:
            if self._search is None:
                from gtm_feedback_dagster.routing.search import Search

                self._search = Search.from_runtime(self.runtime)
            return self._search

    def search(self, text: str, area: str | None, limit: int) -> list[dict[str, Any]]:
        from gtm_feedback_dagster.store import repo

        search = self._engine()
        with self.runtime.session() as s:
            area_slug = repo.resolve_area(s, area).slug if area else None
        results = search.search(text, area_slug, limit)
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
        # ASCII digits only and short: `str.isdigit` accepts "²", and int() refuses strings
        # over 4,300 digits with a ValueError (both were 500s).
        if not LIMIT_PATTERN.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
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


def build_routes(service: SearchService) -> list[BaseRoute]:
    return [Route("/api/search", service.handle, methods=["GET"], name="search")]
