"""The feedback API: `POST /api/feedback` stores an entry, `GET /api/feedback/{id}` shows it.

Both sit behind `Authorization: Bearer <GTM_FEEDBACK_API_TOKEN>`. Without a configured token the
API answers 503 instead of running open. Bad input always gets a 4xx with the reasons, never a
500: 400 malformed JSON, 401 bad or missing token, 413 body over 64 KiB (refused before it is
read whole), 415 not JSON, 422 validation errors (the body's JSON types are checked by the
pydantic model `intake.schemas.FeedbackIn`, the values by the feedback validator). An invalid
but well-formed entry whose submitter resolves is stored `invalid` with the reasons as well, so
it is not lost. `GET /openapi.json` (no token: it holds no data) is the OpenAPI 3.1 document of
the service's JSON API, built from the models' JSON schema.

Idempotency: with `external_id`, the same call stored twice returns the first entry (200); the
same `external_id` with other content answers 409 with the stored entry's id (nothing changes).
An `Idempotency-Key` header (1-200 printable ASCII characters) makes any call safe to retry: the
same key with the same JSON body answers what the first call answered (status and body), the
same key with another body answers 409. It is stored without a schema change: an entry without
`external_id` is keyed `idem:<key>` (the unique (source, external_id) pair holds it under
concurrent retries), and its `meta.idempotency` keeps the body's SHA-256 and the first answer.
With both, `external_id` keys the entry. An invalid entry with neither is keyed by the hash of its
body, so retrying the same bad body stores it once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gtm_feedback_dagster.catalog.resolver import RefResolver
from gtm_feedback_dagster.config import Settings, load_secrets
from gtm_feedback_dagster.core.validation import as_db_id
from gtm_feedback_dagster.feedback.entries import entry_detail
from gtm_feedback_dagster.feedback.submission import StoredFeedback, store_feedback
from gtm_feedback_dagster.feedback.validate import prepare_feedback
from gtm_feedback_dagster.intake.schemas import openapi_document, parse_feedback_body
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback

API_TOKEN_ENV = "GTM_FEEDBACK_API_TOKEN"
API_SOURCE = "api"
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_CHARS = 200


class _BodyTooLarge(Exception):
    pass


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def check_token(request: Request) -> JSONResponse | None:
    """None when the bearer token matches; otherwise the response to send."""
    expected = load_secrets().api_token or ""
    if not expected:
        return _error(503, "API token not configured", detail=f"set {API_TOKEN_ENV} on the server")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest keeps the comparison time independent of where the strings differ.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8"), expected.encode("utf-8")
    ):
        return _error(401, "missing or invalid bearer token")
    return None


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def body_hash(payload: dict[str, Any]) -> str:
    """The idempotency fingerprint of a body: the same JSON object in any key order or spacing."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def idempotency_problem(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not key.isascii() or not key.isprintable():
        return (
            f"the {IDEMPOTENCY_HEADER} header must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable "
            "ASCII characters"
        )
    return None


def _replay(entry: Feedback, fingerprint: str) -> tuple[int, dict[str, Any]] | None:
    """The first answer for a repeated Idempotency-Key, or the 409 for a different body; None
    when the entry holds no idempotency record (it was stored by its external_id alone)."""
    record = (entry.meta or {}).get("idempotency")
    if not isinstance(record, dict):
        return None
    if record.get("body_sha256") != fingerprint:
        return 409, {
            "error": f"{IDEMPOTENCY_HEADER} already used with a different body",
            "id": entry.id,
        }
    return int(record["status_code"]), dict(record["response"])


