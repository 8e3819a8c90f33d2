"""`gtm-feedback web-login EMAIL` prints a working one-time link."""

from __future__ import annotations

from click.testing import CliRunner

from gtm_feedback_dagster.cli import cli
from tests.web.conftest import make_client
from tests.web.support import csrf_of


def test_web_login_prints_a_link_that_signs_in(web_env) -> None:
    result = CliRunner().invoke(cli, ["web-login", "ANN@example.com"])
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("http://localhost:8000/login/link?token=")
    client = make_client()
    page = client.get(link)
    assert page.status_code == 200
    from urllib.parse import parse_qs, urlsplit

    token = parse_qs(urlsplit(link).query)["token"][0]
    done = client.post("/login/link", data={"csrf": csrf_of(page.text), "token": token})
    assert done.status_code == 303
    assert client.get("/requests").status_code == 200


def test_web_login_unknown_user(web_env) -> None:
    result = CliRunner().invoke(cli, ["web-login", "nobody@example.com"])
    assert result.exit_code != 0 and "unknown user" in result.output
