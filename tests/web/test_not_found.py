"""Unknown paths: browser paths get the HTML 404 page (with the security headers), the API and
Slack endpoints keep their JSON errors, and a wrong method on a known path stays 405."""

from __future__ import annotations

from tests.web.conftest import make_client, sign_in


def test_unknown_browser_paths_answer_an_html_404(web_env) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for path in ("/nowhere", "/requests/dark-mode/extra", "/areas", "/static/missing.css"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert (
            "Page not found." in r.text
            and "script-src 'none'" in r.headers["content-security-policy"]
        )
    sign_in(client)
    r = client.get("/no/such/page?x=<script>")
    assert r.status_code == 404 and "<script>" not in r.text
    assert "ann@example.com" in r.text  # the signed-in header, like every page
    assert client.post("/nowhere", data={"a": "b"}).status_code == 404


def test_api_and_slack_keep_json(web_env) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for path in ("/api/nothing", "/api/feedback/1/extra", "/slack/nothing", "/healthz/x"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json", path
        assert r.json() == {"error": "Not Found"}
    r = client.post("/slack/unknown", content=b"{}")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}


def test_wrong_method_on_a_known_path_is_still_405(web_env) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    r = client.get("/api/feedback")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}
    assert "POST" in r.headers["allow"]
    assert client.get("/slack/events").status_code == 405
    assert client.put("/requests").status_code == 405
    assert client.get("/healthz").status_code == 200
