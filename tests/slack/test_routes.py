"""The Slack endpoints of the intake service: signed requests only, stored once, answered fast."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gtm_feedback_dagster.slack.routes import build_slack_routes
from gtm_feedback_dagster.slack.verify import MAX_BODY_BYTES
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import SlackInbox
from tests.slack.support import (
    ANA_SLACK,
    SIGNING_SECRET,
    add_people,
    approval_click,
    client_for,
    form_body,
    interaction_body,
    json_body,
    reaction_event,
    seed_world,
    settings_for,
    shipped_command,
    sign,
    view_submission,
)
from tests.standins.slack_standin import SlackStandin


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        yield server
    assert not server.errors


def app_for(
    url: str, slack: SlackStandin | None = None, secret: str | None = SIGNING_SECRET
) -> TestClient:
    routes = build_slack_routes(
        settings_for(url), signing_secret=secret or "", client=client_for(slack) if slack else None
    )
    return TestClient(Starlette(routes=routes))


def inbox_rows(url: str) -> list[SlackInbox]:
    with session_scope(url) as session:
        return list(session.scalars(select(SlackInbox).order_by(SlackInbox.id)))


def post(client: TestClient, path: str, body: bytes, content_type: str, **header_overrides: str):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": content_type, **sign(body), **header_overrides}
    return client.post(path, content=body, headers=headers)


def post_json(client: TestClient, path: str, payload: dict, **headers: str):  # type: ignore[no-untyped-def,type-arg]
    return post(client, path, json_body(payload), "application/json", **headers)


def post_form(client: TestClient, path: str, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return post(client, path, body, "application/x-www-form-urlencoded", **headers)


def test_url_verification_answers_the_challenge(sqlite_url: str) -> None:
    response = post_json(
        app_for(sqlite_url), "/slack/events", {"type": "url_verification", "challenge": "abc123"}
    )
    assert response.status_code == 200 and response.json() == {"challenge": "abc123"}


def test_without_signing_secret_the_endpoints_answer_503(sqlite_url: str) -> None:
    client = app_for(sqlite_url, secret=None)
    for path in ("/slack/events", "/slack/interactions", "/slack/commands"):
        assert post_json(client, path, reaction_event()).status_code == 503
    assert inbox_rows(sqlite_url) == []


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "stale", "future", "missing_signature", "missing_timestamp", "body_changed"],
)
def test_bad_signatures_get_401_and_store_nothing(sqlite_url: str, tamper: str) -> None:
    client = app_for(sqlite_url)
    body = json_body(reaction_event())
    headers = {"Content-Type": "application/json", **sign(body)}
    if tamper == "wrong_secret":
        headers.update(sign(body, secret="not-the-secret"))
    elif tamper == "stale":
        headers.update(sign(body, timestamp=int(time.time()) - 301))
    elif tamper == "future":
        headers.update(sign(body, timestamp=int(time.time()) + 301))
    elif tamper == "missing_signature":
        headers.pop("X-Slack-Signature")
    elif tamper == "missing_timestamp":
        headers.pop("X-Slack-Request-Timestamp")
    elif tamper == "body_changed":
        body = body.replace(b"Ev0001", b"Ev0002")
    response = client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert inbox_rows(sqlite_url) == []


def test_timestamp_inside_the_window_is_accepted(sqlite_url: str) -> None:
    body = json_body(reaction_event())
    headers = {"Content-Type": "application/json", **sign(body, timestamp=int(time.time()) - 290)}
    assert (
        app_for(sqlite_url).post("/slack/events", content=body, headers=headers).status_code == 200
    )


def test_oversized_body_gets_413(sqlite_url: str) -> None:
    body = b'{"type":"event_callback","pad":"' + b"x" * MAX_BODY_BYTES + b'"}'
    response = post(app_for(sqlite_url), "/slack/events", body, "application/json")
    assert response.status_code == 413
    assert inbox_rows(sqlite_url) == []


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/slack/events", b"not json", "application/json"),
        ("/slack/events", b"[1, 2]", "application/json"),
        (
            "/slack/events",
            json_body({**reaction_event(), "event_id": "<script>"}),
            "application/json",
        ),
        ("/slack/interactions", form_body({"nope": "1"}), "application/x-www-form-urlencoded"),
        (
            "/slack/interactions",
            form_body({"payload": "{broken"}),
            "application/x-www-form-urlencoded",
        ),
        (
            "/slack/interactions",
            interaction_body(
                {
                    **approval_click(1),
                    "actions": [
                        {"action_id": "feedback_match_approval_approve", "value": "drop table"}
                    ],
                }
            ),
            "application/x-www-form-urlencoded",
        ),
        (
            "/slack/commands",
            form_body(
                {
                    **shipped_command("x", response_url="https://hooks.slack.com/c"),
                    "user_id": "not-an-id",
                }
            ),
            "application/x-www-form-urlencoded",
        ),
    ],
)
def test_malformed_payloads_get_400(
    sqlite_url: str, path: str, body: bytes, content_type: str
) -> None:
    assert post(app_for(sqlite_url), path, body, content_type).status_code == 400
    assert inbox_rows(sqlite_url) == []


NOT_UTF8_BODIES = [
    b"\xff\xfe{}",  # a UTF-16 byte-order mark
    b'{"type": "event_callback", "x": "caf\xe9"}',  # Latin-1
    b"payload=%7B%7D&x=\xc3",  # form with a truncated UTF-8 sequence
    b'{"type": "url_verification", "challenge": "\xed\xa0\x80"}',  # an encoded surrogate
]


@pytest.mark.parametrize("body", NOT_UTF8_BODIES)
@pytest.mark.parametrize("path", ["/slack/events", "/slack/interactions", "/slack/commands"])
def test_signed_body_that_is_not_utf8_gets_400_not_401(
    sqlite_url: str, path: str, body: bytes
) -> None:
    response = post(app_for(sqlite_url), path, body, "application/x-www-form-urlencoded")
    assert response.status_code == 400, response.text
    assert "not valid UTF-8" in response.json()["error"]
    assert inbox_rows(sqlite_url) == []


def test_a_forged_body_that_is_not_utf8_is_still_401(sqlite_url: str) -> None:
    body = b"\xff\xfe{}"
    headers = {"Content-Type": "application/json", **sign(b"something else")}
    response = app_for(sqlite_url).post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401


def test_signed_arbitrary_bytes_never_get_5xx_nor_401(sqlite_url: str) -> None:
    """Any body, correctly signed: the signature is checked on the raw bytes, so the answer is
    about the payload (2xx or 400), never "bad signature" and never a crash."""
    client = app_for(sqlite_url)

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        path=st.sampled_from(["/slack/events", "/slack/interactions", "/slack/commands"]),
        body=st.binary(max_size=600)
        | st.text(max_size=200).map(lambda t: t.encode("utf-8"))
        | st.binary(max_size=200).map(lambda b: b"payload=" + b),
        content_type=st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "application/octet-stream"]
        ),
    )
    def check(path: str, body: bytes, content_type: str) -> None:
        response = post(client, path, body, content_type)
        assert response.status_code < 500, response.text
        assert response.status_code != 401, (body, response.text)

    check()


def test_reaction_is_stored_once_despite_slack_retries(db_url: str) -> None:
    client = app_for(db_url)
    first = post_json(client, "/slack/events", reaction_event("Ev0042"))
    retry = post_json(
        client,
        "/slack/events",
        reaction_event("Ev0042"),
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert first.status_code == retry.status_code == 200
    assert (first.json()["duplicate"], retry.json()["duplicate"]) == (False, True)
    (row,) = inbox_rows(db_url)
    assert row.kind == "event" and row.dedupe_key == "event:Ev0042" and row.processed_at is None
    assert row.payload == {
        "type": "reaction_added",
        "event_id": "Ev0042",
        "team_id": "T0TEAM0001",
        "user_id": ANA_SLACK,
        "reaction": "gtm-feedback",
        "channel_id": "C0SALES01",
        "message_ts": "1700000000.000200",
        "event_ts": "1700000001.000100",
    }


def test_other_reactions_and_events_are_ignored(sqlite_url: str) -> None:
    client = app_for(sqlite_url)
    assert (
        post_json(client, "/slack/events", reaction_event(reaction="thumbsup")).status_code == 200
    )
    other = {
        **reaction_event("Ev0009"),
        "event": {"type": "app_mention", "user": ANA_SLACK, "text": "hi"},
    }
    assert post_json(client, "/slack/events", other).status_code == 200
    assert inbox_rows(sqlite_url) == []


def test_approval_click_is_stored_and_double_clicks_dropped(sqlite_url: str) -> None:
    client = app_for(sqlite_url)
    body = interaction_body(approval_click(7, response_url="https://hooks.slack.com/actions/T/1/x"))
    assert post_form(client, "/slack/interactions", body).status_code == 200
    assert post_form(client, "/slack/interactions", body).status_code == 200
    (row,) = inbox_rows(sqlite_url)
    assert (
        row.kind == "interaction"
        and row.dedupe_key == f"action:7:approve:{ANA_SLACK}:1790000001.000200"
    )
    assert row.payload["approval_id"] == 7 and row.payload["decision"] == "approve"
    assert row.payload["channel_id"] == "D0ANA00001" and row.payload["source"] == "slack"
    assert row.payload["response_url"] == "https://hooks.slack.com/actions/T/1/x"


def test_forged_response_url_is_not_kept(sqlite_url: str) -> None:
    body = interaction_body(approval_click(7, response_url="https://evil.example.com/steal"))
    assert post_form(app_for(sqlite_url), "/slack/interactions", body).status_code == 200
    assert inbox_rows(sqlite_url)[0].payload["response_url"] is None


def test_link_button_clicks_are_ignored(sqlite_url: str) -> None:
    payload = approval_click(7)
    payload["actions"] = [{"action_id": "view_feature_request", "type": "button"}]
    assert (
        post_form(app_for(sqlite_url), "/slack/interactions", interaction_body(payload)).status_code
        == 200
    )
    assert inbox_rows(sqlite_url) == []


def test_shortcut_opens_the_modal_in_the_request_path(sqlite_url: str, slack: SlackStandin) -> None:
    payload = {
        "type": "shortcut",
        "callback_id": "feedback_shortcut_id",
        "trigger_id": "123.456.abc",
        "user": {"id": ANA_SLACK},
    }
    response = post_form(
        app_for(sqlite_url, slack), "/slack/interactions", interaction_body(payload)
    )
    assert response.status_code == 200
    (call,) = slack.calls("views.open")
    assert call["trigger_id"] == "123.456.abc"
    view = call["view"]
    assert view["callback_id"] == "feedback_view_id"
    assert [b["block_id"] for b in view["blocks"]] == [
        "severity_block_id",
        "account_id_block_id",
        "opportunity_id_block_id",
        "customer_pain_block_id",
        "links_block_id",
    ]
    (row,) = inbox_rows(sqlite_url)
    assert row.processed_at is not None and row.error is None


def test_shortcut_without_token_is_answered_and_recorded(sqlite_url: str) -> None:
    payload = {
        "type": "shortcut",
        "callback_id": "feedback_shortcut_id",
        "trigger_id": "123.456.abc",
        "user": {"id": ANA_SLACK},
    }
    response = post_form(app_for(sqlite_url), "/slack/interactions", interaction_body(payload))
    assert response.status_code == 200
    assert "SLACK_BOT_TOKEN" in (inbox_rows(sqlite_url)[0].error or "")


def test_valid_modal_submission_is_stored(sqlite_url: str) -> None:
    seed_world(sqlite_url, with_approval=False)
    response = post_form(
        app_for(sqlite_url), "/slack/interactions", interaction_body(view_submission())
    )
    assert response.status_code == 200 and response.content == b""
    (row,) = inbox_rows(sqlite_url)
    assert row.dedupe_key == "view:V0VIEW0001"
    assert {k: row.payload[k] for k in ("severity", "account", "customer_pain", "links")} == {
        "severity": "high",
        "account": "Acme",
        "customer_pain": "Acme needs SAML single sign-on before renewal.",
        "links": ["https://acme.example.com/ticket/1"],
    }


def test_invalid_modal_submission_shows_errors_in_the_modal(sqlite_url: str) -> None:
    seed_world(sqlite_url, with_approval=False)
    client = app_for(sqlite_url)
    bad_fields = view_submission(severity="", pain="   ", links="not a link")
    response = post_form(client, "/slack/interactions", interaction_body(bad_fields))
    assert response.json()["response_action"] == "errors"
    assert set(response.json()["errors"]) == {
        "severity_block_id",
        "customer_pain_block_id",
        "links_block_id",
    }
    unknown_account = post_form(
        client, "/slack/interactions", interaction_body(view_submission(account="Globex"))
    )
    assert list(unknown_account.json()["errors"]) == ["account_id_block_id"]
    assert "Globex" in unknown_account.json()["errors"]["account_id_block_id"]
    assert inbox_rows(sqlite_url) == []


def test_shipped_command_is_acknowledged_at_once_and_stored(sqlite_url: str) -> None:
    client = app_for(sqlite_url)
    form = shipped_command(
        "<https://feedback.example.com/requests/invoices-in-eur>",
        response_url="https://hooks.slack.com/commands/T/1/x",
    )
    response = post_form(client, "/slack/commands", form_body(form))
    assert response.json() == {
        "response_type": "ephemeral",
        "text": "🚀 Marking this feature request as shipped...",
    }
    post_form(client, "/slack/commands", form_body(form))  # Slack retry: dropped
    (row,) = inbox_rows(sqlite_url)
    assert row.kind == "command" and row.payload["slug"] == "invoices-in-eur"


@pytest.mark.parametrize(
    "text", ["", "https://feedback.example.com/areas/billing", "hello world", "ftp://x/requests/a"]
)
def test_shipped_with_a_non_request_url_is_refused_at_once(sqlite_url: str, text: str) -> None:
    form = shipped_command(text, response_url="https://hooks.slack.com/commands/T/1/x")
    response = post_form(app_for(sqlite_url), "/slack/commands", form_body(form))
    assert response.json()["text"].startswith("Invalid feedback URL")
    assert inbox_rows(sqlite_url) == []


def test_routes_are_mounted_in_the_intake_service(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gtm_feedback_dagster.intake.app import create_app

    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    client = TestClient(create_app())
    assert post_json(
        client, "/slack/events", {"type": "url_verification", "challenge": "c"}
    ).json() == {"challenge": "c"}
    assert post_json(client, "/slack/events", reaction_event(), **sign(b"other")).status_code == 401
