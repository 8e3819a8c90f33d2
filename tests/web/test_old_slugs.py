"""`/requests/<old-slug>` answers 301 to the current request after a rename (`requests edit`
keeps the old slug in meta["old_slugs"]) and after a merge, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from gtm_feedback_dagster.requests.lifecycle import edit_request
from gtm_feedback_dagster.requests.merge import merge_requests
from gtm_feedback_dagster.store.db import session_scope
from tests.web.conftest import API_TOKEN, make_client
from tests.web.support import WebSeed, seed_web


@pytest.fixture
def renamed_env(db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, WebSeed]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GTM_FEEDBACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GTM_FEEDBACK_DATABASE_URL", db_url)
    monkeypatch.setenv("GTM_FEEDBACK_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("GTM_FEEDBACK_WEB_SECRET", "test-web-secret")
    monkeypatch.delenv("GTM_FEEDBACK_TRUSTED_PROXY_HEADER", raising=False)
    return db_url, seed_web(db_url)


def _get(client, path: str):  # type: ignore[no-untyped-def]
    return client.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"})


def test_old_slugs_redirect_after_rename_and_merge(renamed_env) -> None:  # type: ignore[no-untyped-def]
    url, _ = renamed_env
    client = make_client()
    with session_scope(url) as s:
        edit_request(s, "dark-theme", slug="dark-theme-v2")
    with session_scope(url) as s:
        edit_request(s, "dark-theme-v2", slug="dark-ui")
    for old in ("dark-theme", "dark-theme-v2"):
        r = _get(client, f"/requests/{old}")
        assert r.status_code == 301, (old, r.status_code)
        assert r.headers["location"] == "/requests/dark-ui"
    assert _get(client, "/requests/dark-ui").status_code == 200

    # merged after the rename: the old slugs go straight to the survivor
    with session_scope(url) as s:
        merge_requests(s, "dark-ui", "dark-mode", "http://localhost:8000")
    for old in ("dark-theme", "dark-theme-v2", "dark-ui"):
        r = _get(client, f"/requests/{old}")
        assert r.status_code == 301 and r.headers["location"] == "/requests/dark-mode", old


def test_a_current_slug_wins_over_an_old_one(renamed_env) -> None:  # type: ignore[no-untyped-def]
    url, _ = renamed_env
    client = make_client()
    with session_scope(url) as s:
        edit_request(s, "dark-theme", slug="dark-theme-2")
    with session_scope(url) as s:
        edit_request(s, "dark-mode", slug="dark-theme")  # takes over the freed slug
    r = _get(client, "/requests/dark-theme")
    assert r.status_code == 200 and "Dark mode" in r.text
    assert _get(client, "/requests/dark-mode").headers["location"] == "/requests/dark-theme"
