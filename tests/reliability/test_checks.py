"""The checks of the reliability runs can fail: each violation they look for, planted by hand
in a healthy world, is reported. (A checker that always passes would make every run green.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from gtm_feedback_dagster.messaging.slack_client import SlackClient
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, OutboxMessage, Request
from tests.reliability import invariants
from tests.reliability.slack_ledger import LedgerSlackStandin, compare
from tests.reliability.world import Templates, copy_world, deliver_all


def test_routing_check_reports_each_kind_of_violation(templates: Templates, tmp_path: Path) -> None:
    url = copy_world(templates.routed_delivered, tmp_path)
    assert invariants.routing(url) == []
    assert invariants.outbox_delivered(url) == []
    with session_scope(url) as session:
        created = session.scalars(
            select(Feedback).where(Feedback.match_type == "new_request").limit(1)
        ).one()
        asked = session.scalars(select(Approval).limit(1)).one()
        attached = session.scalars(
            select(Feedback).where(Feedback.match_type == "auto").limit(1)
        ).one()
        request = session.get(Request, created.request_id)
        assert request is not None
        # A second request created for the same entry (half of a double create) ...
        repo.create_request(
            session,
            request.title,
            request.description,
            list(request.areas),
            creator_id=created.submitter_id,
            created_by_routing=True,
            meta={"from_feedback_id": created.id},
        )
        # ... a second approval for an entry ...
        other = session.scalars(select(Request.id).where(Request.id != asked.request_id)).first()
        session.add(
            Approval(
                feedback_id=asked.feedback_id, request_id=other, confidence=0.5, status="pending"
            )
        )
        # ... an entry left pending, and a message left queued.
        session.execute(update(Feedback).where(Feedback.id == attached.id).values(status="pending"))
        sent = session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "sent", OutboxMessage.last_error.is_(None))
            .order_by(OutboxMessage.id)
            .limit(1)
        ).one()
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == sent).values(status="queued")
        )
    problems = " | ".join(invariants.routing(url))
    assert f"entry {created.id} created 2 requests" in problems
    assert "is orphaned" in problems
    assert f"entry {asked.feedback_id} has 2 approvals" in problems
    assert f"entry {attached.id} (pending/auto): not routed" in problems
    assert invariants.outbox_delivered(url) == [f"outbox #{sent} is queued (None)"]


def test_slack_ledger_reports_duplicates_and_missing_messages(
    templates: Templates, tmp_path: Path
) -> None:
    url = copy_world(templates.routed_queued, tmp_path)
    with LedgerSlackStandin() as slack:
        from tests.reliability.world import add_slack_people

        add_slack_people(slack, url)
        deliver_all(url, slack)
        clean = compare(slack, url)
        assert clean.expected == clean.delivered > 0
        assert not clean.duplicates and not clean.missing
        # One message sent again behind the outbox's back, one recorded as sent but never sent.
        with session_scope(url) as session:
            first, second = session.scalars(
                select(OutboxMessage).order_by(OutboxMessage.id).limit(2)
            )
            client = SlackClient(slack.token, base_url=slack.api_url)
            client.post_message(first.slack_channel or "", first.text, first.blocks)
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == second.id).values(text="never sent")
            )
        broken = compare(slack, url)
    assert sum(broken.duplicates.values()) == 2  # the resent one and the original of the edited
    assert sum(broken.missing.values()) == 1 and "never sent" in str(broken.missing)


@pytest.mark.parametrize("after", [1, 3])
def test_kill_switch_fires_after_the_nth_accepted_message(after: int) -> None:
    import subprocess
    import sys

    with LedgerSlackStandin() as slack:
        slack.add_user("U0KILLME01", "k@example.com", "K")
        code = (
            "from gtm_feedback_dagster.messaging.slack_client import SlackClient\n"
            f"c = SlackClient({slack.token!r}, base_url={slack.api_url!r}, max_retries=0)\n"
            "for i in range(5):\n"
            "    c.post_message('C0CHANNEL1', f'message {i}')\n"
            "    print(i, flush=True)\n"
        )
        process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        slack.arm(process.pid, after)
        out, _ = process.communicate(timeout=60)
        slack.wait_idle()
    assert process.returncode == -9 and slack.kill_fired
    # Slack accepted `after` messages; the client saw the answers of all but the last one.
    assert len(slack.accepted) == after
    assert out.split() == [str(i) for i in range(after - 1)]
