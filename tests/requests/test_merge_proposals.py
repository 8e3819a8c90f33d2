"""Merge proposals (`requests/merge_proposals.py`, `requests/merge_answers.py`): each likely
duplicate pair is proposed once to its area's owner, over the real slack-sdk client against the
Slack stand-in; Merge / Keep both clicks go through the inbox dispatch like any Slack click."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from gtm_feedback_dagster.config import Secrets
from gtm_feedback_dagster.messaging.delivery import deliver_outbox
from gtm_feedback_dagster.requests.merge_proposals import (
    MAX_PROPOSALS_PER_AREA,
    likely_duplicates,
    propose_merges,
)
from gtm_feedback_dagster.requests.triage import triage_items
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.slack import inbox, payloads
from gtm_feedback_dagster.slack.dispatch import resolve_inbox
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Feedback,
    OutboxMessage,
    ProductArea,
    Request,
    RequestRelation,
    User,
)
from tests.requests.merge_support import Pair, seed_pair
from tests.slack.support import (
    ANA_SLACK,
    APP_URL,
    BOB_SLACK,
    add_people,
    client_for,
    outbox,
)
from tests.standins.slack_standin import SlackStandin

HOSTILE = "<!channel> Tom & <https://evil.example|Jerry> \u202e|pipe"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        add_people(server)
        monkeypatch.setenv("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE", f"{server.url}/hooks/")
        yield server
    assert not server.errors


def runtime(pair: Pair, slack: SlackStandin) -> Runtime:
    rt = Runtime.from_settings(pair.settings, Secrets())
    rt.slack = client_for(slack)
    rt.llm = None
    return rt


def propose(pair: Pair) -> Any:
    with session_scope(pair.world.url) as session:
        return propose_merges(session, pair.settings)


def click(
    pair: Pair,
    decision: str,
    *,
    user: str = ANA_SLACK,
    action_ts: str = "1790000001.000200",
    dup: int | None = None,
    target: int | None = None,
    slack: SlackStandin | None = None,
) -> int:
    """A signed click as the Slack route stores it (parsed by the real payload parser)."""
    sent = [m for m in outbox(pair.world.url, kind="merge_proposal") if m.slack_ts]
    where = (sent[0].slack_channel, sent[0].slack_ts) if sent else ("D0ANA00001", "1.2")
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "container": {
            "type": "message",
            "channel_id": where[0],
            "message_ts": where[1],
        },
        "response_url": slack.response_url("act") if slack else None,
        "actions": [
            {
                "action_id": "merge_proposal_merge"
                if decision == "merge"
                else "merge_proposal_keep_both",
                "value": f"merge_proposal:{dup or pair.dup}:{target or pair.keep}:{decision}",
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    action = payloads.block_action(payload)
    assert action is not None and action["merge_proposal"]
    with session_scope(pair.world.url) as session:
        row = inbox.store_inbox(
            session, "interaction", f"action:merge:{user}:{decision}:{action_ts}", action
        )
    assert row is not None
    return row


def request(url: str, request_id: int) -> Request:
    with session_scope(url) as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found


# ---------------------------------------------------------------------------- proposing


def test_a_pair_is_proposed_once_to_the_area_owner(db_url: str, slack: SlackStandin) -> None:
    pair = seed_pair(db_url)
    first = propose(pair)
    assert first.proposed == [(pair.dup, pair.keep)]
    deliver_outbox(db_url, client_for(slack))
    # A retry, a second run: nothing new.
    assert propose(pair).proposed == [] and propose(pair).already_proposed == 1
    deliver_outbox(db_url, client_for(slack))
    (dm,) = slack.calls("chat.postMessage")
    assert dm["channel"] == ANA_SLACK  # the owner's DM, found by email
    text = str(dm["blocks"])
    assert f"<{APP_URL}/requests/invoices-in-eur|Invoices in EUR>" in text
    assert "EUR invoices for European customers" in text
    assert "2 entries · 2 accounts · $150.0K ARR" in text  # distinct accounts' ARR
    assert "1 entry · 1 account · $120.0K ARR" in text
    (buttons,) = [b for b in dm["blocks"] if b["type"] == "actions"]
    values = [e["value"] for e in buttons["elements"]]
    assert values == [
        f"merge_proposal:{pair.dup}:{pair.keep}:merge",
        f"merge_proposal:{pair.dup}:{pair.keep}:keep",
    ]
    (row,) = outbox(db_url, kind="merge_proposal")
    assert row.dedupe_key == f"merge-proposal:{min(pair.dup, pair.keep)}:{max(pair.dup, pair.keep)}"


def test_without_an_owner_the_firehose_channel_gets_it(sqlite_url: str) -> None:
    pair = seed_pair(sqlite_url, owners="")
    assert propose(pair).proposed == [(pair.dup, pair.keep)]
    (row,) = outbox(sqlite_url, kind="merge_proposal")
    assert (row.user_id, row.channel) == (None, "firehose-billing")


def test_no_owner_and_no_channel_queues_nothing_until_one_is_set(sqlite_url: str) -> None:
    pair = seed_pair(sqlite_url, owners="", firehose=None)
    report = propose(pair)
    assert report.proposed == [] and report.no_recipient == {"billing"}
    assert outbox(sqlite_url, kind="merge_proposal") == []
    pair.settings = dataclasses.replace(pair.settings, area_owners="*=ana@example.com")
    assert propose(pair).proposed == [(pair.dup, pair.keep)]


def test_a_new_owner_is_not_flooded(sqlite_url: str) -> None:
    pair = seed_pair(sqlite_url)
    with session_scope(sqlite_url) as session:
        area = session.get(ProductArea, pair.world.area_id)
        for i in range(MAX_PROPOSALS_PER_AREA + 2):
            extra = repo.create_request(
                session, f"Euro invoicing variant {i}", "", [area], creator_id=None
            )
            session.flush()
            session.add(
                RequestRelation(
                    request_id=extra.id, related_id=pair.keep, similarity=0.8 + i / 1000
                )
            )
    report = propose(pair)
    assert len(report.proposed) == MAX_PROPOSALS_PER_AREA and report.deferred == 3
    assert len(propose(pair).proposed) == 3  # the rest on the next run


def test_hostile_titles_are_escaped_and_the_blocks_valid(
    sqlite_url: str, slack: SlackStandin
) -> None:
    pair = seed_pair(sqlite_url, dup_title=HOSTILE)
    propose(pair)
    (row,) = outbox(sqlite_url, kind="merge_proposal")
    for text in [row.text] + [
        t for b in row.blocks for t in ([b["text"]["text"]] if b["type"] == "section" else [])
    ]:
        without_ours = re.sub(
            r"<" + re.escape(APP_URL) + r"/requests/[a-z0-9-]+\|[^<>|]*>", "", text
        )
        assert "<" not in without_ours and ">" not in without_ours
        assert "\u202e" not in text and "<!channel>" not in text
    assert "&lt;!channel&gt; Tom &amp;" in str(row.blocks)
    for block in row.blocks:
        parsed = Block.parse(block)
        assert parsed is not None and parsed.to_dict() == block
        parsed.validate_json()
    deliver_outbox(sqlite_url, client_for(slack))  # Slack (the stand-in) accepts it
    assert len(slack.calls("chat.postMessage")) == 1


# ---------------------------------------------------------------------------- answering


def test_merge_click_merges_and_tells_followers_once(db_url: str, slack: SlackStandin) -> None:
    pair = seed_pair(db_url)
    rt = runtime(pair, slack)
    propose(pair)
    deliver_outbox(db_url, rt.slack)
    first = click(pair, "merge", slack=slack)
    second = click(pair, "merge", action_ts="1790000002.000300", slack=slack)  # double click
    report = resolve_inbox(rt, [first, second])
    assert report.outcomes == {first: "merged", second: "already_handled"}
    merged = request(db_url, pair.dup)
    assert (merged.status, merged.merged_into_id) == ("merged", pair.keep)
    with session_scope(db_url) as session:
        moved = session.scalars(select(Feedback.request_id)).all()
        assert set(moved) == {pair.keep} and len(moved) == 3
        assert session.get(User, pair.world.ana_id).slack_user_id == ANA_SLACK  # type: ignore[union-attr]
    assert resolve_inbox(rt, [first, second]).skipped == [first, second]
    deliver_outbox(db_url, rt.slack)
    told = [m for m in outbox(db_url, kind="merged")]
    assert [m.user_id for m in told] == [pair.world.bob_id]
    notices = [c for c in slack.calls("chat.postMessage") if "was merged into" in c["text"]]
    assert len(notices) == 1 and notices[0]["channel"] == BOB_SLACK
    (update,) = slack.calls("chat.update")
    (proposal,) = outbox(db_url, kind="merge_proposal")
    assert (update["channel"], update["ts"]) == (proposal.slack_channel, proposal.slack_ts)
    assert f"Merged #{pair.dup} into #{pair.keep} by <@{ANA_SLACK}>" in str(update["blocks"])
    assert all(b["type"] != "actions" for b in update["blocks"])
    (late,) = slack.hook_calls("act")  # the second click is told what happened
    assert "already handled" in late["text"] and f"#{pair.dup} was merged" in late["text"]
    assert propose(pair).proposed == []


def test_keep_both_click_records_it_and_the_pair_is_never_proposed_again(
    sqlite_url: str, slack: SlackStandin
) -> None:
    pair = seed_pair(sqlite_url)
    rt = runtime(pair, slack)
    propose(pair)
    deliver_outbox(sqlite_url, rt.slack)
    keep = click(pair, "keep", slack=slack)
    late_merge = click(pair, "merge", action_ts="1790000003.000100", slack=slack)
    report = resolve_inbox(rt, [keep, late_merge])
    assert report.outcomes == {keep: "kept_both", late_merge: "already_handled"}
    assert request(sqlite_url, pair.dup).status == "open"  # the late Merge did nothing
    assert pair.keep in request(sqlite_url, pair.dup).meta["distinct_from"]
    with session_scope(sqlite_url) as session:
        assert likely_duplicates(session) == []
        assert triage_items(session)["duplicates"] == []
        # Even with the proposal row gone, the pair is not proposed again.
        session.query(OutboxMessage).filter(OutboxMessage.kind == "merge_proposal").delete()
    assert propose(pair).proposed == []
    deliver_outbox(sqlite_url, rt.slack)
    (update,) = slack.calls("chat.update")
    assert "Kept #" in str(update["blocks"]) and f"<@{ANA_SLACK}>" in str(update["blocks"])
    assert outbox(sqlite_url, kind="merged") == []


def test_only_the_owner_may_answer(sqlite_url: str, slack: SlackStandin) -> None:
    pair = seed_pair(sqlite_url)
    rt = runtime(pair, slack)
    propose(pair)
    deliver_outbox(sqlite_url, rt.slack)
    row = click(pair, "merge", user=BOB_SLACK, slack=slack)
    report = resolve_inbox(rt, [row])
    assert report.failed == [row] and "not the recipient" in report.errors[row]
    assert request(sqlite_url, pair.dup).status == "open"
    deliver_outbox(sqlite_url, rt.slack)
    (reply,) = slack.hook_calls("act")
    assert (
        reply["text"].startswith("Only the product owner") and reply["response_type"] == "ephemeral"
    )
    assert slack.calls("chat.update") == []


def test_a_value_for_a_pair_never_proposed_is_refused(sqlite_url: str, slack: SlackStandin) -> None:
    pair = seed_pair(sqlite_url)
    rt = runtime(pair, slack)
    propose(pair)
    # The proposed direction is dup -> keep; the reverse was never offered.
    row = click(pair, "merge", dup=pair.keep, target=pair.dup, slack=slack)
    report = resolve_inbox(rt, [row])
    assert report.failed == [row] and "no merge proposal" in report.errors[row]
    assert request(sqlite_url, pair.keep).status == "open"
    assert request(sqlite_url, pair.dup).status == "open"


def test_a_pair_settled_on_the_web_before_delivery_cancels_the_proposal(sqlite_url: str) -> None:
    from gtm_feedback_dagster.requests.lifecycle import keep_both

    pair = seed_pair(sqlite_url)
    propose(pair)
    with session_scope(sqlite_url) as session:
        keep_both(session, pair.dup, pair.keep)
    assert propose(pair).cancelled == 1
    (row,) = outbox(sqlite_url, kind="merge_proposal")
    assert row.status == "cancelled"