def submit_payload(
    settings: Settings, payload: dict[str, Any], idempotency_key: str | None = None
) -> tuple[int, dict[str, Any]]:
    """Stores one API submission; returns (HTTP status, body). Runs in a worker thread.

    Keys (see the module docstring): the body's `external_id`, else `idem:<Idempotency-Key>`,
    else, for an invalid entry only, `invalid:<body hash>` so a retried bad body is stored once.
    """
    body, shape = parse_feedback_body(payload)
    key_problem = idempotency_problem(idempotency_key)
    if key_problem:
        shape.append(key_problem)
    if body is None or shape:
        return 422, {"error": "validation failed", "errors": shape}
    external_id = str(body.external_id).strip() if body.external_id is not None else None
    if external_id is None and idempotency_key is not None:
        external_id = f"idem:{idempotency_key}"
    fingerprint = body_hash(payload)
    record = {
        "customer_pain": payload.get("customer_pain", body.text),
        "severity": body.severity,
        "account": body.account,
        "submitter": body.submitter,
        "opportunity": body.opportunity,
        "links": body.links,
    }
    with session_scope(settings.database_url) as session:
        if idempotency_key is not None:
            earlier = _stored(session, external_id)
            replay = _replay(earlier, fingerprint) if earlier is not None else None
            if replay is not None:
                return replay
        prepared = prepare_feedback(record, RefResolver(session), max_chars=settings.max_text_chars)
        # Storing an invalid entry needs someone to tell about it: a resolvable submitter.
        keep_invalid = prepared.values.get("submitter_id") is not None
        if not prepared.valid and not keep_invalid and external_id is None:
            return 422, {"error": "validation failed", "errors": prepared.problems}
        if not prepared.valid and external_id is None:
            external_id = f"invalid:{fingerprint}"
        try:
            stored = store_feedback(
                session,
                prepared,
                source=API_SOURCE,
                external_id=external_id,
                raw=payload,
                store_invalid=keep_invalid,
                report_conflicts=True,
            )
        except repo.NotFoundError as exc:  # pragma: no cover - prepare_feedback reports these
            return 422, {"error": "validation failed", "errors": [str(exc)]}
        except ValueError:
            return 422, {"error": "validation failed", "errors": prepared.problems}
        status, body = _answer(stored, prepared.problems)
        if idempotency_key is not None and stored.outcome in ("created", "invalid"):
            entry = session.get(Feedback, stored.id)
            if entry is not None and entry.external_id == f"idem:{idempotency_key}":
                entry.meta = {
                    **(entry.meta or {}),
                    "idempotency": {
                        "key": idempotency_key,
                        "body_sha256": fingerprint,
                        "status_code": status,
                        "response": body,
                    },
                }
        elif idempotency_key is not None and stored.outcome == "existing":
            # A concurrent twin stored it first: its answer is the first answer.
            entry = session.get(Feedback, stored.id)
            replay = _replay(entry, fingerprint) if entry is not None else None
            if replay is not None:
                return replay
    return status, body


def _stored(session: Any, external_id: str | None) -> Feedback | None:
    if external_id is None:
        return None
    return session.scalars(
        select(Feedback).where(Feedback.source == API_SOURCE, Feedback.external_id == external_id)
    ).first()


def _answer(stored: StoredFeedback, problems: list[str]) -> tuple[int, dict[str, Any]]:
    if stored.outcome == "created":
        return 201, {"id": stored.id, "status": stored.status}
    if stored.outcome == "conflict":
        return 409, {
            "error": "external_id already stored with other content",
            "id": stored.id,
            "status": stored.status,
        }
    if stored.status == "invalid":
        return 422, {
            "error": "validation failed",
            "errors": list(stored.problems) or problems,
            "id": stored.id,
            "status": stored.status,
        }
    return 200, {"id": stored.id, "status": stored.status, "existing": True}


def build_routes(settings: Settings) -> list[BaseRoute]:
    async def post_feedback(request: Request) -> JSONResponse:
        denied = check_token(request)
        if denied is not None:
            return denied
        if not _is_json(request.headers.get("content-type", "")):
            return _error(415, "send the entry as application/json")
        try:
            body = await read_limited_body(request)
        except _BodyTooLarge:
            return _error(413, f"request body over {MAX_BODY_BYTES // 1024} KiB")
        try:
            payload = json.loads(body.decode("utf-8"))
            # A "\ud800" escape decodes to a lone surrogate, which no database stores as UTF-8.
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, f"malformed JSON: {exc}")
        except ValueError:  # an integer literal over Python's 4,300-digit conversion limit
            return _error(400, "malformed JSON: a number is too long")
        except UnicodeEncodeError:
            return _error(400, "malformed JSON: a \\u escape is not valid unicode")
        except RecursionError:  # thousands of nested brackets fit in 64 KiB
            return _error(400, "malformed JSON: nested too deeply")
        if not isinstance(payload, dict):
            return _error(422, "validation failed", errors=["the body must be a JSON object"])
        try:
            status, content = await run_in_threadpool(
                submit_payload, settings, payload, request.headers.get(IDEMPOTENCY_HEADER)
            )
        except OperationalError:
            return _error(503, "database unavailable, try again")
        return JSONResponse(content, status_code=status)

    async def get_feedback(request: Request) -> JSONResponse:
        denied = check_token(request)
        if denied is not None:
            return denied
        # Matched as text: Starlette's `int` convertor raises (a 500) on 5,000 digits.
        given = str(request.path_params["entry_id"])
        entry_id = as_db_id(given)
        if entry_id is None:
            return _error(404, f"no entry {given[:40]}")

        def load() -> dict[str, Any] | None:
            with session_scope(settings.database_url) as session:
                try:
                    detail = entry_detail(session, entry_id, settings.app_url)
                except repo.NotFoundError:
                    return None
            detail.pop("raw", None)
            return detail

        try:
            detail = await run_in_threadpool(load)
        except OperationalError:
            return _error(503, "database unavailable, try again")
        if detail is None:
            return _error(404, f"no entry {entry_id}")
        return JSONResponse(detail)

    async def openapi(request: Request) -> JSONResponse:
        # Unauthenticated: the document holds no data, and clients and fuzzers start from it.
        return JSONResponse(openapi_document(settings.app_url or None))

    return [
        Route("/api/feedback", post_feedback, methods=["POST"]),
        Route("/api/feedback/{entry_id}", get_feedback, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
    ]
