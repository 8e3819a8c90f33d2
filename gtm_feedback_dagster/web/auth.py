"""Sign-in, sessions and CSRF of the request pages (stdlib HMAC; no extra dependency).

Who is signed in, in this order:
1. a trusted reverse-proxy header (only when `GTM_FEEDBACK_TRUSTED_PROXY_HEADER` is set);
2. the session cookie: `base64(json{email, exp, sid}).hmac`, HttpOnly, SameSite=Lax, expiring
   after `GTM_FEEDBACK_WEB_SESSION_HOURS`;
3. `Authorization: Bearer $GTM_FEEDBACK_API_TOKEN`: read-only (GET/HEAD only).

One-time sign-in links carry a signed token `{email, exp, nonce}` valid LINK_MINUTES. The link
opens a confirmation page whose button POSTs the token, so a Slack unfurl (a GET) never spends
it. Each link is recorded in the app database when issued and spent by one conditional UPDATE
(store/login_tokens.py), so it signs in once across every process and replica.

CSRF: every form carries `csrf`, an HMAC of the session id (signed-in pages) or of a random
pre-session cookie (the sign-in forms); a POST without the right one answers 403.

The signing secret is `GTM_FEEDBACK_WEB_SECRET`; without it a random one is generated once
into `$GTM_FEEDBACK_HOME/web_secret` (mode 0600), which only suits a single local machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request

from gtm_feedback_dagster.config import Secrets, Settings
from gtm_feedback_dagster.store.login_tokens import link_open, record_link, spend_link

SESSION_COOKIE = "gtm_session"
PRE_COOKIE = "gtm_pre"
LINK_MINUTES = 15
SECRET_FILE = "web_secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_web_secret(settings: Settings, secrets_: Secrets) -> bytes:
    """The signing key: the configured secret, else one generated into the home folder."""
    if secrets_.web_secret:
        return secrets_.web_secret.encode("utf-8")
    path = Path(settings.home) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(48).encode("ascii"))
        except Exception:
            os.close(fd)
            raise
        os.close(fd)
    return path.read_bytes().strip()


@dataclass(frozen=True)
class Identity:
    email: str
    via: str  # proxy | session | bearer
    sid: str = ""

    @property
    def read_only(self) -> bool:
        return self.via == "bearer"


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, token: str | None) -> dict[str, Any] | None:
        """The payload of a valid, unexpired token, else None."""
        if not token or token.count(".") != 1 or len(token) > 4096:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or float(payload.get("exp", 0)) < time.time():
            return None
        return payload

    # -- sign-in links (single use across replicas: store/login_tokens.py)
    def login_token(self, session: Session, email: str, minutes: int = LINK_MINUTES) -> str:
        """A signed link token, recorded in the app database so it can be spent once."""
        exp = int(time.time()) + minutes * 60
        nonce = secrets.token_urlsafe(12)
        record_link(session, nonce, email, datetime.fromtimestamp(exp, UTC))
        return self.sign("login", {"email": email, "exp": exp, "nonce": nonce})

    def peek_login(self, session: Session, token: str | None) -> dict[str, Any] | None:
        """The payload of a valid link that is still unspent (spends nothing)."""
        payload = self.unsign("login", token)
        if payload is None or not link_open(session, str(payload["nonce"])):
            return None
        return payload

    def spend_login(self, session: Session, token: str | None) -> str | None:
        """The email of a valid link, which can then never be used again — by any process
        sharing the app database; else None."""
        payload = self.unsign("login", token)
        if payload is None:
            return None
        email = str(payload["email"])
        return email if spend_link(session, str(payload["nonce"]), email) else None

    # -- sessions and CSRF
    def session_cookie(self, email: str, hours: int) -> str:
        return self.sign(
            "session",
            {
                "email": email,
                "exp": int(time.time()) + hours * 3600,
                "sid": secrets.token_urlsafe(16),
            },
        )

    def csrf_for(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def check_csrf(self, sid: str, given: str | None) -> bool:
        return bool(sid) and bool(given) and hmac.compare_digest(self.csrf_for(sid), given or "")


def identify(
    request: Request, settings: Settings, secrets_: Secrets, signer: Signer
) -> Identity | None:
    header = settings.trusted_proxy_header
    if header:
        value = (request.headers.get(header) or "").strip()
        if value:
            # The proxy authenticated the user; the pre-session cookie keys CSRF.
            return Identity(value.lower(), "proxy", request.cookies.get(PRE_COOKIE, ""))
    payload = signer.unsign("session", request.cookies.get(SESSION_COOKIE))
    if payload is not None:
        return Identity(str(payload["email"]), "session", str(payload["sid"]))
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = secrets_.api_token or ""
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))
    ):
        return Identity("api-token", "bearer")
    return None


def safe_next(value: str | None) -> str:
    """A local path to go to after sign-in (never another host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/requests"


def login_link(
    signer: Signer, session: Session, app_url: str, email: str, next_path: str = "/requests"
) -> str:
    """A one-time sign-in link for `email` (valid LINK_MINUTES, once), recorded in `session`'s
    transaction (the caller commits)."""
    from urllib.parse import urlencode

    query = urlencode({"token": signer.login_token(session, email), "next": safe_next(next_path)})
    return f"{app_url.rstrip('/')}/login/link?{query}"
