"""`GET /api/search` in the intake service, with the real local model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.intake.search_api import SearchService, build_routes
from gtm_feedback_dagster.runtime import Runtime
from tests.routing.handmade import seed_requests

TOKEN = "test-token-123"


@pytest.fixture
def client(
    app_env: str, monkeypatch: pytest.MonkeyPatch, local_embedder: LocalEmbedder, tmp_path: Path
) -> Iterator[TestClient]:
    monkeypatch.setenv("GTM_FEEDBACK_API_TOKEN", TOKEN)
    seed_requests(app_env)
    app = Starlette(routes=build_routes(SearchService(Runtime.from_settings(load_settings()))))
    with TestClient(app) as test_client:
        yield test_client


def _get(client: TestClient, token: str | None = TOKEN, **params: str):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/api/search", params=params, headers=headers)


def test_search_ranks_requests_with_confidence_and_reason(client: TestClient) -> None:
    response = _get(client, q="they need to export dashboards as PDF files for the board")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["results"]) == 5
    top = body["results"][0]
    assert top["title"] == "Export dashboards to PDF"
    assert top["url"] == "http://localhost:8000/requests/export-dashboards-to-pdf"
    assert 0.0 <= top["confidence"] <= 1.0 and top["reason"]
    confidences = [r["confidence"] for r in body["results"]]
    assert confidences == sorted(confidences, reverse=True)


def test_area_and_limit(client: TestClient) -> None:
    body = _get(client, q="sign in with our identity provider", area="Access Management").json()
    assert {r["areas"][0] for r in body["results"]} == {"access-management"}
    assert body["results"][0]["title"].startswith("SAML single sign-on")
    assert len(_get(client, q="reports", limit="2").json()["results"]) == 2


def test_bad_queries_get_a_clear_400(client: TestClient) -> None:
    assert _get(client).status_code == 400
    assert _get(client, q="   ").status_code == 400
    assert _get(client, q="x", limit="0").status_code == 400
    assert _get(client, q="x", limit="many").status_code == 400
    unknown = _get(client, q="x", area="nope")
    assert unknown.status_code == 400 and "unknown product area" in unknown.json()["error"]


def test_the_token_is_required(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _get(client, token=None, q="pdf").status_code == 401
    assert _get(client, token="wrong", q="pdf").status_code == 401
    monkeypatch.delenv("GTM_FEEDBACK_API_TOKEN")
    assert _get(client, q="pdf").status_code == 503


@pytest.mark.parametrize("limit", ["9" * 5000, "²", "١٢", "-1", "0", "51", "1e3", " 5"])
def test_bad_limits_are_400_not_500(client: TestClient, limit: str) -> None:
    response = _get(client, q="pdf", limit=limit)
    assert response.status_code == 400, response.text
    assert "limit must be a whole number" in response.json()["error"]
