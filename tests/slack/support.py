"""Shared set-up for the Slack tests: a small world (users, account, area, request, an approval
created by routing's own apply step) and Slack request signing done independently of the code
under test (HMAC-SHA256 over `v0:{ts}:{body}`, as Slack signs)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging.slack_client import SlackClient
from gtm_feedback_dagster.routing.apply import EntrySnapshot, apply_ask
from gtm_feedback_dagster.routing.candidates import RequestInfo
from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, OutboxMessage, ProductArea, Request, User

APP_URL = "https://feedback.example.com"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ANA_SLACK = "U0ANA00001"
BOB_SLACK = "U0BOB00001"


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(
        home=Path("/tmp/gtm-feedback-tests"), database_url=url, app_url=APP_URL, **overrides
    )


def client_for(standin: Any) -> SlackClient:
    """The real client against the stand-in; tiny backoff keeps 5xx retries fast."""
    return SlackClient(standin.token, base_url=standin.api_url, backoff_factor=0.001, timeout=5)


def add_people(standin: Any) -> None:
    standin.add_user(ANA_SLACK, "ana@example.com", "Ana Lopez")
    standin.add_user(BOB_SLACK, "bob@example.com", "Bob Stone")


@dataclass
class World:
    url: str
    settings: Settings
    ana_id: int
    bob_id: int
    account_id: int
    area_id: int
    other_area_id: int
    request_id: int
    request_slug: str
    entry_id: int | None = None
    approval_id: int | None = None


def seed_world(url: str, *, with_approval: bool = True, firehose: str | None = "billing") -> World:
    settings = settings_for(url)
    with session_scope(url) as session:
        ana = repo.get_or_create_user(session, "ana@example.com", "Ana Lopez")
        bob = repo.get_or_create_user(session, "bob@example.com", "Bob Stone")
        session.add(Account(name="Acme", external_id="001ACME", arr=120_000.0, is_enterprise=True))
        area, _ = repo.create_area(
            session, "Billing", "Invoices, payments, currencies", firehose_channel=firehose
        )
        other, _ = repo.create_area(session, "Dashboards", "Charts and dashboards")
        request = repo.create_request(
            session,
            "Invoices in EUR",
            "Customers outside the US need invoices in their own currency.",
            [area],
            creator_id=bob.id,
        )
        session.flush()
        account_id = session.scalar(select(Account.id).where(Account.name == "Acme"))
        world = World(
            url,
            settings,
            ana.id,
            bob.id,
            int(account_id or 0),
            area.id,
            other.id,
            request.id,
            request.slug,
        )
    if with_approval:
        world.entry_id, world.approval_id = add_approval(world, "Acme cannot get invoices in euros")
    return world


def add_approval(world: World, pain: str, confidence: float = 0.85) -> tuple[int, int]:
    """A pending entry routed to the ask tier by routing's own apply step (which queues the
    approval DM with the Approve / Not a match buttons)."""
    with session_scope(world.url) as session:
        entry, _ = repo.add_feedback(
            session,
            {
                "source": "cli",
                "customer_pain": pain,
                "severity": "high",
                "account_id": world.account_id,
                "submitter_id": world.ana_id,
            },
        )
        request = session.get(Request, world.request_id)
        assert request is not None
        info = RequestInfo(
            request.id,
            request.title,
            request.description,
            request.slug,
            request.status,
            ("billing",),
        )
        decision = Decision("ask", request.id, confidence, "same currency problem", "calibrated")
        applied = apply_ask(
            session,
            EntrySnapshot(entry.id, pain, "high", world.ana_id),
            info,
            decision,
            world.settings,
        )
        assert applied.approval_id is not None
        return entry.id, applied.approval_id


def outbox(url: str, **where: Any) -> list[OutboxMessage]:
    with session_scope(url) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for key, value in where.items():
            query = query.where(getattr(OutboxMessage, key) == value)
        return list(session.scalars(query))


def user(url: str, user_id: int) -> User:
    with session_scope(url) as session:
        found = session.get(User, user_id)
        assert found is not None
        return found


def area(url: str, area_id: int) -> ProductArea:
    with session_scope(url) as session:
        found = session.get(ProductArea, area_id)
        assert found is not None
        return found


# ---------------------------------------------------------------------------- signed requests


def sign(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def form_body(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    return form_body({"payload": json.dumps(payload)})


def reaction_event(
    event_id: str = "Ev0001",
    *,
    user: str = ANA_SLACK,
    channel: str = "C0SALES01",
    ts: str = "1700000000.000200",
    reaction: str = "gtm-feedback",
) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T0TEAM0001",
        "event_id": event_id,
        "event_time": 1700000001,
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": BOB_SLACK,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": "1700000001.000100",
        },
    }


def approval_click(
    approval_id: int,
    decision: str = "approve",
    *,
    user: str = ANA_SLACK,
    response_url: str | None = None,
    channel: str = "D0ANA00001",
    message_ts: str = "1790000000.000001",
) -> dict[str, Any]:
    action_id = f"feedback_match_approval_{'approve' if decision == 'approve' else 'decline'}"
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "ana"},
        "team": {"id": "T0TEAM0001"},
        "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
        "channel": {"id": channel},
        "message": {"ts": message_ts, "text": "Would you like..."},
        "trigger_id": "1234.5678.abcdef",
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"feedback_match_approval_{approval_id}",
                "value": f"feedback_match_approval:{approval_id}:{decision}",
                "type": "button",
                "action_ts": "1790000001.000200",
            }
        ],
    }
    if response_url:
        payload["response_url"] = response_url
    return payload


def view_submission(
    *,
    view_id: str = "V0VIEW0001",
    severity: str = "dealbreaker",
    account: str = "Acme",
    pain: str = "Acme needs SAML single sign-on before renewal.",
    links: str = "https://acme.example.com/ticket/1",
    opportunity: str = "",
) -> dict[str, Any]:
    def plain(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    return {
        "type": "view_submission",
        "user": {"id": ANA_SLACK, "username": "ana", "name": "ana"},
        "team": {"id": "T0TEAM0001"},
        "view": {
            "id": view_id,
            "callback_id": "feedback_view_id",
            "state": {
                "values": {
                    "severity_block_id": {
                        "severity_select_id": {
                            "type": "static_select",
                            "selected_option": {"value": severity} if severity else None,
                        }
                    },
                    "account_id_block_id": {"account_id_input_id": plain(account)},
                    "opportunity_id_block_id": {"opportunity_id_input_id": plain(opportunity)},
                    "customer_pain_block_id": {"customer_pain_input_id": plain(pain)},
                    "links_block_id": {"links_input_id": plain(links)},
                }
            },
        },
    }


def shipped_command(
    text: str, *, response_url: str, trigger_id: str = "111.222.abc"
) -> dict[str, str]:
    return {
        "command": "/shipped",
        "text": text,
        "user_id": BOB_SLACK,
        "user_name": "bob",
        "channel_id": "C0SALES01",
        "team_id": "T0TEAM0001",
        "trigger_id": trigger_id,
        "response_url": response_url,
    }
