"""The real slack-sdk WebClient, as wrapped by SlackClient, against the local Slack stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from gtm_feedback_dagster.messaging.slack_client import SlackClient, build_slack_client
from gtm_feedback_dagster.messaging.slack_errors import ResponseUrlError, classify_error
from tests.slack.support import ANA_SLACK, add_people, client_for, settings_for
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def test_post_message_sends_json_with_bearer_token(slack: SlackStandin) -> None:
    client = client_for(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    channel, ts = client.post_message(ANA_SLACK, "hi", blocks)
    assert channel == "D0ANA00001" and ts
    (request,) = slack.requests_to("/api/chat.postMessage")
    assert request.headers["authorization"] == f"Bearer {slack.token}"
    assert request.json["channel"] == ANA_SLACK and request.json["blocks"] == blocks


def test_rate_limit_honours_retry_after_then_succeeds(slack: SlackStandin) -> None:
    slack.fail_next(
        status=429, headers={"Retry-After": "0"}, body={"ok": False, "error": "ratelimited"}
    )
    channel, _ = client_for(slack).post_message("C0SALES01", "hello")
    assert channel == "C0SALES01"
    assert [r.status for r in slack.requests_to("/api/chat.postMessage")] == [429, 200]


def test_server_error_is_retried(slack: SlackStandin) -> None:
    slack.fail_next(status=503, body="<html>down</html>", content_type="text/html")
    client_for(slack).post_message("C0SALES01", "hello")
    assert [r.status for r in slack.requests_to("/api/chat.postMessage")] == [503, 200]


def test_persistent_rate_limit_is_transient_with_retry_after(slack: SlackStandin) -> None:
    slack.fail_next(
        status=429,
        headers={"Retry-After": "0"},
        body={"ok": False, "error": "ratelimited"},
        times=3,
    )
    with pytest.raises(SlackApiError) as info:
        client_for(slack).post_message("C0SALES01", "hello")
    failure = classify_error(info.value)
    assert failure.code == "ratelimited" and not failure.permanent and failure.retry_after == 0
    assert len(slack.requests_to("/api/chat.postMessage")) == 3  # first try + 2 retries


@pytest.mark.parametrize(
    ("code", "permanent", "token_wide"),
    [
        ("channel_not_found", True, False),
        ("not_in_channel", True, False),
        ("is_archived", True, False),
        ("invalid_auth", True, True),
        ("account_inactive", True, True),
        ("internal_error", False, False),
    ],
)
def test_slack_error_codes_are_classified(
    slack: SlackStandin, code: str, permanent: bool, token_wide: bool
) -> None:
    slack.fail_method("chat.postMessage", code)
    with pytest.raises(SlackApiError) as info:
        client_for(slack).post_message("C0SALES01", "hello")
    failure = classify_error(info.value)
    assert (failure.code, failure.permanent, failure.token_wide) == (code, permanent, token_wide)


def test_wrong_token_is_invalid_auth_and_never_echoed(slack: SlackStandin) -> None:
    client = SlackClient("xoxb-wrong-token-123", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as info:
        client.auth_test()
    assert classify_error(info.value).code == "invalid_auth"
    assert "xoxb-wrong-token-123" not in str(info.value) + repr(client)
    assert client.redact("token xoxb-wrong-token-123 leaked") == "token *** leaked"


def test_user_lookups(slack: SlackStandin) -> None:
    client = client_for(slack)
    assert client.lookup_user_id_by_email("ana@example.com") == ANA_SLACK
    assert client.lookup_user_id_by_email("nobody@example.com") is None
    profile = client.user_profile(ANA_SLACK)
    assert (profile.email, profile.name) == ("ana@example.com", "Ana Lopez")
    with pytest.raises(SlackApiError):
        client.user_profile("U0NOBODY01")


def test_response_urls_are_limited_to_slack_hooks(
    slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(slack)
    monkeypatch.delenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", raising=False)
    with pytest.raises(ResponseUrlError):
        client.respond(slack.response_url("cmd"), "hello")  # not hooks.slack.com
    assert slack.hook_calls("cmd") == []
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{slack.url}/hooks/")
    client.respond(slack.response_url("cmd"), "hello")
    assert slack.hook_calls("cmd") == [
        {"text": "hello", "response_type": "ephemeral", "replace_original": False}
    ]


def test_without_token_there_is_no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert build_slack_client(settings_for("sqlite://")) is None
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    assert isinstance(build_slack_client(settings_for("sqlite://")), SlackClient)


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (429, {"Retry-After": "0"}, "rate_limited"),
        (503, {}, "<html>down</html>"),
        (500, {}, "internal_error"),
    ],
)
def test_response_url_webhook_is_retried_like_the_web_api(
    slack: SlackStandin,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    headers: dict[str, str],
    body: str,
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{slack.url}/hooks/")
    slack.fail_next(status=status, headers=headers, body=body, path="/hooks/cmd")
    client_for(slack).respond(slack.response_url("cmd"), "hello")
    assert [r.status for r in slack.requests_to("/hooks/cmd")] == [status, 200]


def test_response_url_gives_up_after_the_retries(
    slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{slack.url}/hooks/")
    slack.fail_next(status=503, body="down", path="/hooks/cmd", times=3)
    with pytest.raises(ResponseUrlError):
        client_for(slack).respond(slack.response_url("cmd"), "hello")
    assert len(slack.requests_to("/hooks/cmd")) == 3  # first try + 2 retries
