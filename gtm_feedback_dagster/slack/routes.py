"""Slack's endpoints on the intake service: `/slack/events`, `/slack/interactions`,
`/slack/commands` (Starlette routes, mounted by `intake/app.py`).

The request path only verifies, stores and answers — well inside Slack's 3 seconds:
1. body at most 1 MiB (413), signature and 5-minute replay window checked on the raw bytes (401,
   nothing stored); without SLACK_SIGNING_SECRET the endpoints answer 503;
2. a signed body that is not UTF-8 is refused (400); the payload is parsed and validated (400
   when malformed) and reduced to what the app uses;
3. it is stored in `slack_inbox` once per dedupe key (Slack's retries and double clicks are
   dropped) and `resolve_slack_responses_job` does the work.
Two documented exceptions act at once: the "Add Feedback" shortcut opens its modal (a trigger
id expires after 3 s, so `views.open` runs in the handler with a short timeout), and a modal
submission is validated so Slack can show field errors in the modal itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import blocks, modal
from gtm_feedback_dagster.messaging.slack_client import SlackClient, build_slack_client
from gtm_feedback_dagster.messaging.slack_errors import classify_error
from gtm_feedback_dagster.slack import payloads
from gtm_feedback_dagster.slack.inbox import store_inbox
from gtm_feedback_dagster.slack.payloads import PayloadError
from gtm_feedback_dagster.slack.verify import (
    MAX_BODY_BYTES,
    ClockLike,
    SlackSignature,
    signing_secret_from_env,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope

log = logging.getLogger(__name__)

VIEWS_OPEN_TIMEOUT_SECONDS = 2.0


class _Reject(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > MAX_BODY_BYTES:
                raise _Reject(_error(413, "request body too large"))
        except ValueError:
            raise _Reject(_error(400, "bad Content-Length")) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Reject(_error(413, "request body too large"))
        chunks.append(chunk)
    return b"".join(chunks)


class SlackEndpoints:
    def __init__(
        self,
        settings: Settings,
        signing_secret: str | None,
        clock: ClockLike | None = None,
        client: SlackClient | None = None,
    ) -> None:
        self.settings = settings
        self.signature = SlackSignature(signing_secret, clock) if signing_secret else None
        self._client = client
        self._client_built = client is not None

    @property
    def client(self) -> SlackClient | None:
        if not self._client_built:
            # No retries: a trigger id is dead after 3 s, a retry would only delay the answer.
            self._client = build_slack_client(
                self.settings, timeout=VIEWS_OPEN_TIMEOUT_SECONDS, max_retries=0
            )
            self._client_built = True
        return self._client

    async def _verified_body(self, request: Request) -> bytes:
        if self.signature is None:
            raise _Reject(_error(503, "Slack is not configured: SLACK_SIGNING_SECRET is not set"))
        body = await _read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not self.signature.is_valid(body, headers):  # on the raw bytes, before any decoding
            raise _Reject(_error(401, "invalid or expired Slack signature"))
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject(
                _error(400, f"request body is not valid UTF-8 (bad byte at offset {exc.start})")
            ) from None
        return body

    async def _store(self, kind: str, dedupe_key: str, payload: dict[str, Any], **kw: Any) -> bool:
        def write() -> bool:
            with session_scope(self.settings.database_url) as session:
                return store_inbox(session, kind, dedupe_key, payload, **kw) is not None

        return await run_in_threadpool(write)

    # -- /slack/events ------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        try:
            body = await self._verified_body(request)
            payload = _json_object(body)
            kind = payload.get("type")
            if kind == "url_verification":
                challenge = payload.get("challenge")
                if not isinstance(challenge, str) or not 0 < len(challenge) <= 500:
                    return _error(400, "malformed url_verification challenge")
                return JSONResponse({"challenge": challenge})
            if kind != "event_callback":
                return JSONResponse({"ok": True, "ignored": str(kind)[:40]})
            event = payloads.reaction_event(payload, self.settings.feedback_emoji)
            if event is None:
                return JSONResponse({"ok": True, "ignored": "event"})
            retry = request.headers.get("x-slack-retry-num")
            if retry and retry.isdigit():
                event["retry_num"] = int(retry)
            stored = await self._store("event", f"event:{event['event_id']}", event)
            return JSONResponse({"ok": True, "duplicate": not stored})
        except _Reject as reject:
            return reject.response
        except PayloadError as exc:
            return _error(400, str(exc))

    # -- /slack/interactions ------------------------------------------------------------------

    async def interactions(self, request: Request) -> Response:
        try:
            body = await self._verified_body(request)
            form = _form(body)
            if "payload" not in form:
                return _error(400, "missing payload")
            payload = _json_object(form["payload"].encode())
            kind = payload.get("type")
            if kind == "block_actions":
                action = payloads.block_action(payload)
                if action is None:
                    return Response(status_code=200)
                # A redelivered click (same action_ts) is dropped; a new click after a failure
                # is a new row (processing is idempotent: a late one is told it was handled).
                subject = (
                    f"merge:{action['duplicate_id']}:{action['target_id']}"
                    if action.get("merge_proposal")
                    else str(action["approval_id"])
                )
                key = (
                    f"action:{subject}:{action['decision']}:{action['user_id']}:"
                    f"{action['action_ts'] or ''}"
                )
                await self._store("interaction", key, action)
                return Response(status_code=200)
            if kind == "shortcut":
                return await self._shortcut(payload)
            if kind == "view_submission":
                return await self._view_submission(payload)
            return Response(status_code=200)  # view_closed, message actions, ...
        except _Reject as reject:
            return reject.response
        except PayloadError as exc:
            return _error(400, str(exc))

    async def _shortcut(self, payload: dict[str, Any]) -> Response:
        shortcut = payloads.shortcut(payload)
        if shortcut is None:
            return Response(status_code=200)
        client = self.client
        error: str | None = None
        if client is None:
            error = "SLACK_BOT_TOKEN is not set: cannot open the Add Feedback modal"
        else:
            try:
                await run_in_threadpool(
                    client.open_view, shortcut["trigger_id"], modal.feedback_modal_view()
                )
            except Exception as exc:  # reported in the inbox row; Slack only needs a 200
                error = f"views.open failed: {classify_error(exc).code}"
        if error:
            log.warning("%s", error)
        # Stored already processed: kept for the audit trail and to drop a retried delivery.
        await self._store(
            "interaction",
            f"shortcut:{shortcut['trigger_id']}",
            shortcut,
            processed=True,
            error=error,
        )
        return Response(status_code=200)

    async def _view_submission(self, payload: dict[str, Any]) -> Response:
        view = payload.get("view") if isinstance(payload.get("view"), dict) else {}
        if view.get("callback_id") != modal.FEEDBACK_VIEW_CALLBACK_ID:
            return Response(status_code=200)
        submission, errors = payloads.view_submission(payload, self.settings.max_text_chars)
        if not errors:
            errors = await run_in_threadpool(self._reference_errors, submission)
        if errors:
            return JSONResponse({"response_action": "errors", "errors": errors})
        await self._store("interaction", f"view:{submission['view_id']}", submission)
        return Response(status_code=200)  # closes the modal

    def _reference_errors(self, submission: dict[str, Any]) -> dict[str, str]:
        """Unknown account/opportunity: told in the modal, while the user can still fix it."""
        errors: dict[str, str] = {}
        with session_scope(self.settings.database_url) as session:
            try:
                account = repo.resolve_account(session, submission["account"])
            except repo.NotFoundError as exc:
                errors[modal.ACCOUNT_BLOCK_ID] = str(exc)[:150]
                return errors
            if submission.get("opportunity"):
                try:
                    repo.resolve_opportunity(session, submission["opportunity"], account)
                except repo.NotFoundError as exc:
                    errors[modal.OPPORTUNITY_BLOCK_ID] = str(exc)[:150]
        return errors

    # -- /slack/commands ----------------------------------------------------------------------

    async def commands(self, request: Request) -> Response:
        try:
            body = await self._verified_body(request)
            form = _form(body)
            try:
                command = payloads.shipped_command(form)
            except PayloadError as exc:
                if "unknown command" in str(exc):
                    return _ephemeral(f"Sorry, I don't know {str(exc)[16:]}.")
                raise
            if command["slug"] is None:
                return _ephemeral(blocks.invalid_shipped_url_text(self.settings.app_url))
            await self._store("command", f"command:{command['trigger_id']}", command)
            return _ephemeral(blocks.SHIPPING_ACK_TEXT)
        except _Reject as reject:
            return reject.response
        except PayloadError as exc:
            return _error(400, str(exc))


def _ephemeral(text: str) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "text": text})


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
        # Lone surrogates ("\ud800" escapes) cannot be stored as UTF-8: refuse them here.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: deep nesting
        raise PayloadError("body is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("body is not a JSON object")
    return data


def _form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 form data") from None
    return {k: v[-1] for k, v in parsed.items()}


def build_slack_routes(
    settings: Settings,
    *,
    signing_secret: str | None = None,
    clock: ClockLike | None = None,
    client: SlackClient | None = None,
) -> list[Route]:
    """The three Slack routes. The signing secret comes from SLACK_SIGNING_SECRET unless given;
    without one the routes exist and answer 503, so a misconfiguration is visible."""
    endpoints = SlackEndpoints(
        settings,
        signing_secret if signing_secret is not None else signing_secret_from_env(),
        clock,
        client,
    )
    return [
        Route("/slack/events", endpoints.events, methods=["POST"], name="slack_events"),
        Route(
            "/slack/interactions",
            endpoints.interactions,
            methods=["POST"],
            name="slack_interactions",
        ),
        Route("/slack/commands", endpoints.commands, methods=["POST"], name="slack_commands"),
    ]
