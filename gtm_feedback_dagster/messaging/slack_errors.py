"""What a failed Slack call means: transient (retry later, with Slack's Retry-After when it gave
one), permanent (give up with the reason) or token-wide (stop the delivery pass). Shared by the
client (`messaging.slack_client`), the outbox delivery and the Slack transport."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError

# Error codes that will not change on a retry: the message is marked failed with the reason.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "users_not_found",
        "user_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "too_many_attachments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_dm_bot",
        "user_disabled",
        "user_not_in_channel",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "thread_not_found",
        "missing_scope",
        "no_permission",
        "ekm_access_denied",
        "team_access_not_granted",
        "method_deprecated",
        "deprecated_endpoint",
        "channel_is_archived",
        "expired_trigger_id",
        "invalid_trigger_id",
        "view_too_large",
        "duplicate_external_id",
        "used_url",
        "expired_url",
        "invalid_url",
        "response_url_refused",
        # token-wide: see TOKEN_ERRORS
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)
# Permanent for the whole token, not just this message: the delivery pass stops so the rest of
# the queue is not burnt one message at a time.
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


class ResponseUrlError(SlackClientError):
    """A response_url answer other than 200 (`used_url`, `expired_url`, 5xx, ...)."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body[:200]
        super().__init__(f"response_url answered HTTP {status}: {self.body}")


@dataclass(frozen=True)
class SlackFailure:
    """What a failed call means for the caller."""

    code: str  # Slack error code, or http_<status> / connection_error / ...
    permanent: bool
    token_wide: bool = False  # the token itself is bad: stop the whole pass
    retry_after: float | None = None  # seconds Slack asked us to wait

    def describe(self) -> str:
        return self.code


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            return None if value is None else str(value)
    return None


def classify_error(exc: BaseException) -> SlackFailure:
    """Transient: rate limits, 5xx, timeouts, connection failures; permanent: everything Slack
    says cannot work (see PERMANENT_ERRORS) and malformed requests."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = getattr(response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if status == 429 or code == "ratelimited":
            raw = _header(getattr(response, "headers", None), "Retry-After")
            try:
                retry_after = float(raw) if raw is not None else None
            except ValueError:
                retry_after = None
            return SlackFailure("ratelimited", permanent=False, retry_after=retry_after)
        if status >= 500:
            return SlackFailure(f"http_{status}", permanent=False)
        if isinstance(code, str) and code:
            if code.startswith("Received a response in a non-JSON format"):
                return SlackFailure("unexpected_response", permanent=False)
            code = code[:80]
            if code in PERMANENT_ERRORS:
                return SlackFailure(code, permanent=True, token_wide=code in TOKEN_ERRORS)
            # Unknown codes (internal_error, fatal_error, request_timeout, ...) are retried a
            # bounded number of times by the caller.
            return SlackFailure(code, permanent=False)
        if 400 <= status < 500:
            return SlackFailure(f"http_{status}", permanent=status not in (408, 425))
        return SlackFailure("unexpected_response", permanent=False)
    if isinstance(exc, ResponseUrlError):
        if exc.status == 429 or exc.status >= 500:
            return SlackFailure(f"http_{exc.status}", permanent=False)
        body = exc.body.strip()
        return SlackFailure(body if body in PERMANENT_ERRORS else f"http_{exc.status}", True)
    if isinstance(exc, SlackRequestError):
        return SlackFailure("invalid_request", permanent=True)
    if isinstance(exc, TimeoutError | ConnectionError | URLError | OSError):
        return SlackFailure("connection_error", permanent=False)
    if isinstance(exc, json.JSONDecodeError | ValueError):
        return SlackFailure("unexpected_response", permanent=False)
    return SlackFailure(type(exc).__name__, permanent=False)
