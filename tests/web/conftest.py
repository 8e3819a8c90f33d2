from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from gtm_feedback_dagster.config import load_secrets, load_settings
from gtm_feedback_dagster.runtime import Runtime
from tests.web.support import WebSeed, seed_web

API_TOKEN = "test-api-token"


@pytest.fixture
def web_env(app_env: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, WebSeed]:
    monkeypatch.setenv("GTM_FEEDBACK_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("GTM_FEEDBACK_WEB_SECRET", "test-web-secret")
    monkeypatch.delenv("GTM_FEEDBACK_TRUSTED_PROXY_HEADER", raising=False)
    return app_env, seed_web(app_env)


class FakeSearch:
    def __init__(self, hits: list[int]) -> None:
        self.hits = hits

    def search(self, text: str, area: str | None, limit: int) -> list[dict[str, Any]]:
        return [{"request_id": i} for i in self.hits]


def make_client(search: Any = None, embedder: Any = None) -> TestClient:
    from gtm_feedback_dagster.intake.app import create_app

    runtime = Runtime.from_settings(load_settings(), load_secrets())
    if embedder is not None:
        runtime.__dict__["embedder"] = embedder  # the session's loaded model
    app = create_app(runtime=runtime)
    if search is not None:
        from starlette.applications import Starlette

        from gtm_feedback_dagster.web.routes import build_routes

        app = Starlette(routes=build_routes(runtime, search))
    return TestClient(app, base_url="http://localhost:8000", follow_redirects=False)


def sign_in(client: TestClient, email: str = "ann@example.com") -> None:
    from tests.web.support import csrf_of, issue_link

    link = issue_link(email)
    page = client.get(link)
    assert page.status_code == 200, page.text
    token = link.split("token=")[1].split("&")[0]
    from urllib.parse import unquote

    done = client.post(
        "/login/link",
        data={"csrf": csrf_of(page.text), "token": unquote(token), "next": "/requests"},
    )
    assert done.status_code == 303, done.text
