from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from gtm_feedback_dagster.config import Settings, load_settings
from gtm_feedback_dagster.intake.api import API_TOKEN_ENV, MAX_BODY_BYTES
from gtm_feedback_dagster.intake.app import collect_routes, create_app
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback
from tests.intake.seed import seed_url

TOKEN = "test-token-not-a-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(url: str) -> Settings:
    return dataclasses.replace(load_settings(), database_url=url, max_text_chars=200)


@pytest.fixture
def api_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Seeded SQLite database with the API token set (validation rules are not per backend)."""
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    seed_url(sqlite_url)
    return sqlite_url


@pytest.fixture
def both_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same, on SQLite and on PostgreSQL: for what the database decides (ids, idempotency)."""
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    seed_url(db_url)
    return db_url


@pytest.fixture
def client(api_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(api_url)), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def both_client(both_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(both_url)), raise_server_exceptions=True) as test_client:
        yield test_client


def _entries(url: str) -> list[Feedback]:
    with session_scope(url) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


VALID = {
    "customer_pain": "Exports time out on big boards.",
    "severity": "Dealbreaker",
    "account": "Acme",
    "submitter": "ann@example.com",
    "opportunity": "Acme renewal",
    "links": ["https://support.example.com/42"],
}


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    # The search index is built on first use unless the service warms it (`serve` does).
    assert (response.status_code, response.json()) == (200, {"ok": True, "search": "cold"})


def test_healthz_reports_an_unreachable_database_without_leaking_the_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = "postgresql+psycopg2://user:s3cret@127.0.0.1:1/nowhere"
    with TestClient(create_app(_settings(url))) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "error": "database unreachable", "search": "cold"}
    assert "s3cret" not in response.text


def test_post_creates_a_pending_entry_and_get_shows_it(
    both_client: TestClient, both_url: str
) -> None:
    client, api_url = both_client, both_url
    response = client.post("/api/feedback", json=VALID, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    (entry,) = _entries(api_url)
    assert (entry.id, entry.source, entry.severity) == (body["id"], "api", "high")
    assert entry.opportunity_id is not None and entry.links == VALID["links"]

    shown = client.get(f"/api/feedback/{body['id']}", headers=AUTH)
    assert shown.status_code == 200
    detail = shown.json()
    assert detail["status"] == "pending"
    assert detail["account"]["name"] == "Acme"
    assert detail["customer_pain"] == VALID["customer_pain"]
    assert "raw" not in detail
    assert client.get("/api/feedback/999999", headers=AUTH).status_code == 404
    assert client.get("/api/feedback/abc", headers=AUTH).status_code == 404


def test_external_id_makes_the_call_idempotent(both_client: TestClient, both_url: str) -> None:
    client, api_url = both_client, both_url
    payload = {**VALID, "external_id": "crm-case-7"}
    first = client.post("/api/feedback", json=payload, headers=AUTH)
    second = client.post("/api/feedback", json=payload, headers=AUTH)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["existing"] is True
    assert len(_entries(api_url)) == 1


def test_text_alias_and_int_external_id(client: TestClient) -> None:
    payload = {
        "text": "SSO please",
        "severity": "low",
        "account": "001GLOBEX",
        "submitter": "Bob Stone",
        "external_id": 5,
    }
    response = client.post("/api/feedback", json=payload, headers=AUTH)
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "missing or invalid bearer token"),
        ({"Authorization": "Bearer wrong"}, 401, "missing or invalid bearer token"),
        ({"Authorization": TOKEN}, 401, "missing or invalid bearer token"),
        ({"Authorization": "Basic " + TOKEN}, 401, "missing or invalid bearer token"),
    ],
)
def test_bad_tokens_are_refused(
    client: TestClient, api_url: str, headers: dict[str, str], status: int, message: str
) -> None:
    response = client.post("/api/feedback", json=VALID, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, message)
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/feedback/1", headers=headers).status_code == 401
    assert _entries(api_url) == []


