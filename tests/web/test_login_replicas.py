"""A one-time sign-in link signs in once across two app instances sharing one database
(SQLite and PostgreSQL), including when both try to spend it at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from gtm_feedback_dagster.config import load_secrets, load_settings
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store import login_tokens
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import WebLoginToken, utcnow
from tests.intake.seed import seed_basics
from tests.web.support import csrf_of, issue_link


@pytest.fixture
def shared_db(db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GTM_FEEDBACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GTM_FEEDBACK_DATABASE_URL", db_url)
    monkeypatch.setenv("GTM_FEEDBACK_WEB_SECRET", "shared-web-secret")
    monkeypatch.delenv("GTM_FEEDBACK_TRUSTED_PROXY_HEADER", raising=False)
    with session_scope(db_url) as session:
        seed_basics(session)
    return db_url


def _replica() -> TestClient:
    """A separate app instance: its own Runtime, WebApp and Signer (as another process has)."""
    from gtm_feedback_dagster.intake.app import create_app

    app = create_app(runtime=Runtime.from_settings(load_settings(), load_secrets()))
    return TestClient(app, base_url="http://localhost:8000", follow_redirects=False)


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def _confirm(client: TestClient, link: str) -> str:
    page = client.get(link)
    assert page.status_code == 200, page.text[:300]
    return csrf_of(page.text)


def test_link_signs_in_once_across_replicas(shared_db: str) -> None:
    a, b = _replica(), _replica()
    link = issue_link("ann@example.com")
    csrf_a, csrf_b = _confirm(a, link), _confirm(b, link)  # a GET (an unfurl) spends nothing

    first = a.post("/login/link", data={"csrf": csrf_a, "token": _token(link)})
    assert first.status_code == 303 and a.cookies.get("gtm_session")
    second = b.post("/login/link", data={"csrf": csrf_b, "token": _token(link)})
    assert second.status_code == 400 and not b.cookies.get("gtm_session")
    # the other replica's confirmation page now says it is used, too
    assert b.get(link).status_code == 400
    assert a.get("/requests").status_code == 200
    assert b.get("/requests").status_code == 303


def test_concurrent_spends_have_one_winner(shared_db: str) -> None:
    clients = [_replica() for _ in range(4)]
    link = issue_link("ann@example.com")
    forms = [{"csrf": _confirm(c, link), "token": _token(link)} for c in clients]
    codes: list[int] = []
    start = threading.Barrier(len(clients))

    def spend(client: TestClient, form: dict[str, str]) -> None:
        start.wait()
        codes.append(client.post("/login/link", data=form).status_code)

    threads = [
        threading.Thread(target=spend, args=pair) for pair in zip(clients, forms, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [303, 400, 400, 400]


def test_unrecorded_or_expired_links_are_refused(shared_db: str) -> None:
    from gtm_feedback_dagster.web.auth import Signer, load_web_secret

    client = _replica()
    signer = Signer(load_web_secret(load_settings(), load_secrets()))
    # signed with the right key but never issued (not in the table): refused
    forged = signer.sign("login", {"email": "ann@example.com", "exp": 4102444800, "nonce": "n1"})
    assert client.get(f"/login/link?token={forged}").status_code == 400
    # issued, then expired in the database: refused although the signature is still valid
    link = issue_link("ann@example.com")
    csrf = _confirm(client, link)
    with session_scope(shared_db) as session:
        for row in session.query(WebLoginToken).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert client.post("/login/link", data={"csrf": csrf, "token": _token(link)}).status_code == 400
    # nothing of that address is left open
    with session_scope(shared_db) as session:
        assert login_tokens.open_links(session, "ann@example.com") == 0


def test_old_rows_are_purged_when_links_are_issued(shared_db: str) -> None:
    with session_scope(shared_db) as session:
        login_tokens.record_link(session, "old", "ann@example.com", utcnow() - timedelta(days=2))
    issue_link("ann@example.com")
    with session_scope(shared_db) as session:
        hashes = {row.token_hash for row in session.query(WebLoginToken).all()}
    assert login_tokens.token_hash("old") not in hashes and len(hashes) == 1
