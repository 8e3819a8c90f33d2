"""The request pages without a browser: auth, CSRF, status codes, escaping, headers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, OutboxMessage, Request
from tests.web.conftest import API_TOKEN, FakeSearch, make_client, sign_in
from tests.web.support import CTRL, IMG, RTL, SCRIPT, csrf_of

PAGES = ["/requests", "/requests/dark-mode", "/areas/dashboards", "/triage"]


@pytest.mark.parametrize("path", PAGES)
def test_no_cookie_redirects_to_login(web_env, path: str) -> None:
    client = make_client()
    r = client.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


def test_post_without_session_is_refused(web_env) -> None:
    client = make_client()
    assert client.post("/triage/keep", data={"a": "1", "b": "2"}).status_code == 401


def test_security_headers_on_every_page(web_env) -> None:
    client = make_client()
    for r in [client.get("/login"), client.get("/requests")]:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
    sign_in(client)
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "script-src 'none'" in r.headers["content-security-policy"]
        assert "<script" not in r.text.replace("&lt;script", "")


def test_session_cookie_flags(web_env) -> None:
    client = make_client()
    sign_in(client)
    assert client.cookies.get("gtm_session")


def test_session_cookie_attributes(web_env) -> None:
    from urllib.parse import unquote

    from tests.web.support import issue_link

    client = make_client()
    link = issue_link("ann@example.com")
    page = client.get(link)
    token = unquote(link.split("token=")[1].split("&")[0])
    done = client.post("/login/link", data={"csrf": csrf_of(page.text), "token": token})
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    # single use: the same token again is refused
    again = client.post("/login/link", data={"csrf": csrf_of(page.text), "token": token})
    assert again.status_code == 400
    # a forged or garbled token is refused
    bad = client.get("/login/link?token=abc.def")
    assert bad.status_code == 400


def test_bad_csrf_is_403(web_env) -> None:
    _, seed = web_env
    client = make_client()
    sign_in(client)
    r = client.post("/triage/keep", data={"a": seed.base.dark_mode, "b": seed.twin, "csrf": "x"})
    assert r.status_code == 403
    r = client.post("/triage/keep", data={"a": seed.base.dark_mode, "b": seed.twin})
    assert r.status_code == 403
    r = client.post("/login", data={"email": "ann@example.com", "csrf": "nope"})
    assert r.status_code == 403


def test_bearer_reads_but_cannot_post(web_env) -> None:
    client = make_client()
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    assert client.get("/requests", headers=headers).status_code == 200
    assert client.get("/requests/dark-mode", headers=headers).status_code == 200
    r = client.post("/triage/keep", data={"a": "1", "b": "2"}, headers=headers)
    assert r.status_code == 403
    assert client.get("/requests", headers={"Authorization": "Bearer wrong"}).status_code == 303


def test_trusted_proxy_header_only_when_configured(web_env, monkeypatch) -> None:
    headers = {"X-Forwarded-Email": "ann@example.com"}
    assert make_client().get("/requests", headers=headers).status_code == 303
    monkeypatch.setenv("GTM_FEEDBACK_TRUSTED_PROXY_HEADER", "X-Forwarded-Email")
    client = make_client()
    r = client.get("/triage", headers=headers)
    assert r.status_code == 200 and "ann@example.com" in r.text
    # POSTs behind the proxy carry the CSRF token keyed by the pre-session cookie
    _, seed = web_env
    data = {"a": seed.base.dark_mode, "b": seed.twin, "csrf": csrf_of(r.text)}
    assert client.post("/triage/keep", data=data, headers=headers).status_code == 303
    assert (
        client.post("/triage/keep", data={**data, "csrf": "x"}, headers=headers).status_code == 403
    )


def test_hostile_strings_are_escaped(web_env) -> None:
    _, seed = web_env
    client = make_client()
    sign_in(client)
    pages = [client.get("/requests"), client.get(f"/requests/{seed.hostile_slug}")]
    detail = pages[1]
    assert detail.status_code == 200
    for r in pages:
        assert SCRIPT not in r.text and "<img" not in r.text
        assert "\u202e" not in r.text
        assert "&lt;script&gt;" in r.text
    assert (
        "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in detail.text
        or "&quot;&gt;&lt;img" in detail.text
    )
    assert "\\u202e" in detail.text
    for ch in CTRL:
        if ord(ch) < 32:
            assert ch not in detail.text
    assert IMG not in detail.text and RTL not in detail.text


def test_request_detail_figures(web_env) -> None:
    client = make_client()
    sign_in(client)
    r = client.get("/requests/dark-mode")
    assert r.status_code == 200
    # Acme (100k) twice + Globex (50k, enterprise) once: 2 accounts, $150K, 33% enterprise
    assert "$150.0K" in r.text and "33%" in r.text
    assert "Also dark please" in r.text and "Dark theme please" in r.text  # duplicate listed
    assert "Night theme" in r.text  # merged in, in the history


def test_merged_slug_redirects(web_env) -> None:
    client = make_client()
    sign_in(client)
    r = client.get("/requests/night-theme")
    assert r.status_code == 301 and r.headers["location"] == "/requests/dark-mode"
    assert client.get("/requests/no-such-thing").status_code == 404


def test_list_sorts_filters_and_pages(web_env) -> None:
    _, seed = web_env
    client = make_client()
    sign_in(client)
    r = client.get("/requests?sort=arr")
    assert r.text.index("Dark mode") < r.text.index("Dark theme please")
    assert "Night theme" not in r.text  # merged requests are hidden
    r = client.get("/requests?sort=entries&area=dashboards&status=open&page=1")
    assert r.status_code == 200
    assert client.get("/requests?page=99999999999&sort=zzz").status_code == 200
    searching = make_client(FakeSearch([seed.twin]))
    sign_in(searching)
    r = searching.get("/requests?q=dark")
    assert "Dark theme please" in r.text and "Dark mode</a>" not in r.text


def test_area_page_renders_markdown_safely(web_env) -> None:
    client = make_client()
    sign_in(client)
    r = client.get("/areas/dashboards")
    assert r.status_code == 200
    assert "<h1>Dashboards</h1>" in r.text
    assert SCRIPT not in r.text and 'href="javascript:' not in r.text
    assert 'href="/requests/dark-mode"' in r.text
    assert "localhost:3000/assets/area_insight_report" in r.text
    assert client.get("/areas/nope").status_code == 404


def test_login_post_queues_a_dm_for_known_users_only(web_env) -> None:
    url, _ = web_env
    client = make_client()
    page = client.get("/login")
    csrf = csrf_of(page.text)
    assert client.post("/login", data={"email": "ann@example.com", "csrf": csrf}).status_code == 303
    assert client.post("/login", data={"email": "who@nowhere.io", "csrf": csrf}).status_code == 303
    with session_scope(url) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "web_login")).all()
        assert len(rows) == 1 and "/login/link?token=" in rows[0].text


def test_triage_keep_both_and_attach(web_env) -> None:
    url, seed = web_env
    client = make_client()
    sign_in(client)
    page = client.get("/triage")
    assert f"ask-{seed.approval}" in page.text
    assert f"pair-{seed.base.dark_mode}-{seed.twin}" in page.text
    csrf = csrf_of(page.text)
    r = client.post("/triage/keep", data={"a": seed.base.dark_mode, "b": seed.twin, "csrf": csrf})
    assert r.status_code == 303
    r = client.post("/triage/attach", data={"approval": seed.approval, "csrf": csrf})
    assert r.status_code == 303
    again = client.post("/triage/attach", data={"approval": seed.approval, "csrf": csrf})
    assert again.status_code == 303  # idempotent
    page = client.get("/triage")
    assert f"ask-{seed.approval}" not in page.text
    assert f"pair-{seed.base.dark_mode}-{seed.twin}" not in page.text
    with session_scope(url) as s:
        assert s.get(Approval, seed.approval).status == "approved"


def test_triage_merge(web_env) -> None:
    url, seed = web_env
    client = make_client()
    sign_in(client)
    csrf = csrf_of(client.get("/triage").text)
    r = client.post(
        "/triage/merge", data={"duplicate": seed.twin, "target": seed.base.dark_mode, "csrf": csrf}
    )
    assert r.status_code == 303
    with session_scope(url) as s:
        assert s.get(Request, seed.twin).merged_into_id == seed.base.dark_mode
    assert client.get("/requests/dark-theme").status_code == 301


def test_triage_create_request_then_not_a_match_item(web_env, local_embedder) -> None:
    """ "Create a new request" takes routing's new-request path (as "Not a match"); the answer
    then shows under "Not a match" answers until merged or kept."""
    url, seed = web_env
    client = make_client(embedder=local_embedder)
    sign_in(client)
    csrf = csrf_of(client.get("/triage").text)
    r = client.post("/triage/create", data={"approval": seed.approval, "csrf": csrf})
    assert r.status_code == 303, r.text
    with session_scope(url) as s:
        from gtm_feedback_dagster.store.schema import Feedback

        assert s.get(Approval, seed.approval).status == "rejected"
        entry = s.get(Feedback, seed.entry)
        assert entry.status == "routed" and entry.request_id not in (None, seed.base.dark_mode)
        created = entry.request_id
    page = client.get("/triage")
    assert f"ask-{seed.approval}" not in page.text
    assert f"declined-{seed.approval}" in page.text
    r = client.post("/triage/keep", data={"a": created, "b": seed.base.dark_mode, "csrf": csrf})
    assert f"declined-{seed.approval}" not in client.get("/triage").text
