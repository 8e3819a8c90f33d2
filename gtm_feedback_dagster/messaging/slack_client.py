"""The Slack Web API, through slack-sdk's real `WebClient`.

A thin wrapper: it builds the client with retry handlers (429 honouring Retry-After, 500/503,
connection resets) — the same handlers for the `WebhookClient` that answers `response_url`s — exposes the handful of calls this app makes with plain return values, and
classifies failures (`messaging.slack_errors`) into transient (retry later) and permanent.

The bot token lives only inside the `WebClient`; it is never part of a message, a repr or an
error text we produce (`redact` scrubs anything we store, defensively).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging.slack_errors import ResponseUrlError, classify_error

DEFAULT_BASE_URL = "https://slack.com/api/"
# Where Slack points slash-command `response_url`s. Tests (or a proxy) override the allowed
# prefix with GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE; anything else in a payload is refused, so a
# forged payload cannot make us POST to an arbitrary host.
DEFAULT_RESPONSE_URL_BASE = "https://hooks.slack.com/"

_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{1,40}$")


def is_slack_id(value: str | None) -> bool:
    return bool(value) and bool(_SLACK_ID.match(value or ""))


def response_url_base() -> str:
    from gtm_feedback_dagster.config import load_settings

    return load_settings().slack_response_url_base or DEFAULT_RESPONSE_URL_BASE


def allowed_response_url(url: str | None) -> bool:
    return isinstance(url, str) and len(url) < 2000 and url.startswith(response_url_base())


def redact(text: str, *secrets: str | None) -> str:
    """Removes secrets (and anything shaped like a Slack token) from a text we store or log."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"xox[a-z]-[A-Za-z0-9-]+", "xox?-***", text)


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    email: str | None
    name: str
    is_bot: bool


class SlackClient:
    """The calls this app makes, on one `WebClient` (one connection pool, one set of retry
    handlers). Build one per job/op and reuse it."""

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        backoff_factor: float = 0.5,
    ) -> None:
        if not token:
            raise ValueError("a Slack bot token is required")
        interval = BackoffRetryIntervalCalculator(backoff_factor=backoff_factor)
        self._token = token
        # One set of handlers for both clients: the Web API and response_url webhooks.
        self.retry_handlers: list[RetryHandler] = [
            ConnectionErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
        ]
        self.web = WebClient(
            token=token,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=int(max(1, timeout)),
            retry_handlers=list(self.retry_handlers),
        )
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the token
        return f"SlackClient(base_url={self.web.base_url!r})"

    def redact(self, text: str) -> str:
        return redact(text, self._token)

    # -- identity -----------------------------------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        data = self.web.auth_test().data
        return dict(data) if isinstance(data, dict) else {}

    def lookup_user_id_by_email(self, email: str) -> str | None:
        """The Slack user id of an email; None when no Slack user has it."""
        try:
            response = self.web.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if classify_error(exc).code == "users_not_found":
                return None
            raise
        user = response.get("user") or {}
        user_id = user.get("id")
        return user_id if is_slack_id(user_id) else None

    def user_profile(self, user_id: str) -> SlackProfile:
        response = self.web.users_info(user=user_id)
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        email = profile.get("email")
        name = (
            profile.get("real_name")
            or profile.get("display_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        return SlackProfile(
            user_id=user_id,
            email=email.strip().lower() if isinstance(email, str) and "@" in email else None,
            name=str(name)[:200],
            is_bot=bool(user.get("is_bot")),
        )

    # -- messages -----------------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> tuple[str, str]:
        """Posts to a channel, or (channel = a user id) to the app's DM with that user; returns
        (channel id, message ts)."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if blocks:
            kwargs["blocks"] = blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = self.web.chat_postMessage(**kwargs)
        return str(response.get("channel") or channel), str(response.get("ts") or "")

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = self.web.chat_postEphemeral(**kwargs)
        return str(response.get("message_ts") or "")

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        # An explicit empty list removes the old blocks (e.g. the buttons).
        response = self.web.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])
        return str(response.get("ts") or ts)

    def respond(
        self,
        response_url: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        replace_original: bool = False,
    ) -> None:
        """Answers a slash command or interaction through its response_url (ephemeral)."""
        if not allowed_response_url(response_url):
            raise ResponseUrlError(400, "response_url_refused")
        webhook = WebhookClient(
            url=response_url,
            timeout=int(max(1, self.timeout)),
            retry_handlers=list(self.retry_handlers),  # 429 (Retry-After), 500/503, resets
        )
        result = webhook.send(
            text=text,
            blocks=blocks,
            response_type="ephemeral",
            replace_original=replace_original,
        )
        if result.status_code != 200:
            raise ResponseUrlError(result.status_code, str(result.body or ""))

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            response = self.web.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError as exc:
            if classify_error(exc).permanent:
                return None
            raise
        link = response.get("permalink")
        return link if isinstance(link, str) and link.startswith("http") else None

    # -- conversations ------------------------------------------------------------------------

    def join_channel(self, channel: str) -> None:
        self.web.conversations_join(channel=channel)

    def replies(self, channel: str, ts: str, max_messages: int = 200) -> list[dict[str, Any]]:
        """A message and its thread (conversations.replies), oldest first, paginated up to
        `max_messages`."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(messages) < max_messages:
            kwargs: dict[str, Any] = {
                "channel": channel,
                "ts": ts,
                "limit": min(200, max_messages - len(messages)),
            }
            if cursor:
                kwargs["cursor"] = cursor
            response = self.web.conversations_replies(**kwargs)
            page = response.get("messages") or []
            messages.extend(m for m in page if isinstance(m, dict))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not page:
                break
        return messages[:max_messages]

    # -- views --------------------------------------------------------------------------------

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.web.views_open(trigger_id=trigger_id, view=view)


def build_slack_client(
    settings: Settings, token: str | None = None, *, timeout: float = 30.0, max_retries: int = 2
) -> SlackClient | None:
    """The configured client, or None (outbox-only mode) when no bot token is set.

    `token` defaults to SLACK_BOT_TOKEN; Dagster code passes the token its resource resolved from
    `dg.EnvVar`, plain-Python entry points (CLI, intake service) let it come from the
    environment here.
    """
    if token is None:
        from gtm_feedback_dagster.config import load_secrets

        token = load_secrets().slack_bot_token
    if not token:
        return None
    return SlackClient(
        token, base_url=settings.slack_base_url, timeout=timeout, max_retries=max_retries
    )
