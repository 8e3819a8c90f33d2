"""The request pages: server-rendered HTML (Jinja2, autoescape on), no JavaScript.

`build_routes(runtime, search)` returns the routes the intake service mounts. Every page needs a
signed-in identity (see web/auth.py) and redirects to /login otherwise; every POST checks the
CSRF token; the bearer token reads (GET) only. Security headers go on every answer.
Database work runs in Starlette's thread pool (the handlers are plain functions).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.requests import views
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store.schema import User
from gtm_feedback_dagster.web.auth import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Identity,
    Signer,
    identify,
    load_web_secret,
    login_link,
    safe_next,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16 * 1024
TRIAGE_LIMIT = 25  # items per triage section, oldest / strongest first
LIST_CACHE_SECONDS = 30.0  # the list's orderings (views.OrderCache); detail pages are live
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
# Bidirectional overrides/isolates and other invisible format characters that can disguise text.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,219}")


class SearchLike(Protocol):
    def search(self, text: str, area: str | None, limit: int) -> list[dict[str, Any]]: ...


def clean(value: Any) -> str:
    """Customer text for display: control characters and bidi overrides shown as visible
    escapes (\\u202e), so they cannot reorder or hide what follows. Escaping for HTML is
    Jinja2's autoescape."""
    text = "" if value is None else str(value)
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif _BIDI.match(ch) or unicodedata.category(ch) in ("Cc", "Cf"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(clean=clean, arr=format_arr, when=_when, pct=_pct)
    return env


_MD: Any = None


def _markdown(text: str) -> Markup:
    """Report Markdown to HTML with raw HTML escaped (html=False) and only safe link schemes."""
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        _MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    return Markup(_MD.render(clean(text)))


class WebApp:
    def __init__(self, runtime: Runtime, search: SearchLike | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.search = search
        self.signer = Signer(load_web_secret(runtime.settings, runtime.secrets))
        self.templates = _env()
        self._chart_cache: dict[int, bytes | None] = {}
        self.orders = views.OrderCache(ttl=LIST_CACHE_SECONDS)
        self.triage_cache = views.OrderCache(ttl=LIST_CACHE_SECONDS, size=4)
        self._chart_lock = threading.Lock()
        self.css = (HERE / "static" / "style.css").read_bytes()

    # ------------------------------------------------------------------ plumbing

    def secure(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def page(
        self,
        request: Request,
        template: str,
        who: Identity | None,
        code: int = 200,
        **context: Any,
    ) -> Response:
        csrf = self.signer.csrf_for(who.sid) if who and who.sid else ""
        html = self.templates.get_template(template).render(
            who=who,
            csrf=csrf,
            dagster_url=self.settings.dagster_url,
            request=request,
            **context,
        )
        return self.secure(HTMLResponse(html, status_code=code))

    def error(self, request: Request, who: Identity | None, status: int, message: str) -> Response:
        return self.page(request, "error.html", who, code=status, message=message)

    def identity(self, request: Request) -> Identity | None:
        return identify(request, self.settings, self.runtime.secrets, self.signer)

    def guard(self, handler: Callable[..., Response]) -> Callable[[Request], Any]:
        """Sign-in (redirect to /login), read-only bearer, CSRF on POST."""

        async def endpoint(request: Request) -> Response:
            who = self.identity(request)
            if who is None:
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    return self.secure(
                        RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
                    )
                return self.error(request, None, 401, "Sign in first.")
            if request.method not in ("GET", "HEAD"):
                if who.read_only:
                    return self.error(request, who, 403, "The API token is read-only.")
                form = await self.form(request)
                if form is None:
                    return self.error(request, who, 413, "Form too large.")
                if not self.signer.check_csrf(who.sid, form.get("csrf")):
                    return self.error(request, who, 403, "Invalid or missing CSRF token.")
                return await run_in_threadpool(handler, request, who, form)
            fresh = ""
            if who.via == "proxy" and not who.sid:
                # Behind the proxy there is no session: a pre-session cookie keys the CSRF token.
                fresh, _ = self._pre_sid(request)
                who = Identity(who.email, who.via, fresh)
            response = await run_in_threadpool(handler, request, who)
            return self._with_pre(response, fresh, True) if fresh else response

        return endpoint

    async def form(self, request: Request) -> dict[str, str] | None:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_FORM_BYTES:
                return None
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def _pre_sid(self, request: Request) -> tuple[str, bool]:
        sid = request.cookies.get(PRE_COOKIE) or ""
        if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", sid):
            return sid, False
        import secrets

        return secrets.token_urlsafe(16), True

    def _with_pre(self, response: Response, sid: str, new: bool) -> Response:
        if new:
            response.set_cookie(
                PRE_COOKIE,
                sid,
                max_age=3600,
                httponly=True,
                samesite="lax",
                secure=self.settings.app_url.startswith("https://"),
                path="/",
            )
        return response

    @staticmethod
    def _safe_next(value: str | None) -> str:
        return safe_next(value)

    # ------------------------------------------------------------------ sign-in

    async def login_form(self, request: Request) -> Response:
        sid, new = self._pre_sid(request)
        who = self.identity(request)
        response = self.page(
            request,
            "login.html",
            who,
            csrf_pre=self.signer.csrf_for(sid),
            next=self._safe_next(request.query_params.get("next")),
            sent=request.query_params.get("sent") == "1",
        )
        return self._with_pre(response, sid, new)

    async def login_send(self, request: Request) -> Response:
        """POST /login: queue a one-time link as a Slack DM to a known user. The answer is the
        same for unknown addresses (no account discovery)."""
        form = await self.form(request)
        sid = request.cookies.get(PRE_COOKIE, "")
        if form is None or not self.signer.check_csrf(sid, form.get("csrf")):
            return self.error(request, None, 403, "Invalid or missing CSRF token.")
        email = (form.get("email") or "").strip().lower()[:320]
        nxt = self._safe_next(form.get("next"))
        if email:
            await run_in_threadpool(self._queue_link, email, nxt)
        return self.secure(RedirectResponse("/login?sent=1", status_code=303))

    def login_url(self, email: str, nxt: str = "/requests") -> str:
        return login_link(self.signer, self.settings.app_url, email, nxt)

    def _queue_link(self, email: str, nxt: str) -> bool:
        from sqlalchemy import func, select

        from gtm_feedback_dagster.messaging.outbox import enqueue

        with self.runtime.session() as session:
            user = session.scalars(select(User).where(func.lower(User.email) == email)).first()
            if user is None:
                log.info("web sign-in asked for an unknown address")
                return False
            url = self.login_url(user.email, nxt)
            nonce = hashlib.sha256(url.encode()).hexdigest()[:32]
            enqueue(
                session,
                "web_login",
                f"web-login:{user.id}:{nonce}",
                f"Your sign-in link for GTM Feedback (valid for 15 minutes, once): <{url}|Sign in>",
                user_id=user.id,
            )
        return True

    async def login_link(self, request: Request) -> Response:
        """GET: a confirmation page (a link unfurler's GET does not spend the token)."""
        token = request.query_params.get("token")
        sid, new = self._pre_sid(request)
        if self.signer.peek_login(token) is None:
            return self.error(request, None, 400, "This sign-in link is invalid, used or expired.")
        response = self.page(
            request,
            "login_link.html",
            None,
            token=token,
            csrf_pre=self.signer.csrf_for(sid),
            next=self._safe_next(request.query_params.get("next")),
        )
        return self._with_pre(response, sid, new)

    async def login_spend(self, request: Request) -> Response:
        form = await self.form(request)
        sid = request.cookies.get(PRE_COOKIE, "")
        if form is None or not self.signer.check_csrf(sid, form.get("csrf")):
            return self.error(request, None, 403, "Invalid or missing CSRF token.")
        email = self.signer.spend_login(form.get("token"))
        if email is None:
            return self.error(request, None, 400, "This sign-in link is invalid, used or expired.")
        response = RedirectResponse(self._safe_next(form.get("next")), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            self.signer.session_cookie(email, self.settings.web_session_hours),
            max_age=self.settings.web_session_hours * 3600,
            httponly=True,
            samesite="lax",
            secure=self.settings.app_url.startswith("https://"),
            path="/",
        )
        return self.secure(response)

    def logout(self, request: Request, who: Identity, form: dict[str, str]) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return self.secure(response)

    # ------------------------------------------------------------------ pages

    def requests_list(self, request: Request, who: Identity) -> Response:
        q = request.query_params
        sort = q.get("sort") if q.get("sort") in (*views.SORTS, "relevance") else "arr"
        area = (q.get("area") or "").strip() or None
        status = (q.get("status") or "").strip() or None
        segment = (q.get("segment") or "").strip() or None
        text = (q.get("q") or "").strip()[: self.settings.max_text_chars]
        page = (
            int(q.get("page"))
            if (q.get("page") or "").isascii()
            and (q.get("page") or "").isdigit()
            and len(q.get("page") or "") < 6
            else 1
        )
        only_ids: list[int] | None = None
        notice = None
        if text:
            if self.search is None:
                notice = "Search is not available in this process."
            else:
                try:
                    hits = self.search.search(text, area, 50)
                    only_ids = [int(h["request_id"]) for h in hits]
                    if "sort" not in q:
                        sort = "relevance"
                except Exception as exc:  # a bad area or an unavailable model
                    notice = f"Search failed: {exc}"
        with self.runtime.session() as session:
            listing = views.list_request_page(
                session,
                sort=sort,
                area=area,
                status=status,
                segment=segment,
                only_ids=only_ids,
                page=page,
                cache=self.orders,
            )
            choices = views.filter_choices(session)
        params = {
            k: v
            for k, v in (("q", text), ("area", area), ("status", status), ("segment", segment))
            if v
        }

        def link(**changes: Any) -> str:
            merged = {**params, "sort": sort, **changes}
            return "/requests?" + urlencode({k: v for k, v in merged.items() if v})

        return self.page(
            request,
            "requests.html",
            who,
            listing=listing,
            choices=choices,
            sort=sort,
            area=area,
            status=status,
            segment=segment,
            q=text,
            link=link,
            notice=notice,
        )

    def request_show(self, request: Request, who: Identity) -> Response:
        slug = request.path_params["slug"]
        if not _SLUG.fullmatch(slug):
            return self.error(request, who, 404, "No such request.")
        with self.runtime.session() as session:
            found = views.current_request(session, slug)
            if isinstance(found, views.Moved):
                return self.secure(
                    RedirectResponse(f"/requests/{quote(found.slug)}", status_code=301)
                )
            if found is None:
                return self.error(request, who, 404, "No such request.")
            data = views.request_page(session, found)
        return self.page(request, "request.html", who, r=data)

    def area_show(self, request: Request, who: Identity) -> Response:
        slug = request.path_params["slug"]
        from gtm_feedback_dagster.analytics.render import CHART_PLACEHOLDER

        with self.runtime.session() as session:
            data = views.area_report(session, slug) if _SLUG.fullmatch(slug) else None
        if data is None:
            return self.error(request, who, 404, "No such area.")
        html = None
        has_chart = False
        if data["report"] is not None:
            markdown = data["report"]["markdown"]
            has_chart = CHART_PLACEHOLDER in markdown
            markdown = markdown.replace(CHART_PLACEHOLDER, "")
            # Request links in the stored report point at GTM_FEEDBACK_APP_URL: keep them local.
            markdown = markdown.replace(f"{self.settings.app_url}/requests/", "/requests/")
            html = _markdown(markdown)
        asset_url = f"{self.settings.dagster_url}/assets/area_insight_report"
        return self.page(
            request,
            "area.html",
            who,
            area=data["area"],
            report=data["report"],
            html=html,
            has_chart=has_chart,
            asset_url=asset_url,
        )

    def area_chart(self, request: Request, who: Identity) -> Response:
        slug = request.path_params["slug"]
        with self.runtime.session() as session:
            data = views.area_report(session, slug) if _SLUG.fullmatch(slug) else None
        if data is None or data["report"] is None:
            return self.secure(PlainTextResponse("no chart", status_code=404))
        report_id = data["report"]["id"]
        with self._chart_lock:
            cached = report_id in self._chart_cache
            png = self._chart_cache.get(report_id)
        if not cached:
            from gtm_feedback_dagster.analytics.render import render_chart_png

            try:
                png = render_chart_png(data["report"]["data"])
            except Exception:
                log.exception("chart of report %s failed", report_id)
                png = None
            with self._chart_lock:
                self._chart_cache[report_id] = png
        if not png:
            return self.secure(PlainTextResponse("no chart", status_code=404))
        response = Response(png, media_type="image/png")
        self.secure(response)
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    def triage(self, request: Request, who: Identity) -> Response:
        def compute() -> Any:
            with self.runtime.session() as session:
                return views.triage_items(session, limit=TRIAGE_LIMIT)

        # Cached like the list orderings (the graph scan costs ~100 ms at 100x the demo);
        # every web action clears it, so a resolved item is gone at once.
        items = self.triage_cache.get("triage", compute)
        done = request.query_params.get("done")
        return self.page(
            request, "triage.html", who, items=items, done=clean(done)[:200] if done else None
        )

    # ------------------------------------------------------------------ actions

    def _decide(self, approval_id: int, decision: str, who: Identity) -> str:
        """As `gtm-feedback approvals approve|reject --now`: an inbox row, resolved at once."""
        from sqlalchemy import select

        from gtm_feedback_dagster.slack.dispatch import resolve_inbox
        from gtm_feedback_dagster.slack.inbox import store_inbox
        from gtm_feedback_dagster.slack.payloads import approval_action
        from gtm_feedback_dagster.store.schema import SlackInbox

        key = f"web:approval:{approval_id}:{decision}"
        with self.runtime.session() as session:
            payload = approval_action(
                approval_id, decision, source="web", actor=f"web:{who.email}"[:200]
            )
            inbox_id = store_inbox(session, "interaction", key, payload)
            if inbox_id is None:
                inbox_id = session.scalar(select(SlackInbox.id).where(SlackInbox.dedupe_key == key))
        report = resolve_inbox(self.runtime, [inbox_id])
        if inbox_id in report.errors:
            return f"approval #{approval_id}: {report.errors[inbox_id]}"
        return f"approval #{approval_id}: {report.outcomes.get(inbox_id, 'already handled')}"

    def action(self, request: Request, who: Identity, form: dict[str, str]) -> Response:
        kind = request.path_params["action"]
        self.orders.clear()  # this process's listings show the change at once
        self.triage_cache.clear()
        try:
            if kind in ("attach", "create"):
                approval_id = int(form.get("approval", ""))
                message = self._decide(
                    approval_id, "approve" if kind == "attach" else "decline", who
                )
            elif kind == "merge":
                from gtm_feedback_dagster.requests.merge import (
                    merge_requests,
                    remove_from_serving_index,
                )

                duplicate, target = int(form.get("duplicate", "")), int(form.get("target", ""))
                with self.runtime.session() as session:
                    result = merge_requests(session, duplicate, target, self.settings.app_url)
                if not result.already_merged:
                    remove_from_serving_index(self.settings, result.duplicate_id)
                message = result.summary()
            elif kind == "keep":
                a, b = int(form.get("a", "")), int(form.get("b", ""))
                with self.runtime.session() as session:
                    views.keep_both(session, a, b)
                message = f"#{a} and #{b} kept as separate requests"
            else:
                return self.error(request, who, 404, "Unknown action.")
        except (ValueError, LookupError) as exc:
            return self.error(request, who, 400, f"Could not do that: {exc}")
        return self.secure(
            RedirectResponse("/triage?" + urlencode({"done": message[:200]}), status_code=303)
        )

    async def stylesheet(self, request: Request) -> Response:
        response = Response(self.css, media_type="text/css")
        self.secure(response)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    async def home(self, request: Request) -> Response:
        return self.secure(RedirectResponse("/requests", status_code=303))


def build_routes(runtime: Runtime, search: SearchLike | None = None) -> list[BaseRoute]:
    app = WebApp(runtime, search)
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
    ]
