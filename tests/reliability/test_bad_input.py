"""Bad input, property-based: whatever arrives — arbitrary unicode, empty and huge texts,
malformed JSON, form and CSV bodies, forged, replayed and stale Slack signatures, wrong API
tokens — gets a 4xx or a clear CLI error: never a 5xx, never a traceback, and never the loss of a
valid entry that came with it.

The service runs in process (Starlette's TestClient re-raises any unhandled exception, so a
crash fails the example instead of hiding behind a 500). Example counts are modest in CI; the
full run (GTM_FEEDBACK_FULL_RELIABILITY=1) uses ten times more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.testclient import TestClient

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.core.validation import strip_controls
from gtm_feedback_dagster.intake.app import create_app
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, SlackInbox
from tests.intake.seed import seed_url
from tests.reliability.report import record
from tests.reliability.scale import scaled
from tests.slack.support import (
    SIGNING_SECRET,
    approval_click,
    json_body,
    reaction_event,
    sign,
)

API_TOKEN = "bad-input-api-token-abcdef0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EXAMPLES = scaled(50, 500)
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_TEXT = 5000

# Strategies ------------------------------------------------------------------------------------

any_text = st.text(max_size=300)  # all of unicode but surrogates: emoji, RTL, combining, NUL
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "customer_pain",
    "text",
    "severity",
    "account",
    "submitter",
    "opportunity",
    "links",
    "external_id",
]
payloads = st.dictionaries(st.sampled_from(FIELDS) | any_text, json_values, max_size=8)
severities = st.sampled_from(
    ["low", "medium", "high", "Nice to have", "significant pain", "DEALBREAKER"]
)
valid_pains = st.text(min_size=1, max_size=MAX_TEXT).filter(
    lambda t: 0 < len(strip_controls(t).strip()) <= MAX_TEXT
)
header_safe = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)


@pytest.fixture
def app_db(db_url: str) -> str:
    """The app database of the service: every property holds on SQLite and on PostgreSQL (which
    refuses what SQLite lets through, e.g. lone surrogates)."""
    return db_url


@pytest.fixture
def service(app_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("GTM_FEEDBACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GTM_FEEDBACK_DATABASE_URL", app_db)
    monkeypatch.setenv("GTM_FEEDBACK_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    seed_url(app_db)
    with TestClient(create_app(load_settings())) as client:
        yield client


def entries(url: str, *where: Any) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(Feedback).where(*where)) or 0)


def inbox_rows(url: str) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(SlackInbox)) or 0)


def assert_4xx_or_ok(status: int, body: str) -> None:
    assert status < 500, (status, body[:300])


# The feedback API -------------------------------------------------------------------------------


def test_api_any_json_object_gets_an_answer_and_stored_entries_exist(
    service: TestClient, app_db: str
) -> None:
    @PROPERTY
    @given(payload=payloads)
    def check(payload: dict[str, Any]) -> None:
        response = service.post("/api/feedback", json=payload, headers=AUTH)
        assert_4xx_or_ok(response.status_code, response.text)
        assert response.status_code in (200, 201, 400, 413, 422), response.text
        data = response.json()
        if "id" in data:  # stored (pending, or invalid with its reasons): it must be there
            shown = service.get(f"/api/feedback/{data['id']}", headers=AUTH)
            assert shown.status_code == 200 and shown.json()["status"] == data["status"]

    check()


def test_api_valid_entries_are_never_lost(service: TestClient, app_db: str) -> None:
    stored = 0

    @PROPERTY
    @given(pain=valid_pains, severity=severities, with_id=st.booleans(), noise=any_text)
    def check(pain: str, severity: str, with_id: bool, noise: str) -> None:
        nonlocal stored
        payload: dict[str, Any] = {
            "customer_pain": pain,
            "severity": severity,
            "account": "Acme",
            "submitter": "ann@example.com",
        }
        if with_id:
            payload["external_id"] = f"prop-{stored}-{len(noise)}"
        response = service.post("/api/feedback", json=payload, headers=AUTH)
        assert response.status_code == 201, response.text
        shown = service.get(f"/api/feedback/{response.json()['id']}", headers=AUTH).json()
        assert shown["customer_pain"] == strip_controls(pain).strip()
        stored += 1

    check()
    assert stored >= min(EXAMPLES, 20)  # the property really ran on many entries
    assert entries(app_db) == stored


def test_api_raw_bodies_and_content_types(service: TestClient, app_db: str) -> None:
    @PROPERTY
    @given(
        body=st.binary(max_size=2000)
        | any_text.map(str.encode)
        # What Python's json module accepts but JSON does not: NaN, Infinity, huge numbers.
        | st.sampled_from(
            [
                b'{"customer_pain": NaN, "severity": "low"}',
                b'{"customer_pain": "x", "severity": Infinity, "account": -Infinity}',
                b'{"customer_pain": "x", "external_id": 1e999}',
                b'{"customer_pain": "x", "links": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
                b'{"customer_pain": "\ud800 lone surrogate"}',
            ]
        ),
        content_type=st.sampled_from(
            [
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "",
                "application/vnd.api+json",
            ]
        ),
    )
    def check(body: bytes, content_type: str) -> None:
        before = entries(app_db)
        response = service.post(
            "/api/feedback", content=body, headers={**AUTH, "Content-Type": content_type}
        )
        assert_4xx_or_ok(response.status_code, response.text)
        if response.status_code >= 400 and "id" not in response.text:
            assert entries(app_db) == before

    check()


def test_api_huge_bodies_are_refused_before_they_are_read(service: TestClient, app_db: str) -> None:
    for size in (MAX_TEXT + 1, 70_000, 2_000_000):
        payload = {
            "customer_pain": "x" * size,
            "severity": "low",
            "account": "Acme",
            "submitter": "ann@example.com",
        }
        response = service.post("/api/feedback", json=payload, headers=AUTH)
        assert response.status_code in (413, 422), (size, response.status_code)
    assert entries(app_db, Feedback.status == "pending") == 0


def test_api_wrong_tokens_are_refused_and_store_nothing(service: TestClient, app_db: str) -> None:
    @PROPERTY
    @given(token=header_safe, scheme=st.sampled_from(["Bearer", "bearer", "Basic", "Token", ""]))
    def check(token: str, scheme: str) -> None:
        assume(token != API_TOKEN)
        headers = {"Authorization": f"{scheme} {token}".strip()}
        body = {
            "customer_pain": "valid",
            "severity": "low",
            "account": "Acme",
            "submitter": "ann@example.com",
        }
        response = service.post("/api/feedback", json=body, headers=headers)
        assert response.status_code == 401, response.text
        assert token not in response.text or len(token) < 4

    check()
    assert entries(app_db) == 0


# Slack -----------------------------------------------------------------------------------------


SLACK_PATHS = ["/slack/events", "/slack/interactions", "/slack/commands"]


def _mutated_event(draw: Any) -> bytes:
    event = reaction_event(draw(st.text(min_size=0, max_size=20)) or "Ev1")
    target = draw(st.sampled_from(["event_id", "team_id", "event", "type", None]))
    if target:
        event[target] = draw(json_values)
    inner = draw(st.sampled_from(["user", "item", "reaction", "type", None]))
    if inner and isinstance(event.get("event"), dict):
        event["event"][inner] = draw(json_values)
    return json_body(event)


@st.composite
def slack_bodies(draw: Any) -> tuple[str, bytes, str]:
    path = draw(st.sampled_from(SLACK_PATHS))
    kind = draw(st.sampled_from(["raw", "json", "form", "mutated"]))
    if kind == "raw":
        deep = b'{"payload": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        body = draw(st.binary(max_size=1500) | st.sampled_from([deep, b"payload=" + deep]))
        return path, body, "application/octet-stream"
    if kind == "json":
        return path, json.dumps(draw(json_values)).encode(), "application/json"
    if kind == "form":
        fields = draw(
            st.dictionaries(
                st.sampled_from(
                    ["payload", "command", "text", "user_id", "response_url", "trigger_id"]
                )
                | any_text,
                any_text,
                max_size=6,
            )
        )
        if draw(st.booleans()):
            payload = approval_click(
                draw(st.integers()), draw(st.sampled_from(["approve", "decline"]))
            )
            payload[draw(st.sampled_from(["actions", "user", "container", "type"]))] = draw(
                json_values
            )
            fields["payload"] = json.dumps(payload)
        return path, urlencode(fields).encode(), "application/x-www-form-urlencoded"
    return "/slack/events", _mutated_event(draw), "application/json"


def test_slack_signed_garbage_gets_4xx_or_ok(service: TestClient) -> None:
    @PROPERTY
    @given(case=slack_bodies())
    def check(case: tuple[str, bytes, str]) -> None:
        path, body, content_type = case
        response = service.post(
            path, content=body, headers={"Content-Type": content_type, **sign(body)}
        )
        assert_4xx_or_ok(response.status_code, response.text)

    check()


def test_slack_forged_stale_and_wrong_secret_signatures_are_refused(
    service: TestClient, app_db: str
) -> None:
    @PROPERTY
    @given(
        path=st.sampled_from(SLACK_PATHS),
        signature=header_safe,
        age=st.integers(min_value=301, max_value=10**9)
        | st.integers(min_value=-(10**9), max_value=-301),
        secret=st.text(min_size=1, max_size=40),
        how=st.sampled_from(["forged", "stale", "wrong_secret", "missing"]),
    )
    def check(path: str, signature: str, age: int, secret: str, how: str) -> None:
        body = json_body(reaction_event("EvFORGED01"))
        if how == "forged":
            headers = {
                "X-Slack-Request-Timestamp": str(int(time.time())),
                "X-Slack-Signature": signature,
            }
        elif how == "stale":
            headers = sign(body, timestamp=int(time.time()) - age)
        elif how == "wrong_secret":
            assume(secret != SIGNING_SECRET)
            headers = sign(body, secret=secret)
        else:
            headers = {}
        response = service.post(
            path, content=body, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status_code == 401, (how, response.status_code, response.text)

    check()
    assert inbox_rows(app_db) == 0


def test_slack_replays_inside_the_window_are_stored_once(service: TestClient, app_db: str) -> None:
    body = json_body(reaction_event("EvREPLAY001"))
    headers = {"Content-Type": "application/json", **sign(body)}
    answers = [service.post("/slack/events", content=body, headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert inbox_rows(app_db) == 1


# The CLI ---------------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    # click turns usage errors into exit 2 and our ValidationError/NotFoundError into "error: …"
    # + exit 2; anything else escaping is a crash.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_cli_submit_with_arbitrary_text(service: TestClient, app_db: str) -> None:
    @settings(PROPERTY, max_examples=max(10, EXAMPLES // 2))
    @given(text=any_text, severity=severities | any_text)
    def check(text: str, severity: str) -> None:
        assume("\x00" not in text + severity)  # a NUL cannot be passed in argv by a shell
        before = entries(app_db)
        result = _cli("submit", "-t", text, "-s", severity, "-a", "Acme", "-u", "ann@example.com")
        assert result.exit_code in (0, 2), result.output
        if result.exit_code == 2:
            assert "error" in result.output.lower()
            assert entries(app_db) == before
        else:
            assert entries(app_db) == before + 1

    check()


GOOD_ROW = (
    '"Row {i}: export to PDF times out for board packs, case {i}",medium,Acme,ann@example.com'
)


@st.composite
def messy_csv(draw: Any) -> tuple[bytes, int]:
    """Valid rows with garbage lines between them; returns (file bytes, valid rows)."""
    lines: list[bytes] = [b"text,severity,account,submitter"]
    valid = 0
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        if draw(st.booleans()):
            lines.append(GOOD_ROW.format(i=draw(st.integers(0, 10**9))).encode())
            valid += 1
        else:
            garbage = draw(
                st.sampled_from(
                    [b"\xff\xfe\xfa broken bytes", b'"never closed, medium', b"a,b", b"x" * 5]
                )
                | st.binary(max_size=80)
                | any_text.map(lambda t: t.replace("\n", " ").encode())
            )
            lines.append(garbage.replace(b"\n", b" ").replace(b"\r", b" "))
    return b"\n".join(lines) + b"\n", valid


def test_malformed_csv_never_crashes_and_keeps_the_valid_rows(
    service: TestClient, app_db: str, tmp_path: Path
) -> None:
    counter = 0

    @settings(PROPERTY, max_examples=max(10, EXAMPLES // 2))
    @given(case=messy_csv())
    def check(case: tuple[bytes, int]) -> None:
        nonlocal counter
        counter += 1
        content, _ = case
        path = tmp_path / f"messy{counter}.csv"
        path.write_bytes(content)
        result = _cli("import", str(path), "--kind", "feedback")
        assert result.exit_code in (0, 1, 2), result.output
        # Every well-formed row of the file is stored, whatever surrounds it.
        for line in content.split(b"\n"):
            if line.startswith(b'"Row ') and line.endswith(b"ann@example.com"):
                text = line.split(b'",')[0][1:].decode()
                assert entries(app_db, Feedback.customer_pain == text) == 1, (text, result.output)

    check()
    record("bad_input", examples_per_property=EXAMPLES, properties=8, crashes=0)
