"""A steady-state app database for the sensor and job benchmarks: the demo data imported (entries
routed to their reference requests), plus the tables a running system accumulates — a sent
message per routed entry in the outbox, processed Slack inbox rows, approvals — and, on top, a
small amount of due work for every sensor:

| sensor | due work |
|---|---|
| new_feedback | `pending` entries (1k at 100x), cursor half-way through them (new + sweep pass) |
| slack_responses | 100 unprocessed approval decisions, some approvals past their expiry |
| outbox | 1k queued messages whose retry time has passed |
| reminders | 50 requests created just over an hour ago with a creator and no feedback |
| shipped | 150 requests shipped an hour ago, not yet announced |
| firehose | 300 entries auto-routed in the last minutes, areas with firehose channels |

No-match entries beyond those kept pending or awaiting approval are parked as `failed` (a state
no sensor reads). Bulk rows are written once into the cached template; the time-relative columns
of the due rows are set by `refresh_due_work(url, plan, now)` on each working copy, so a template
built yesterday still has work due "now".
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.slack.payloads import approval_action
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    OutboxMessage,
    ProductArea,
    Request,
    RequestArea,
    SlackInbox,
    User,
    utcnow,
)

CHUNK = 5000


@dataclass
class DueWork:
    """Ids of the rows whose time columns `refresh_due_work` sets relative to "now"."""

    pending_ids: list[int] = field(default_factory=list)
    approval_ids: list[int] = field(default_factory=list)
    expired_approval_ids: list[int] = field(default_factory=list)
    unprocessed_inbox_ids: list[int] = field(default_factory=list)
    processed_inbox_max_id: int = 0
    queued_outbox_ids: list[int] = field(default_factory=list)
    reminder_request_ids: list[int] = field(default_factory=list)
    shipped_request_ids: list[int] = field(default_factory=list)
    firehose_entry_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> DueWork:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Sizes:
    pending: int
    approvals: int
    expired_approvals: int
    inbox_processed: int
    inbox_unprocessed: int
    outbox_queued: int
    reminders: int
    shipped: int
    firehose: int

    @classmethod
    def for_scale(cls, scale: int, smoke: bool) -> Sizes:
        if smoke:
            return cls(50, 40, 5, 200, 10, 50, 5, 10, 30)
        return cls(1000, 2000, 100, 200 * scale, 100, 1000, 50, 150, 300)


def _chunks(rows: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _insert_returning_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(rows, 500):
        ids.extend(session.scalars(insert(table).returning(table.id), chunk))
    return ids


def build_steady_state(url: str, scale: int, smoke: bool, seed: int = 7) -> DueWork:
    """Adds the steady-state rows to an imported (route=False) database; returns the due-work
    plan to store next to the template."""
    sizes = Sizes.for_scale(scale, smoke)
    rng = random.Random(seed)
    now = utcnow()
    plan = DueWork()
    with session_scope(url) as session:
        users = list(session.scalars(select(User.id).order_by(User.id)))
        request_ids = list(session.scalars(select(Request.id).order_by(Request.id)))
        area_rows = session.execute(select(ProductArea.id, ProductArea.slug)).all()
        for area_id, slug in area_rows:
            channel = "C0" + "".join(c for c in slug.upper() if c.isalnum())[:9]
            session.execute(
                update(ProductArea)
                .where(ProductArea.id == area_id)
                .values(firehose_channel=channel)
            )

        # Entries: keep the newest no-match entries pending, some awaiting approval, park the rest.
        nomatch = list(
            session.scalars(
                select(Feedback.id).where(Feedback.status == "pending").order_by(Feedback.id)
            )
        )
        pending = nomatch[-sizes.pending :] if sizes.pending else []
        asked = nomatch[: min(sizes.approvals, max(0, len(nomatch) - len(pending)))]
        parked = nomatch[len(asked) : len(nomatch) - len(pending)]
        for chunk in _chunks(parked):
            session.execute(
                update(Feedback)
                .where(Feedback.id.in_(chunk))
                .values(status="failed", error="parked by the benchmark set-up")
            )
        for chunk in _chunks(asked):
            session.execute(
                update(Feedback)
                .where(Feedback.id.in_(chunk))
                .values(status="awaiting_approval", confidence=0.85)
            )
        plan.pending_ids = pending
        approval_rows = [
            {
                "feedback_id": entry_id,
                "request_id": rng.choice(request_ids),
                "confidence": 0.85,
                "reason": "similarity 0.62; benchmark set-up",
                "status": "pending",
                "created_at": now,
                "expires_at": now + timedelta(days=7),
            }
            for entry_id in asked
        ]
        plan.approval_ids = _insert_returning_ids(session, Approval, approval_rows)
        plan.expired_approval_ids = plan.approval_ids[: sizes.expired_approvals]

        # Slack inbox: history (processed), then decisions waiting for the sensor.
        history = [
            {
                "kind": "event",
                "dedupe_key": f"event:EvBENCH{i:08d}",
                "payload": {"type": "reaction_added", "event_id": f"EvBENCH{i:08d}"},
                "received_at": now - timedelta(minutes=i % 50_000),
                "processed_at": now,
                "attempts": 1,
            }
            for i in range(sizes.inbox_processed)
        ]
        inbox_ids = _insert_returning_ids(session, SlackInbox, history)
        plan.processed_inbox_max_id = max(inbox_ids, default=0)
        decided = plan.approval_ids[sizes.expired_approvals :][: sizes.inbox_unprocessed]
        plan.unprocessed_inbox_ids = _insert_returning_ids(
            session,
            SlackInbox,
            [
                {
                    "kind": "cli",
                    "dedupe_key": f"bench-decision:{approval_id}",
                    "payload": approval_action(
                        approval_id, "approve", source="cli", actor="cli:bench"
                    ),
                    "received_at": now,
                    "attempts": 0,
                }
                for approval_id in decided
            ],
        )

        # Outbox: one delivered confirmation per routed entry, plus due retries.
        routed = session.execute(
            select(Feedback.id, Feedback.submitter_id, Feedback.request_id)
            .where(Feedback.status == "routed")
            .order_by(Feedback.id)
        ).all()
        for chunk in _chunks(list(routed)):
            session.execute(
                insert(OutboxMessage),
                [
                    {
                        "kind": "routing_confirmation",
                        "dedupe_key": f"confirm:{entry_id}",
                        "user_id": submitter or users[0],
                        "text": "Your feedback was added to a request.",
                        "status": "sent",
                        "attempts": 1,
                        "slack_channel": "D0BENCH01",
                        "slack_ts": f"1700000000.{entry_id:06d}",
                        "feedback_id": entry_id,
                        "request_id": request_id,
                        "created_at": now,
                        "sent_at": now,
                    }
                    for entry_id, submitter, request_id in chunk
                ],
            )
        plan.queued_outbox_ids = _insert_returning_ids(
            session,
            OutboxMessage,
            [
                {
                    "kind": "routing_confirmation",
                    "dedupe_key": f"bench-retry:{i}",
                    "user_id": users[i % len(users)],
                    "text": "Your feedback was added to a request (retry).",
                    "status": "queued",
                    "attempts": 1,
                    "last_error": "ratelimited",
                    "created_at": now,
                }
                for i in range(sizes.outbox_queued)
            ],
        )

        # Requests: new ones waiting for a reminder, some just shipped.
        first_area = area_rows[0][0]
        plan.reminder_request_ids = _insert_returning_ids(
            session,
            Request,
            [
                {
                    "slug": f"bench-new-request-{i}",
                    "title": f"Benchmark request without feedback {i}",
                    "description": "Created by hand; no customer feedback attached yet.",
                    "status": "open",
                    "creator_id": users[i % len(users)],
                    "links": [],
                    "meta": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(sizes.reminders)
            ],
        )
        session.execute(
            insert(RequestArea),
            [{"request_id": rid, "area_id": first_area} for rid in plan.reminder_request_ids],
        )
        open_ids = list(
            session.scalars(select(Request.id).where(Request.status == "open").order_by(Request.id))
        )
        plan.shipped_request_ids = rng.sample(open_ids, min(sizes.shipped, len(open_ids)))
        session.execute(
            update(Request)
            .where(Request.id.in_(plan.shipped_request_ids))
            .values(status="shipped", shipped_notified_at=None)
        )
        plan.firehose_entry_ids = sorted(rng.sample([r[0] for r in routed], sizes.firehose))
        session.execute(
            update(Feedback)
            .where(Feedback.id.in_(plan.firehose_entry_ids))
            .values(match_type="auto")
        )
    plan.counts = {
        "entries": len(routed) + len(nomatch),
        "pending": len(pending),
        "awaiting_approval": len(asked),
        "parked_failed": len(parked),
        "slack_inbox": len(inbox_ids) + len(plan.unprocessed_inbox_ids),
        "outbox": len(routed) + len(plan.queued_outbox_ids),
        "approvals": len(plan.approval_ids),
    }
    return plan


def refresh_due_work(url: str, plan: DueWork, now: datetime | None = None) -> None:
    """Sets the time columns of the due rows relative to `now` (default: the current time)."""
    now = now or utcnow()
    with session_scope(url) as session:
        expired = set(plan.expired_approval_ids)
        for chunk in _chunks(plan.approval_ids):
            session.execute(
                update(Approval)
                .where(Approval.id.in_(chunk))
                .values(created_at=now - timedelta(days=1), expires_at=now + timedelta(days=6))
            )
        session.execute(
            update(Approval)
            .where(Approval.id.in_(sorted(expired)))
            .values(created_at=now - timedelta(days=8), expires_at=now - timedelta(days=1))
        )
        session.execute(
            update(SlackInbox)
            .where(SlackInbox.id.in_(plan.unprocessed_inbox_ids))
            .values(received_at=now - timedelta(seconds=5), next_attempt_at=None)
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(plan.queued_outbox_ids))
            .values(
                created_at=now - timedelta(minutes=10), next_attempt_at=now - timedelta(minutes=1)
            )
        )
        session.execute(
            update(Request)
            .where(Request.id.in_(plan.reminder_request_ids))
            .values(created_at=now - timedelta(minutes=70), reminder_sent_at=None)
        )
        session.execute(
            update(Request)
            .where(Request.id.in_(plan.shipped_request_ids))
            .values(shipped_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=1))
        )
        for i, entry_id in enumerate(plan.firehose_entry_ids):
            # Spread over the last four minutes, newest last.
            ago = timedelta(
                seconds=240 * (len(plan.firehose_entry_ids) - i) / len(plan.firehose_entry_ids)
            )
            session.execute(
                update(Feedback).where(Feedback.id == entry_id).values(routed_at=now - ago)
            )
