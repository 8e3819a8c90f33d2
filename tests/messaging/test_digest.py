"""Issue 11 item 6: a submitter gets at most one question DM per routing batch — a digest of
their asks with Approve / Not a match per ask — and a decision edits the digest in place."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from sqlalchemy import select, update

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.config import Secrets
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.digest import (
    KIND_DIGEST,
    KIND_DIGEST_UPDATE,
    approval_digest_message,
    digest_approval_ids,
)
from gtm_feedback_dagster.routing.engine import route_batch
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack import inbox, payloads
from gtm_feedback_dagster.slack.dispatch import resolve_inbox
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, OutboxMessage
from tests.routing.conftest import EnvFactory, make_env  # noqa: F401 (fixture)
from tests.routing.handmade import add_entry, seed_requests

TEXTS = [
    "Board members would like the charts as a printable file.",
    "Block logins from outside the office network, their security team says.",
    "Send the weekly report by email to the leadership list.",
]


def _validate(message_blocks: list[dict[str, Any]]) -> None:
    assert len(message_blocks) <= 50
    for block in message_blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def test_digest_blocks_escape_and_validate() -> None:
    asks = [
        (7, "Export *dashboards* <to> PDF", "export-pdf", "<!channel> ping & `code`", "high"),
        (8, "IP allowlisting", "ip-allowlisting", "x" * 5000, None),
    ]
    text, message_blocks = approval_digest_message("https://app.example.com", asks)
    _validate(message_blocks)
    assert digest_approval_ids(message_blocks) == [7, 8]
    assert "<!channel>" not in str(message_blocks) and "<!channel>" not in text
    values = [e["value"] for b in message_blocks if b["type"] == "actions" for e in b["elements"]]
    assert [blocks.parse_approval_action_value(v) for v in values] == [
        (7, "approve"),
        (7, "decline"),
        (8, "approve"),
        (8, "decline"),
    ]


def _decide(url: str, rt: Runtime, approval_id: int, key: str) -> str:
    with session_scope(url) as session:
        row = inbox.store_inbox(
            session, "cli", key, payloads.approval_action(approval_id, "approve", source="cli")
        )
    assert row is not None
    report = resolve_inbox(rt, [row])
    return report.outcomes.get(row, str(report.errors.get(row)))


def test_one_digest_per_submitter_per_batch(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    make_env: EnvFactory,  # noqa: F811 (the routing fixture, imported above)
) -> None:
    seeded = seed_requests(sqlite_url)
    # Thresholds that ask about every entry: attach needs 1.0, any chance asks.
    env = make_env(sqlite_url, local_embedder, auto=1.0, ask=0.0)
    alice = [add_entry(sqlite_url, t, seeded.alice) for t in TEXTS]
    bob = add_entry(sqlite_url, TEXTS[1], seeded.bob)
    report = route_batch(env, [*alice, bob])
    asked = {o.entry_id for o in report.outcomes if o.tier == "ask"}
    alice_asked = asked & set(alice)
    # The vague texts are asks whatever the calibration's exact numbers (attach needs 1.0).
    assert len(alice_asked) >= 2 and bob in asked, [(o.tier, o.confidence) for o in report.outcomes]
    assert report.digests == 1
    with session_scope(sqlite_url) as s:
        live = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "queued")
                .order_by(OutboxMessage.id)
            )
        )
        to_alice = [m for m in live if m.user_id == seeded.alice]
        to_bob = [m for m in live if m.user_id == seeded.bob]
        assert [m.kind for m in to_alice] == [KIND_DIGEST]  # one message for three asks
        assert [m.kind for m in to_bob] == ["approval_request"]  # a single ask stays as it was
        digest = to_alice[0]
        _validate(digest.blocks or [])
        ids = digest_approval_ids(digest.blocks)
        assert len(ids) == len(alice_asked)
        assert {
            a.feedback_id for a in s.scalars(select(Approval).where(Approval.id.in_(ids)))
        } == alice_asked

    rt = Runtime.from_settings(env.settings, Secrets())
    rt.slack = None
    rt.llm = None
    # A decision while the digest is still queued rewrites it: that ask's buttons are gone.
    assert _decide(sqlite_url, rt, ids[0], "c1") == "approved"
    with session_scope(sqlite_url) as s:
        digest = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == KIND_DIGEST)).one()
        assert digest_approval_ids(digest.blocks) == ids[1:]
        assert blocks.APPROVED_STATUS_TEXT in str(digest.blocks)
        # Delivered: a later decision edits the sent digest in Slack.
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == digest.id)
            .values(status="sent", slack_channel="D0ALICE", slack_ts="1790000000.000100")
        )
    assert _decide(sqlite_url, rt, ids[1], "c2") == "approved"
    with session_scope(sqlite_url) as s:
        (edit,) = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == KIND_DIGEST_UPDATE))
        assert (edit.channel, edit.target_ts) == ("D0ALICE", "1790000000.000100")
        assert digest_approval_ids(edit.blocks) == ids[2:]  # cumulative: both decisions shown
        _validate(edit.blocks or [])
