"""The plumbing every request page shares: security headers on every answer, rendering a
template, sign-in (redirect to /login), the read-only bearer token, CSRF on every POST, bounded
form bodies and the pre-session cookie that keys CSRF before sign-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.web.auth import PRE_COOKIE, Identity, Signer, identify, safe_next

MAX_FORM_BYTES = 16 * 1024
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


class SearchLike(Protocol):
    def search(self, text: str, area: str | None, limit: int) -> list[dict[str, Any]]: ...


class WebBase:
    """The shared state and helpers of the page classes (web/login.py, web/pages.py,
    web/triage.py); `web.routes.WebApp` combines them and sets the state."""

    runtime: Runtime
    settings: Settings
    search: SearchLike | None
    signer: Signer
    templates: Environment

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
