"""The intake service (`gtm-feedback serve`): one Starlette app composed from route lists.

The route lists it mounts are named in `collect_routes` (the feedback API, search, Slack); one
`Runtime` is built for the service and shared by them. Handlers do their database work in
Starlette's threadpool so the event loop stays free.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gtm_feedback_dagster.config import Settings, load_settings
from gtm_feedback_dagster.intake import api, search_api
from gtm_feedback_dagster.requests.listing import DemandCache
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack.routes import build_slack_routes
from gtm_feedback_dagster.store.db import engine_for
from gtm_feedback_dagster.web.routes import LIST_CACHE_SECONDS
from gtm_feedback_dagster.web.routes import build_routes as build_web_routes


def collect_routes(
    runtime: Runtime,
    search: search_api.SearchService | None = None,
    demand: DemandCache | None = None,
) -> list[BaseRoute]:
    settings = runtime.settings
    search = search or search_api.SearchService(runtime)
    return [
        *api.build_routes(settings),
        *search_api.build_routes(search),
        *build_slack_routes(settings),
        *build_web_routes(runtime, search, demand),  # the request pages (HTML)
    ]


def _database_reachable(url: str) -> bool:
    try:
        with engine_for(url).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def served_app() -> Starlette:
    """The app as `gtm-feedback serve` runs it (uvicorn's factory for `--workers`): settings
    from the environment, search warmed at start-up."""
    return create_app(warm=True)


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, warm: bool = False
) -> Starlette:
    """The service. `warm=True` (what `gtm-feedback serve` does) loads the model and the
    search index in a thread at start-up, so no request pays for it; `/healthz` says
    `"search": "warming"` until it is `"ready"`."""
    runtime = runtime or Runtime.from_settings(settings or load_settings())
    settings = runtime.settings
    search = search_api.SearchService(runtime)
    demand = DemandCache(runtime.session, ttl=LIST_CACHE_SECONDS)

    async def healthz(request: Request) -> JSONResponse:
        if await run_in_threadpool(_database_reachable, settings.database_url):
            return JSONResponse({"ok": True, "search": search.status})
        return JSONResponse(
            {"ok": False, "error": "database unreachable", "search": search.status},
            status_code=503,
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm:
            threading.Thread(target=search.warm, name="search-warm-up", daemon=True).start()
            threading.Thread(target=demand.warm, name="demand-warm-up", daemon=True).start()
        yield

    async def http_error(request: Request, exc: Any) -> Response:
        # 404/405 and friends as JSON, like every other answer of the API.
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"error": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            *collect_routes(runtime, search, demand),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.search = search
    return app
