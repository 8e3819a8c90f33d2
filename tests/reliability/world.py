"""A realistic world for the reliability runs, built from the demo data set.

The demo generator's areas, accounts, opportunities, 291 requests (with their followers) and the
first N feedback entries are imported with the reference importer, entries stored `pending` so
routing decides. Half of the users have their Slack id cached; the other half are found by email
(`users.lookupByEmail`), as in a real workspace. Request vectors come from the OpenAI stand-in
(deterministic, fast), so children need no local model.

Worlds are built once per session as SQLite templates and copied per trial with SQLite's backup
API (a consistent copy whatever the WAL holds); PostgreSQL trials seed their database directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from gtm_feedback_dagster.ai.embedders import OpenAIEmbedder
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.demo.generator import generate_demo_dataset
from gtm_feedback_dagster.feedback.reference_import import import_reference
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.messaging.slack_client import SlackClient
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.engine import RoutingEnv, ensure_request_vectors, route_batch
from gtm_feedback_dagster.runtime import local_index_from_table
from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Account,
    Approval,
    Feedback,
    Follower,
    Request,
    User,
    utcnow,
)
from gtm_feedback_dagster.vectors.faiss_index import FaissIndex
from tests.slack.support import (
    SIGNING_SECRET,
    approval_click,
    form_body,
    interaction_body,
    json_body,
    reaction_event,
    shipped_command,
    sign,
    view_submission,
)

APP_URL = "https://feedback.example.com"
OPENAI_KEY = "sk-reliability-test-key"
# Thresholds that give the stand-in's bag-of-words confidences a realistic mix of the three tiers
# (measured on the demo batch: about 40% attach, 20% ask, 40% new request).
THRESHOLD_ENV = {
    "GTM_FEEDBACK_AUTO_ATTACH_THRESHOLD": "0.5",
    "GTM_FEEDBACK_ASK_THRESHOLD": "0.15",
}
REACTION_CHANNEL = "C0RELSALES"


def slack_id_for(user_id: int) -> str:
    """The Slack id of app user `user_id` in the stand-in workspace."""
    return f"UREL{user_id:06d}"


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database, url
    return Path(database)


def copy_sqlite(src_url: str, dest_url: str) -> None:
    """A consistent copy of a SQLite database (backup API: committed state, WAL included)."""
    dest = sqlite_path(dest_url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(sqlite_path(src_url))
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def settings_for(url: str, home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        auto_attach_threshold=float(THRESHOLD_ENV["GTM_FEEDBACK_AUTO_ATTACH_THRESHOLD"]),
        ask_threshold=float(THRESHOLD_ENV["GTM_FEEDBACK_ASK_THRESHOLD"]),
        app_url=APP_URL,
        embedder="openai",
    )


def sessions(url: str) -> Callable[[], AbstractContextManager[Session]]:
    def session() -> AbstractContextManager[Session]:
        return session_scope(url)

    return session


# ---------------------------------------------------------------------------- seeding


def seed_pending_world(url: str, entries: int, openai_base_url: str) -> None:
    """Schema, demo entities and `entries` pending feedback entries, request vectors stored."""
    db.upgrade(url)
    data = generate_demo_dataset(seed=7, scale=1)
    subset = {**data, "feedback": data["feedback"][:entries]}
    summary = import_reference(url, subset, route=True)
    assert summary.invalid == 0, summary.problems[:3]
    with session_scope(url) as session:
        for user in session.scalars(select(User).order_by(User.id)).all()[::2]:
            user.slack_user_id = slack_id_for(user.id)
    embedder = OpenAIEmbedder(OPENAI_KEY, base_url=openai_base_url)
    ensure_request_vectors(sessions(url), embedder, FaissIndex(embedder.dim))


def add_slack_people(standin: Any, url: str) -> None:
    """Every app user exists in the stand-in workspace (found by id or by email)."""
    with session_scope(url) as session:
        for user in session.scalars(select(User).order_by(User.id)):
            standin.add_user(slack_id_for(user.id), user.email, user.name)


def route_all(url: str, home: Path, openai_base_url: str) -> dict[str, int]:
    """Routes every pending entry in this process (how the routed templates are made)."""
    embedder = OpenAIEmbedder(OPENAI_KEY, base_url=openai_base_url)
    with session_scope(url) as session:
        ids = list(session.scalars(select(Feedback.id).where(Feedback.status == "pending")))
        index = local_index_from_table(session, embedder.model_id, embedder.dim)
    env = RoutingEnv(settings_for(url, home), sessions(url), embedder, index, CalibratedScorer())
    return route_batch(env, ids).counts


def deliver_all(url: str, standin: Any) -> None:
    client = SlackClient(standin.token, base_url=standin.api_url, backoff_factor=0.001)
    report = deliver_outbox(url, client, limit=10_000)
    assert not report.failed and not report.retrying, report.summary()


@dataclass(frozen=True)
class Templates:
    """SQLite worlds built once per session (URLs of the template files)."""

    pending: str  # entries pending, nothing routed
    routed_queued: str  # routed; its Slack messages still queued
    routed_delivered: str  # routed and delivered (approval DMs have a Slack ts)
    entries: int


def build_templates(directory: Path, entries: int, openai: Any, slack: Any) -> Templates:
    pending = f"sqlite:///{directory / 'pending.db'}"
    seed_pending_world(pending, entries, openai.base_url)
    queued = f"sqlite:///{directory / 'routed_queued.db'}"
    copy_sqlite(pending, queued)
    counts = route_all(queued, directory, openai.base_url)
    assert counts["attach"] and counts["ask"] and counts["new"], counts
    delivered = f"sqlite:///{directory / 'routed_delivered.db'}"
    copy_sqlite(queued, delivered)
    add_slack_people(slack, delivered)
    deliver_all(delivered, slack)
    db.engine_for.cache_clear()  # the templates are only ever copied from now on
    return Templates(pending, queued, delivered, entries)


def copy_world(template: str, directory: Path, keep_pending: int | None = None) -> str:
    """A trial's own copy of a template; optionally only its first `keep_pending` pending
    entries (a smaller batch for tests that are about one fault, not about scale)."""
    url = f"sqlite:///{directory / 'app.db'}"
    copy_sqlite(template, url)
    if keep_pending is not None:
        keep = pending_ids(url)[:keep_pending]
        with session_scope(url) as session:
            session.execute(
                delete(Feedback).where(Feedback.status == "pending", Feedback.id.not_in(keep))
            )
    return url


# ---------------------------------------------------------------------------- trial inputs


def pending_ids(url: str) -> list[int]:
    with session_scope(url) as session:
        return list(
            session.scalars(
                select(Feedback.id).where(Feedback.status == "pending").order_by(Feedback.id)
            )
        )


def ship_requests(url: str, count: int, rng: Random) -> list[int]:
    """Marks `count` open requests that have followers shipped (as `requests ship` does)."""
    with session_scope(url) as session:
        candidates = list(
            session.scalars(
                select(Request.id)
                .join(Follower, Follower.request_id == Request.id)
                .where(Request.status == "open")
                .group_by(Request.id)
                .having(func.count(Follower.id) >= 1)
                .order_by(Request.id)
            )
        )
        chosen = sorted(rng.sample(candidates, min(count, len(candidates))))
        now = utcnow()
        session.execute(
            update(Request)
            .where(Request.id.in_(chosen))
            .values(status="shipped", shipped_at=now, updated_at=now)
        )
    return chosen


@dataclass
class SlackInputs:
    """What a batch of Slack responses should do, to check the outcome against."""

    approved: list[int]  # approval ids clicked Approve
    declined: list[int]  # approval ids clicked Not a match
    reaction_threads: list[tuple[str, str]]  # (channel, root ts)
    views: list[str]  # modal view ids
    shipped: list[int]  # request ids shipped by /shipped
    posted: int  # signed requests sent to the intake service


def _post(client: TestClient, path: str, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type, **sign(body, SIGNING_SECRET)}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 200, (path, response.status_code, response.text)


def post_slack_responses(
    client: TestClient, url: str, standin: Any, rng: Random, per_kind: int
) -> SlackInputs:
    """Signed Slack requests through the intake service: approval clicks (both answers),
    reactions on threads, modal submissions and /shipped commands — `per_kind` of each."""
    with session_scope(url) as session:
        approvals = session.execute(
            select(Approval.id, Approval.slack_channel, Approval.slack_ts, Feedback.submitter_id)
            .join(Feedback, Feedback.id == Approval.feedback_id)
            .where(Approval.status == "pending", Approval.slack_ts.is_not(None))
            .order_by(Approval.id)
        ).all()
        people = list(session.scalars(select(User.id).order_by(User.id)))
        accounts = list(session.scalars(select(Account.name).order_by(Account.id).limit(20)))
        open_requests = list(
            session.scalars(
                select(Request.slug)
                .join(Follower, Follower.request_id == Request.id)
                .where(Request.status == "open")
                .group_by(Request.slug)
                .order_by(Request.slug)
            )
        )
    picked = rng.sample(list(approvals), min(2 * per_kind, len(approvals)))
    approved, declined = [], []
    posted = 0
    for i, (approval_id, channel, ts, submitter) in enumerate(picked):
        decision = "approve" if i % 2 == 0 else "decline"
        payload = approval_click(
            approval_id, decision, user=slack_id_for(submitter), channel=channel, message_ts=ts
        )
        payload["actions"][0]["action_ts"] = f"1790000100.{i:06d}"
        _post(client, "/slack/interactions", interaction_body(payload), _FORM)
        (approved if decision == "approve" else declined).append(approval_id)
        posted += 1

    texts = demo_texts(rng, per_kind * 3)
    threads: list[tuple[str, str]] = []
    for i in range(per_kind):
        root = f"1700000{i:03d}.000100"
        author, reactor = rng.choice(people), rng.choice(people)
        messages = [
            {"ts": root, "text": texts[3 * i], "user": slack_id_for(author)},
            {"ts": f"1700000{i:03d}.000200", "text": texts[3 * i + 1], "user": "U0CUSTOMER"},
            {"ts": f"1700000{i:03d}.000300", "text": texts[3 * i + 2], "user": "U0CUSTOMER"},
        ]
        standin.add_thread(REACTION_CHANNEL, messages)
        reacted = messages[rng.randrange(len(messages))]["ts"]
        event = reaction_event(
            f"EvREL{i:06d}", user=slack_id_for(reactor), channel=REACTION_CHANNEL, ts=reacted
        )
        _post(client, "/slack/events", json_body(event), "application/json")
        threads.append((REACTION_CHANNEL, root))
        posted += 1

    views = []
    for i in range(per_kind):
        payload = view_submission(
            view_id=f"VREL{i:06d}",
            severity=rng.choice(["low", "medium", "high"]),
            account=rng.choice(accounts),
            pain=texts[i] + f" (modal {i})",
            links="",
        )
        payload["user"]["id"] = slack_id_for(rng.choice(people))
        _post(client, "/slack/interactions", interaction_body(payload), _FORM)
        views.append(f"VREL{i:06d}")
        posted += 1

    shipped_slugs = rng.sample(open_requests, min(per_kind, len(open_requests)))
    for i, slug in enumerate(shipped_slugs):
        fields = shipped_command(
            f"{APP_URL}/requests/{slug}",
            response_url=standin.response_url(f"shipped{i}"),
            trigger_id=f"rel.{i}.trigger",
        )
        _post(client, "/slack/commands", form_body(fields), _FORM)
        posted += 1
    with session_scope(url) as session:
        shipped_ids = list(
            session.scalars(select(Request.id).where(Request.slug.in_(shipped_slugs)))
        )
    return SlackInputs(approved, declined, threads, views, sorted(shipped_ids), posted)


_FORM = "application/x-www-form-urlencoded"


def demo_texts(rng: Random, count: int) -> list[str]:
    """Customer-pain sentences from the demo data beyond the imported batch."""
    feedback = generate_demo_dataset(seed=7, scale=1)["feedback"]
    pool = [f["description"] for f in feedback[1000:1500]]
    return [rng.choice(pool) for _ in range(count)]
