"""Unknown paths: an HTML 404 page for browser paths, JSON for the API and Slack endpoints.

The intake app answers every HTTPException as JSON (intake/app.py). The request pages add one
last catch-all route (web/routes.py) that answers browser paths with templates/error.html. Since
a catch-all matches every method, it first asks the app's other routes whether one of them
matches the path with another method, and then answers 405 as Starlette's router would (this
re-does by hand the router's own "partial match" rule for the one route that hides it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from gtm_feedback_dagster.web.base import WebBase

# Machine endpoints keep JSON errors; everything else is a page a person opened.
MACHINE_PREFIXES = ("/api/", "/slack/", "/healthz", "/openapi.json")

ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def is_browser_path(path: str) -> bool:
    return not any(path == p.rstrip("/") or path.startswith(p) for p in MACHINE_PREFIXES)


def _allowed_elsewhere(request: Request, me: Route) -> set[str]:
    """Methods another route accepts for this exact path (its partial match)."""
    allowed: set[str] = set()
    router = getattr(request.app, "router", None)
    for route in getattr(router, "routes", ()):
        if route is me:
            continue
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL and isinstance(route, Route) and route.methods:
            allowed |= route.methods
    return allowed


def not_found_route(web: WebBase) -> Route:
    route: Route

    async def endpoint(request: Request) -> Response:
        allowed = _allowed_elsewhere(request, route)
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        if not is_browser_path(request.url.path):
            raise HTTPException(404)
        return web.error(request, web.identity(request), 404, "Page not found.")

    handler: Callable[[Request], Awaitable[Response]] = endpoint
    route = Route("/{path:path}", handler, methods=ANY_METHOD, name="web_not_found")
    return route
