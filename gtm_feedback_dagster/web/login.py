"""Sign-in pages: a one-time link sent as a Slack DM (POST /login), its confirmation page and
the POST that spends it into a session cookie, and sign-out.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gtm_feedback_dagster.store.schema import User
from gtm_feedback_dagster.web.auth import PRE_COOKIE, SESSION_COOKIE, Identity, login_link
from gtm_feedback_dagster.web.base import WebBase

log = logging.getLogger(__name__)


class LoginPages(WebBase):
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

    def login_url(self, session: Session, email: str, nxt: str = "/requests") -> str:
        return login_link(self.signer, session, self.settings.app_url, email, nxt)

    def _queue_link(self, email: str, nxt: str) -> bool:
        from sqlalchemy import func, select

        from gtm_feedback_dagster.messaging.outbox import enqueue

        with self.runtime.session() as session:
            user = session.scalars(select(User).where(func.lower(User.email) == email)).first()
            if user is None:
                log.info("web sign-in asked for an unknown address")
                return False
            url = self.login_url(session, user.email, nxt)
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
        if await run_in_threadpool(self._peek, token) is None:
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
        email = await run_in_threadpool(self._spend, form.get("token"))
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

    def _peek(self, token: str | None) -> dict[str, object] | None:
        with self.runtime.session() as session:
            return self.signer.peek_login(session, token)

    def _spend(self, token: str | None) -> str | None:
        with self.runtime.session() as session:
            return self.signer.spend_login(session, token)

    def logout(self, request: Request, who: Identity, form: dict[str, str]) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return self.secure(response)