def test_without_a_configured_token_the_api_is_closed(
    api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(API_TOKEN_ENV)
    with TestClient(create_app(_settings(api_url))) as client:
        response = client.post("/api/feedback", json=VALID, headers=AUTH)
        assert response.status_code == 503
        assert response.json()["error"] == "API token not configured"
        assert client.post("/api/feedback", json=VALID).status_code == 503
    assert _entries(api_url) == []


def test_malformed_requests_get_4xx(client: TestClient, api_url: str) -> None:
    post = client.post
    json_headers = {**AUTH, "Content-Type": "application/json"}
    assert post("/api/feedback", content=b"{not json", headers=json_headers).status_code == 400
    assert post("/api/feedback", content=b"\xff\xfe", headers=json_headers).status_code == 400
    bad_type = post("/api/feedback", content=b"a=b", headers={**AUTH, "Content-Type": "text/plain"})
    assert bad_type.status_code == 415
    assert post("/api/feedback", content=json.dumps(VALID), headers=AUTH).status_code == 415
    array = post("/api/feedback", json=[VALID], headers=AUTH)
    assert (array.status_code, array.json()["errors"]) == (422, ["the body must be a JSON object"])
    too_big = {**VALID, "customer_pain": "x" * (MAX_BODY_BYTES + 1)}
    assert post("/api/feedback", json=too_big, headers=AUTH).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        yield b'{"customer_pain": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}'

    assert post("/api/feedback", content=chunks(), headers=json_headers).status_code == 413
    assert client.put("/api/feedback", json=VALID, headers=AUTH).status_code == 405
    assert _entries(api_url) == []


def test_invalid_entries_with_a_known_submitter_are_stored_invalid(
    both_client: TestClient, both_url: str
) -> None:
    client, api_url = both_client, both_url
    payload = {**VALID, "customer_pain": "z" * 201, "severity": "meh", "account": "Nobody"}
    response = client.post("/api/feedback", json=payload, headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "invalid"
    assert any("too long (201 > 200" in e for e in body["errors"])
    assert any("unknown severity 'meh'" in e for e in body["errors"])
    assert any("unknown account 'Nobody'" in e for e in body["errors"])
    (entry,) = _entries(api_url)
    assert (entry.id, entry.status, entry.submitter_id is not None) == (body["id"], "invalid", True)
    assert entry.raw == payload and "unknown account" in (entry.error or "")


@pytest.mark.parametrize(
    ("change", "reason", "stored"),
    [
        ({"customer_pain": "   "}, "customer_pain is empty", True),
        ({"customer_pain": None, "text": None}, "customer_pain is required", True),
        ({"links": "ftp://nope"}, "not an http(s) link", True),
        # Nobody to tell about a stored invalid entry: refused only.
        ({"submitter": "ghost@example.com"}, "unknown user 'ghost@example.com'", False),
        ({"submitter": None}, "submitter is required", False),
        # Wrong JSON types are not a well-formed entry: refused only.
        ({"links": [1, 2]}, "links must be a list of URLs", False),
        ({"account": {"id": 1}}, "account must be a string", False),
        ({"external_id": ""}, "external_id must be 1 to 300 characters", False),
    ],
)
def test_validation_errors_are_422_with_reasons(
    client: TestClient, api_url: str, change: dict[str, object], reason: str, stored: bool
) -> None:
    response = client.post("/api/feedback", json={**VALID, **change}, headers=AUTH)
    assert response.status_code == 422
    assert any(reason in e for e in response.json()["errors"]), response.json()
    entries = _entries(api_url)
    assert len(entries) == int(stored)
    if stored:
        assert entries[0].status == "invalid" and response.json()["id"] == entries[0].id


def test_fixed_resubmission_with_the_same_external_id_revives_the_entry(
    both_client: TestClient, both_url: str
) -> None:
    client, api_url = both_client, both_url
    bad = {**VALID, "severity": "meh", "external_id": "case-9"}
    first = client.post("/api/feedback", json=bad, headers=AUTH)
    assert first.status_code == 422
    fixed = client.post("/api/feedback", json={**bad, "severity": "high"}, headers=AUTH)
    assert fixed.status_code == 200
    assert fixed.json() == {"id": first.json()["id"], "status": "pending", "existing": True}
    (entry,) = _entries(api_url)
    assert (entry.status, entry.error, entry.raw) == ("pending", None, None)


def test_create_app_mounts_the_routes_of_every_intake_module(sqlite_url: str) -> None:
    runtime = Runtime.from_settings(_settings(sqlite_url))
    paths = {r.path for r in collect_routes(runtime) if isinstance(r, Route)}
    assert {"/api/feedback", "/api/feedback/{entry_id}", "/api/search"} <= paths
    app_paths = {r.path for r in create_app(_settings(sqlite_url)).routes if isinstance(r, Route)}
    assert "/healthz" in app_paths and paths <= app_paths


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_real_uvicorn_server_over_http(api_url: str) -> None:
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(_settings(api_url)), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/healthz").json()["ok"] is True
            created = http.post("/api/feedback", json={**VALID, "external_id": "u-1"}, headers=AUTH)
            assert created.status_code == 201
            again = http.post("/api/feedback", json={**VALID, "external_id": "u-1"}, headers=AUTH)
            assert (again.status_code, again.json()["id"]) == (200, created.json()["id"])
            assert http.post("/api/feedback", json=VALID).status_code == 401
            assert (
                http.post(
                    "/api/feedback",
                    content=b"{",
                    headers={**AUTH, "Content-Type": "application/json"},
                ).status_code
                == 400
            )
            shown = http.get(f"/api/feedback/{created.json()['id']}", headers=AUTH)
            assert shown.json()["status"] == "pending"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert len(_entries(api_url)) == 1


# ---------------------------------------------------------------------------- issue 15: bad input

HUGE = "99999999999999999999"  # > 2^63


@pytest.mark.parametrize("field", ["account", "submitter", "opportunity"])
@pytest.mark.parametrize("as_number", [False, True])
def test_ids_above_2_63_are_validation_errors_not_500(
    both_client: TestClient, both_url: str, field: str, as_number: bool
) -> None:
    value: object = int(HUGE) if as_number else HUGE
    response = both_client.post("/api/feedback", json={**VALID, field: value}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert any(HUGE in e for e in response.json()["errors"]), response.json()
    ok = both_client.post("/api/feedback", json=VALID, headers=AUTH)
    assert ok.status_code == 201


def test_get_with_an_id_above_2_63_is_404(both_client: TestClient) -> None:
    for entry_id in ("9223372036854775808", HUGE, "9" * 5000):
        assert both_client.get(f"/api/feedback/{entry_id}", headers=AUTH).status_code == 404


def test_a_number_over_the_int_conversion_limit_is_400(client: TestClient, api_url: str) -> None:
    body = '{"customer_pain": "x", "account": ' + "9" * 5000 + "}"
    response = client.post(
        "/api/feedback", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert _entries(api_url) == []


def test_nan_in_an_invalid_payload_is_stored_as_standard_json(
    both_client: TestClient, both_url: str
) -> None:
    body = '{"text": NaN, "severity": "high", "account": "Acme", "submitter": "ann@example.com"}'
    response = both_client.post(
        "/api/feedback", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    (entry,) = _entries(both_url)
    assert entry.status == "invalid" and entry.raw["text"] == "NaN"
    assert both_client.get(f"/api/feedback/{entry.id}", headers=AUTH).status_code == 200


def test_idempotency_key_replays_the_first_answer(both_client: TestClient, both_url: str) -> None:
    headers = {**AUTH, "Idempotency-Key": "retry-7f3a"}
    first = both_client.post("/api/feedback", json=VALID, headers=headers)
    again = both_client.post("/api/feedback", json=dict(reversed(VALID.items())), headers=headers)
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (201, first.json())
    other = both_client.post("/api/feedback", json={**VALID, "severity": "low"}, headers=headers)
    assert other.status_code == 409 and other.json()["id"] == first.json()["id"]
    (entry,) = _entries(both_url)
    assert entry.external_id == "idem:retry-7f3a"
    assert entry.meta["idempotency"]["status_code"] == 201
    # Without the header, the same body is a new statement (as before).
    assert both_client.post("/api/feedback", json=VALID, headers=AUTH).status_code == 201


def test_idempotency_key_replays_an_invalid_answer_and_checks_its_shape(
    client: TestClient, api_url: str
) -> None:
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    bad = {**VALID, "severity": "meh"}
    first = client.post("/api/feedback", json=bad, headers=headers)
    again = client.post("/api/feedback", json=bad, headers=headers)
    assert first.status_code == 422 and (again.status_code, again.json()) == (422, first.json())
    assert len(_entries(api_url)) == 1
    for key in ("x" * 201, "bad key\x7f", "ключ".encode()):
        response = client.post(
            "/api/feedback", json=VALID, headers={**AUTH, "Idempotency-Key": key}
        )
        assert response.status_code in (400, 422), key


def test_reused_external_id_with_other_text_is_409_with_the_stored_id(
    both_client: TestClient, both_url: str
) -> None:
    payload = {**VALID, "external_id": "crm-case-8"}
    first = both_client.post("/api/feedback", json=payload, headers=AUTH)
    changed = both_client.post(
        "/api/feedback", json={**payload, "customer_pain": "Something else"}, headers=AUTH
    )
    assert changed.status_code == 409
    assert changed.json()["id"] == first.json()["id"]
    (entry,) = _entries(both_url)
    assert entry.customer_pain == VALID["customer_pain"]


def test_retrying_the_same_invalid_body_stores_it_once(client: TestClient, api_url: str) -> None:
    bad = {**VALID, "severity": "meh"}
    ids = {client.post("/api/feedback", json=bad, headers=AUTH).json()["id"] for _ in range(3)}
    assert len(ids) == 1 and len(_entries(api_url)) == 1


def test_control_characters_are_cleaned_and_the_original_kept_in_raw(
    both_client: TestClient, both_url: str
) -> None:
    pain = "Invoice \u202egpj.exe\u202c is broken\x1b[2J"
    response = both_client.post(
        "/api/feedback", json={**VALID, "customer_pain": pain}, headers=AUTH
    )
    assert response.status_code == 201
    (entry,) = _entries(both_url)
    assert entry.customer_pain == "Invoice gpj.exe is broken[2J"
    assert entry.raw["customer_pain"] == pain
    shown = both_client.get(f"/api/feedback/{entry.id}", headers=AUTH).json()
    assert shown["customer_pain"] == entry.customer_pain


# ---------------------------------------------------------------------------- properties

edge_value = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.integers(max_value=-(2**63) + 2, min_value=-(2**70)),
    st.integers(min_value=2**63 - 2, max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.text(min_size=195, max_size=205, alphabet="ab"),  # around max_text_chars (200)
    st.booleans(),
    st.none(),
    st.sampled_from(["Acme", "ann@example.com", "Acme renewal", "high", "", "\x00", "\u202e"]),
)
edge_body = st.fixed_dictionaries(
    {},
    optional={
        "customer_pain": edge_value,
        "severity": edge_value,
        "account": edge_value,
        "submitter": edge_value,
        "opportunity": edge_value,
        "external_id": edge_value,
        "links": st.one_of(edge_value, st.lists(edge_value, max_size=3)),
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=edge_body, nan=st.sampled_from(["", "NaN", "Infinity", "-Infinity"]))
def test_api_answers_4xx_or_2xx_never_5xx(
    both_client: TestClient, body: dict[str, object], nan: str
) -> None:
    text = json.dumps(body)
    if nan:  # Python's json reads these; standard JSON has no such literal
        text = text[:-1] + (", " if body else "") + f'"text": {nan}}}'
    response = both_client.post(
        "/api/feedback", content=text, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code < 500, (text, response.text)
    assert response.status_code in (200, 201, 400, 409, 422), response.text


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entry_id=st.one_of(st.integers(min_value=0, max_value=2**80), st.text(max_size=20)))
def test_get_answers_404_or_200_never_5xx(both_client: TestClient, entry_id: object) -> None:
    response = both_client.get(f"/api/feedback/{quote(str(entry_id), safe='')}", headers=AUTH)
    assert response.status_code in (200, 404, 405), response.text


def test_concurrent_retries_with_one_idempotency_key_store_one_entry(
    both_url: str,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy.exc import OperationalError

    from gtm_feedback_dagster.intake.api import submit_payload

    settings_ = _settings(both_url)

    def post(_: int) -> tuple[int, dict[str, object]] | str:
        try:
            return submit_payload(settings_, dict(VALID), "burst-1")
        except OperationalError:  # SQLite busy: the API answers 503, the client retries
            return "503"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(20)))
    stored = [a for a in answers if a != "503"]
    assert stored and all(a == stored[0] for a in stored), answers
    assert stored[0][0] == 201  # type: ignore[index]
    assert len(_entries(both_url)) == 1


# ---------------------------------------------------------------------------- OpenAPI


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_document_parses_and_names_every_api_route(client: TestClient) -> None:
    response = client.get("/openapi.json")  # no token: the document holds no data
    assert response.status_code == 200
    doc = json.loads(response.text)
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"]
    served = {
        route.path: {m.lower() for m in (route.methods or ())} - {"head"}
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        and (route.path.startswith("/api/") or route.path in ("/healthz", "/openapi.json"))
    }
    assert {"/api/feedback", "/api/feedback/{entry_id}", "/api/search", "/healthz"} <= set(served)
    assert {path: set(ops) for path, ops in doc["paths"].items()} == served
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            assert operation["responses"], path
            if operation.get("security"):
                assert "401" in operation["responses"], path
    body = schemas["FeedbackIn"]
    assert set(VALID) <= set(body["properties"]) and body["additionalProperties"] is True


def test_openapi_limits_match_the_handlers() -> None:
    from gtm_feedback_dagster.intake import schemas, search_api

    assert schemas.MAX_SEARCH_LIMIT == search_api.MAX_LIMIT
    doc = schemas.openapi_document()
    (limit,) = [p for p in doc["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == search_api.MAX_LIMIT


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"account": 1.5, "links": [1], "external_id": True}, 3),
        ({"severity": ["high"], "external_id": "x" * 301}, 2),
        ({"submitter": {"id": 1}, "extra": {"kept": True}}, 1),
    ],
)
def test_the_body_model_gives_one_reason_per_field(body: dict[str, object], errors: int) -> None:
    from gtm_feedback_dagster.intake.schemas import parse_feedback_body

    parsed, problems = parse_feedback_body({**VALID, **body})
    assert parsed is None and len(problems) == errors, problems
    assert all(
        p.endswith(("must be a string", "list of URLs", "1 to 300 characters")) for p in problems
    )
    parsed, problems = parse_feedback_body({**VALID, "extra": {"kept": True}, "external_id": 7})
    assert parsed is not None and problems == [] and parsed.external_id == 7
