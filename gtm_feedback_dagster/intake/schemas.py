"""The intake service's HTTP contract as pydantic models, and the OpenAPI 3.1 document built from
their JSON schema (served at `GET /openapi.json` by `intake.api`).

`FeedbackIn` is what `POST /api/feedback` checks before anything else: the JSON type of each
field. The values (a known account, a severity, http(s) links, the text's length) stay with the
feedback validator, which stores a well-formed body with wrong values as an `invalid` entry with
the reasons. The answer models describe what the handlers send; the handlers build plain dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import models_json_schema

MAX_EXTERNAL_ID_CHARS = 300
MAX_SEARCH_LIMIT = 50  # the same bound as `intake.search_api.MAX_LIMIT` (kept in step by a test)


def _external_id_length(value: str | int | None) -> str | int | None:
    if value is not None and not 0 < len(str(value).strip()) <= MAX_EXTERNAL_ID_CHARS:
        raise ValueError("length")
    return value


_Ref = Annotated[
    StrictStr | StrictInt | None,
    Field(description="a name, an email, an external id or a numeric id"),
]
_Text = Annotated[
    Any,  # checked by the feedback validator, which stores a wrong one as an `invalid` entry
    WithJsonSchema({"type": ["string", "null"], "description": "what the customer needs and why"}),
]


class FeedbackIn(BaseModel):
    """The body of `POST /api/feedback`. Other keys are kept (in the entry's `raw`)."""

    model_config = ConfigDict(extra="allow", strict=True)

    customer_pain: _Text = None
    text: _Text = Field(None, description="an alias of customer_pain")
    severity: _Ref = Field(None, description="low | medium | high, or a label (Dealbreaker)")
    account: _Ref = None
    submitter: _Ref = None
    opportunity: _Ref = None
    links: StrictStr | list[StrictStr] | None = Field(
        None, description="http(s) URLs, as a list or one comma-separated string"
    )
    external_id: Annotated[
        StrictStr | StrictInt | None,
        AfterValidator(_external_id_length),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": MAX_EXTERNAL_ID_CHARS},
                    {"type": "integer"},
                    {"type": "null"},
                ],
                "description": "the caller's id: the same id stored twice is one entry",
            }
        ),
    ] = None


_MESSAGES = {"links": "links must be a list of URLs", "external_id": "external_id must be a string"}


def parse_feedback_body(payload: dict[str, Any]) -> tuple[FeedbackIn | None, list[str]]:
    """The body as `FeedbackIn`, or why it is not a well-formed entry: one reason per field, in
    the wording the API has always answered ("account must be a string", ...)."""
    try:
        return FeedbackIn.model_validate(payload), []
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "body"
            if name == "external_id" and error["type"] == "value_error":
                message = f"external_id must be 1 to {MAX_EXTERNAL_ID_CHARS} characters"
            else:
                message = _MESSAGES.get(name, f"{name} must be a string")
            problems.setdefault(name, message)
        return None, list(problems.values())


# ---------------------------------------------------------------------------- answers


class FeedbackStored(BaseModel):
    id: int
    status: str = Field(description="pending (routing will decide) or a later status")
    existing: bool | None = Field(None, description="true when the external_id was stored already")


class ValidationFailed(BaseModel):
    error: Literal["validation failed"]
    errors: list[str]
    id: int | None = Field(None, description="set when the entry was stored `invalid`")
    status: Literal["invalid"] | None = None


class ApiError(BaseModel):
    error: str
    detail: str | None = None
    id: int | None = Field(None, description="the stored entry a 409 is about")
    status: str | None = None


class Named(BaseModel):
    id: int
    name: str | None = None
    email: str | None = None


class RequestRef(BaseModel):
    id: int
    slug: str
    title: str
    url: str


class FeedbackDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    status: str
    source: str
    external_id: str | None = None
    customer_pain: str | None = None
    severity: str | None = None
    severity_label: str | None = None
    account: Named | None = None
    opportunity: Named | None = None
    submitter: Named | None = None
    links: list[str] = []
    request: RequestRef | None = None
    match_type: str | None = None
    confidence: float | None = None
    reason: str | None = None
    error: str | None = None
    attempts: int = 0
    meta: dict[str, Any] = {}
    created_at: str | None = None
    updated_at: str | None = None
    routed_at: str | None = None


class SearchResult(BaseModel):
    request_id: int
    slug: str
    title: str
    status: str
    areas: list[str]
    url: str
    confidence: float
    similarity: float
    reason: str


class SearchResults(BaseModel):
    query: str
    area: str | None = None
    count: int
    results: list[SearchResult]


class Health(BaseModel):
    ok: bool
    search: Literal["cold", "warming", "ready", "failed"]
    error: str | None = None


# ---------------------------------------------------------------------------- OpenAPI

_REF = "#/components/schemas/{model}"
_MODELS: list[type[BaseModel]] = [
    FeedbackIn,
    FeedbackStored,
    ValidationFailed,
    ApiError,
    FeedbackDetail,
    SearchResults,
    Health,
]


def _answer(description: str, model: type[BaseModel] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if model is not None:
        schema = {"$ref": _REF.format(model=model.__name__)}
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


_AUTH = {
    "401": _answer("missing or invalid bearer token", ApiError),
    "503": _answer("API token not configured, or the database is unavailable", ApiError),
}


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """OpenAPI 3.1 of the service's JSON API; schemas are the models' JSON schema (2020-12)."""
    _, schemas = models_json_schema(
        [(m, "validation" if m is FeedbackIn else "serialization") for m in _MODELS],
        ref_template=_REF,
    )
    components = dict(schemas.get("$defs", {}))
    secured = [{"bearer": []}]
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "GTM feedback intake",
            "version": "1",
            "description": "Feedback entries in, routed requests out. Bearer token: "
            "GTM_FEEDBACK_API_TOKEN. Errors are JSON objects with an `error` message.",
        },
        "paths": {
            "/api/feedback": {
                "post": {
                    "operationId": "submitFeedback",
                    "summary": "Store one feedback entry (routing decides where it goes)",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "1-200 printable ASCII characters: a retry with the "
                            "same key and body gets the first answer; another body gets 409",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="FeedbackIn")}
                            }
                        },
                    },
                    "responses": {
                        "201": _answer("stored, pending routing", FeedbackStored),
                        "200": _answer("already stored under this external_id", FeedbackStored),
                        "400": _answer("malformed JSON", ApiError),
                        **_AUTH,
                        "409": _answer("external_id or Idempotency-Key reused", ApiError),
                        "413": _answer("body over 64 KiB", ApiError),
                        "415": _answer("not application/json", ApiError),
                        "422": _answer("validation failed", ValidationFailed),
                    },
                }
            },
            "/api/feedback/{entry_id}": {
                "get": {
                    "operationId": "getFeedback",
                    "summary": "One entry with its routing outcome",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "entry_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    ],
                    "responses": {
                        "200": _answer("the entry", FeedbackDetail),
                        **_AUTH,
                        "404": _answer("no such entry", ApiError),
                    },
                }
            },
            "/api/search": {
                "get": {
                    "operationId": "searchRequests",
                    "summary": "Requests ranked by calibrated confidence, as routing sees them",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1},
                        },
                        {
                            "name": "area",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_SEARCH_LIMIT,
                                "default": 10,
                            },
                        },
                    ],
                    "responses": {
                        "200": _answer("ranked requests", SearchResults),
                        "400": _answer("missing or bad q, limit or area", ApiError),
                        **_AUTH,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Database reachable, and the search warm-up status",
                    "security": [],
                    "responses": {
                        "200": _answer("healthy", Health),
                        "503": _answer("database unreachable", Health),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
