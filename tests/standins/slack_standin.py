"""Local stand-in for the Slack Web API (and slash-command response URLs), for the real
`slack_sdk.WebClient`:

    with SlackStandin() as slack:
        slack.add_user("U1", "ana@example.com", "Ana")
        client = WebClient(token=slack.token, base_url=slack.api_url)

It records every call (`calls(method)` gives the parsed parameters), answers like Slack does
(`{"ok": true, ...}` with HTTP 200; `{"ok": false, "error": code}` for Slack errors), and can
script faults: `fail_method("chat.postMessage", "channel_not_found")` for a Slack error code, and
the base class's `fail_next(status=429, headers={"Retry-After": "0"})` / 5xx / drops for HTTP
faults. Response URLs live under `/hooks/` (`response_url(name)`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections import defaultdict, deque
from typing import Any

from tests.standins.http_standin import HTTPStandin, RecordedRequest, Response, json_response

BOT_TOKEN = "xoxb-standin-0000000000-abcdefghijklmnop"


class SlackStandin(HTTPStandin):
    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.users: dict[str, dict[str, Any]] = {}  # Slack user id -> user object
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, root ts)
        self.channels_needing_join: set[str] = set()
        self.missing_channels: set[str] = set()  # posting there answers channel_not_found
        self.joined: set[str] = set()
        self._method_errors: dict[str, deque[str]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._ts_lock = threading.Lock()
        self.posted: list[dict[str, Any]] = []  # every message accepted (post/update/ephemeral)

    # -- set-up helpers -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/hooks/{name}"

    def add_user(
        self, user_id: str, email: str | None, name: str = "User", is_bot: bool = False
    ) -> None:
        profile: dict[str, Any] = {"real_name": name, "display_name": name.split()[0]}
        if email is not None:
            profile["email"] = email
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "is_bot": is_bot,
            "profile": profile,
        }

    def add_thread(self, channel: str, messages: list[dict[str, Any]]) -> None:
        """Messages of one thread, root first; each needs `ts` (and `text`, `user`)."""
        root = messages[0]["ts"]
        if len(messages) > 1:
            for message in messages:
                message.setdefault("thread_ts", root)
        self.threads[(channel, root)] = messages

    def fail_method(self, method: str, error: str, times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}`."""
        for _ in range(times):
            self._method_errors[method].append(error)

    # -- inspection -----------------------------------------------------------------------------

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every recorded call of `method` (JSON body, form or query merged)."""
        return [_params(r) for r in self.requests_to(f"/api/{method}")]

    def hook_calls(self, name: str = "cmd") -> list[dict[str, Any]]:
        return [r.json or {} for r in self.requests_to(f"/hooks/{name}")]

    # -- the API --------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        with self._ts_lock:
            return f"1790000000.{next(self._ts):06d}"

    def handle(self, request: RecordedRequest) -> Response:
        if request.path.startswith("/hooks/"):
            return Response(200, "ok", content_type="text/html")
        if not request.path.startswith("/api/"):
            return json_response({"ok": False, "error": "unknown_method"}, 404)
        method = request.path[len("/api/") :]
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error("invalid_auth")
        errors = self._method_errors.get(method)
        if errors:
            return _error(errors.popleft())
        params = _params(request)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        return handler(params)

    def _auth_test(self, params: dict[str, Any]) -> Response:
        return _ok(
            team="Standin", team_id="T0STANDIN", user="gtm-feedback", user_id="UBOT", bot_id="BBOT"
        )

    def _channel_for(self, channel: str) -> str:
        # Posting to a user id lands in the app's DM with that user (a D... channel).
        if channel.startswith("U") and channel in self.users:
            return "D" + channel[1:]
        return channel.lstrip("#")

    def _chat_postMessage(self, params: dict[str, Any]) -> Response:
        channel = str(params.get("channel") or "")
        if (channel.startswith("U") and channel not in self.users) or (
            channel.lstrip("#") in self.missing_channels
        ):
            return _error("channel_not_found")
        if not params.get("text") and not params.get("blocks"):
            return _error("no_text")
        if channel.lstrip("#") in self.channels_needing_join and channel not in self.joined:
            return _error("not_in_channel")
        ts = self._next_ts()
        resolved = self._channel_for(channel)
        message = {"type": "message", "ts": ts, "text": params.get("text"), "bot_id": "BBOT"}
        self.posted.append({"method": "chat.postMessage", "channel": resolved, **params, "ts": ts})
        return _ok(channel=resolved, ts=ts, message=message)

    def _chat_update(self, params: dict[str, Any]) -> Response:
        self.posted.append({"method": "chat.update", **params})
        return _ok(channel=params.get("channel"), ts=params.get("ts"), text=params.get("text"))

    def _chat_postEphemeral(self, params: dict[str, Any]) -> Response:
        self.posted.append({"method": "chat.postEphemeral", **params})
        return _ok(message_ts=self._next_ts())

    def _chat_getPermalink(self, params: dict[str, Any]) -> Response:
        channel = params.get("channel")
        ts = str(params.get("message_ts") or "").replace(".", "")
        return _ok(channel=channel, permalink=f"https://standin.slack.com/archives/{channel}/p{ts}")

    def _users_lookupByEmail(self, params: dict[str, Any]) -> Response:
        email = str(params.get("email") or "").lower()
        for user in self.users.values():
            if str(user["profile"].get("email", "")).lower() == email:
                return _ok(user=user)
        return _error("users_not_found")

    def _users_info(self, params: dict[str, Any]) -> Response:
        user = self.users.get(str(params.get("user") or ""))
        return _ok(user=user) if user else _error("user_not_found")

    def _conversations_join(self, params: dict[str, Any]) -> Response:
        channel = str(params.get("channel") or "")
        self.joined.add(channel)
        return _ok(channel={"id": channel})

    def _conversations_replies(self, params: dict[str, Any]) -> Response:
        channel = str(params.get("channel") or "")
        ts = str(params.get("ts") or "")
        if channel in self.channels_needing_join and channel not in self.joined:
            return _error("not_in_channel")
        if (channel, ts) in self.threads:
            messages = self.threads[(channel, ts)]
        else:
            # Like Slack: asked for a reply's ts, answer with just that reply (it carries the
            # thread_ts of its root); unknown ts -> thread_not_found.
            found = [
                m
                for msgs in (v for (c, _), v in self.threads.items() if c == channel)
                for m in msgs
                if m["ts"] == ts
            ]
            if not found:
                return _error("thread_not_found")
            messages = found[:1]
        return _ok(messages=messages, has_more=False, response_metadata={"next_cursor": ""})

    def _views_open(self, params: dict[str, Any]) -> Response:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return _ok(view={"id": "V" + self._next_ts().replace(".", ""), **(view or {})})


def _ok(**data: Any) -> Response:
    return json_response({"ok": True, **data})


def _error(code: str) -> Response:
    return json_response({"ok": False, "error": code})


def _params(request: RecordedRequest) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    if request.form:
        params.update({k: v[-1] for k, v in request.form.items()})
    if isinstance(request.json, dict):
        params.update(request.json)
    for key in ("blocks", "view"):
        value = params.get(key)
        if isinstance(value, str) and value.startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params
