"""The request pages: server-rendered HTML (Jinja2, autoescape on), no JavaScript.

`build_routes(runtime, search)` returns the routes the intake service mounts. Every page needs a
signed-in identity (see web/auth.py) and redirects to /login otherwise; every POST checks the
CSRF token; the bearer token reads (GET) only. Security headers go on every answer.
Database work runs in Starlette's thread pool (the handlers are plain functions).

The pages are split by concern: web/base.py (headers, guard, forms), web/render.py (templates,
safe text), web/login.py (sign-in), web/pages.py (list, request, area), web/triage.py (triage
page and actions); `WebApp` here combines them.
"""

from __future__ import annotations

import threading

from starlette.routing import BaseRoute, Route

from gtm_feedback_dagster.requests.listing import DemandCache, OrderCache
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.web.auth import Signer, load_web_secret
from gtm_feedback_dagster.web.base import SearchLike
from gtm_feedback_dagster.web.login import LoginPages
from gtm_feedback_dagster.web.notfound import not_found_route
from gtm_feedback_dagster.web.pages import RequestPages
from gtm_feedback_dagster.web.render import HERE, template_env
from gtm_feedback_dagster.web.triage import TriagePages

LIST_CACHE_SECONDS = 30.0  # how far the list and the triage queue may lag; detail pages are live


class WebApp(LoginPages, RequestPages, TriagePages):
    def __init__(
        self,
        runtime: Runtime,
        search: SearchLike | None = None,
        demand: DemandCache | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.search = search
        self.signer = Signer(load_web_secret(runtime.settings, runtime.secrets))
        self.templates = template_env()
        self._chart_cache: dict[int, bytes | None] = {}
        self.demand = demand or DemandCache(runtime.session, ttl=LIST_CACHE_SECONDS)
        self.triage_cache = OrderCache(ttl=LIST_CACHE_SECONDS, size=4)
        self._chart_lock = threading.Lock()
        self.css = (HERE / "static" / "style.css").read_bytes()


def build_routes(
    runtime: Runtime, search: SearchLike | None = None, demand: DemandCache | None = None
) -> list[BaseRoute]:
    """The page routes; the intake app mounts them after every other route list, since the
    last one is a catch-all (web/notfound.py)."""
    app = WebApp(runtime, search, demand)
    g = app.guard
    return [
        Route("/", app.home, methods=["GET"]),
        Route("/static/style.css", app.stylesheet, methods=["GET"]),
        Route("/login", app.login_form, methods=["GET"]),
        Route("/login", app.login_send, methods=["POST"]),
        Route("/login/link", app.login_link, methods=["GET"]),
        Route("/login/link", app.login_spend, methods=["POST"]),
        Route("/logout", g(app.logout), methods=["POST"]),
        Route("/requests", g(app.requests_list), methods=["GET"], name="web_requests"),
        Route("/requests/{slug}", g(app.request_show), methods=["GET"], name="web_request"),
        Route("/areas/{slug}", g(app.area_show), methods=["GET"]),
        Route("/areas/{slug}/chart.png", g(app.area_chart), methods=["GET"]),
        Route("/triage", g(app.triage), methods=["GET"]),
        Route("/triage/{action}", g(app.action), methods=["POST"]),
        not_found_route(app),  # last: unknown browser paths get an HTML 404 page
    ]
