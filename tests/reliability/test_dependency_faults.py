"""Dependencies failing, end to end through the jobs, the sensors and the CLI.

The unit-level fault handling is tested where it lives (tests/slack/test_client.py,
tests/slack/test_outbox.py, tests/ai/test_embedders.py, tests/ai/test_llm.py,
tests/vectors/test_upstash_index.py, tests/jobs/test_route_feedback.py for OpenAI 503s and a
rejected key). What is added here is the whole path: faults injected into the stand-ins while
real jobs run from sensor ticks; transient faults retried with backoff until they succeed; a
permanent one marks that entry or message `failed` with its reason, visible in
`gtm-feedback entries show` / `gtm-feedback outbox --status failed`, retryable with
`gtm-feedback entries retry` / `gtm-feedback outbox retry`, while the rest of the batch goes on.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.messaging.outbox import FAILED
from gtm_feedback_dagster.resources.slack import SlackResource
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, OutboxMessage, Request, User
from tests.reliability import invariants
from tests.reliability.recovery import Recovery, advance_clock
from tests.reliability.report import record
from tests.reliability.slack_ledger import compare, row_key
from tests.reliability.stack import Stack, open_stack
from tests.reliability.world import Templates, copy_world, pending_ids, slack_id_for
from tests.standins.openai_standin import openai_error

SMALL_BATCH = 20


def cli_run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output, result.output
    return result


def fast_slack(stack: Stack, timeout: float = 1.0) -> None:
    """The Slack resource with a short timeout and tiny backoffs (production: 30 s, 0.5 s)."""
    stack.overrides["slack"] = SlackResource(
        bot_token=dg.EnvVar("SLACK_BOT_TOKEN"),
        base_url=stack.slack.api_url,
        timeout_seconds=timeout,
        retry_backoff_seconds=0.01,
    )


def route_once(stack: Stack, recovery: Recovery) -> dg.ExecuteInProcessResult:
    from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job

    (request,) = recovery.tick("new_feedback")
    return route_feedback_job.execute_in_process(
        run_config=request.run_config,
        instance=stack.run_instance,
        resources=stack.resources(),
        raise_on_error=False,
    )


def retries_of(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")


# ---------------------------------------------------------------------------- Slack


def test_slack_faults_are_retried_and_a_gone_user_waits_for_a_fix(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = copy_world(templates.routed_queued, tmp_path)
    with open_stack(url, tmp_path / "home", monkeypatch) as stack:
        fast_slack(stack)
        slack = stack.slack
        post = "/api/chat.postMessage"
        # The first deliveries meet, in order: 429s beyond the client's own two retries (the
        # message backs off for Retry-After), 500s within them, 503s beyond them, and one call
        # that outlives the client's timeout (answered by Slack later: see below).
        slack.fail_next(
            429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"}, path=post, times=3
        )
        slack.fail_next(500, "upstream error", content_type="text/html", path=post, times=2)
        slack.fail_next(503, {"ok": False, "error": "service_unavailable"}, path=post, times=3)
        slack.fail_next(delay=2.5, path=post)
        # Permanent: one person left the workspace (users.lookupByEmail: users_not_found).
        with session_scope(url) as session:
            gone = session.scalars(
                select(User)
                .join(OutboxMessage, OutboxMessage.user_id == User.id)
                .where(User.slack_user_id.is_(None))
                .order_by(User.id)
            ).first()
            assert gone is not None
            gone_id = gone.id
        profile = slack.users.pop(slack_id_for(gone_id))

        recovery = Recovery(stack)
        recovery.prime()
        advance_clock(url, timedelta(minutes=3))
        left = recovery.drain()
        assert not any(left.values()) or left["outbox_undelivered"] == 0, left

        with session_scope(url) as session:
            failed = session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == FAILED)
            ).all()
            assert failed and {m.user_id for m in failed} == {gone_id}
            assert all("users_not_found" in (m.last_error or "") for m in failed)
        slack.wait_idle()  # the slow call is answered (and accepted) after the client gave up
        statuses = Counter(r.status for r in slack.requests_to(post))
        assert statuses[429] == 3 and statuses[500] == 2 and statuses[503] == 3, statuses
        first = compare(slack, url)
        assert first.missing == Counter()
        # The call that timed out was still processed by Slack: the retry sent it a second
        # time. That is the same window as a crash after Slack's answer, opened by a timeout.
        assert sum(first.duplicates.values()) == 1, first.duplicates

        # What an operator sees, and the fix: the person is back, the messages are retried.
        listing = cli_run("outbox", "--status", "failed", "--json")
        rows = json.loads(listing.output)
        assert {r["id"] for r in rows} == {m.id for m in failed}
        assert all("users_not_found" in r["error"] for r in rows)
        slack.users[slack_id_for(gone_id)] = profile
        retried = cli_run("outbox", "retry")
        assert f"{len(failed)} message(s) queued again" in retried.output
        left = recovery.drain()
        assert not any(left.values()), left
        assert invariants.outbox_delivered(url) == []
        final = compare(slack, url)
        assert final.missing == Counter()
        assert final.duplicates == first.duplicates  # the retry sent nothing twice
        with session_scope(url) as session:
            again = session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_([m.id for m in failed]))
            ).all()
            assert {m.status for m in again} == {"sent"}
            assert {row_key(m)[1] for m in again} == {"D" + slack_id_for(gone_id)[1:]}
        record(
            "faults",
            dependency="slack",
            injected={"429": 3, "500": 2, "503": 3, "timeout": 1, "users_not_found": len(failed)},
            messages=final.expected,
            failed_then_fixed=len(failed),
            duplicates=sum(final.duplicates.values()),
            missing=0,
            recovery_runs=recovery.runs,
        )


# ---------------------------------------------------------------------------- OpenAI


def test_openai_faults_during_routing(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = copy_world(templates.pending, tmp_path, keep_pending=SMALL_BATCH)
    ids = pending_ids(url)
    with open_stack(url, tmp_path / "home", monkeypatch) as stack:
        fast_slack(stack)
        openai = stack.openai
        path = "/v1/embeddings"
        # Batch embedding: two 503s and a dropped connection, all within the client's retries.
        busy = openai_error("overloaded", 503, "server_error")
        openai.fail_next(503, busy, {"retry-after-ms": "1"}, path=path, times=2)
        openai.fail_next(drop=True, path=path)
        openai.fail_next(delay=0.0, path=path)  # answered normally
        # The batch's new-request drafts in one call: a garbled 200, so each is embedded on its
        # own; the first of those: a garbled 200 again (permanent for that entry only).
        garbled = "<html>proxy error</html>"
        openai.fail_next(200, garbled, content_type="text/html", path=path, times=2)

        recovery = Recovery(stack)
        recovery.prime()
        result = route_once(stack, recovery)
        assert result.success
        with session_scope(url) as session:
            failed = session.scalars(
                select(Feedback).where(Feedback.id.in_(ids), Feedback.status == "failed")
            ).all()
        assert len(failed) == 1 and "malformed response" in (failed[0].error or "")
        assert invariants.routing(url, [i for i in ids if i != failed[0].id]) == []
        assert [r.status for r in openai.requests_to(path)][:4] == [503, 503, None, 200]

        shown = cli_run("entries", "show", str(failed[0].id))
        assert shown.exit_code == 0 and "error" in shown.output
        assert "malformed response" in shown.output
        assert "sk-" not in shown.output
        retried = cli_run("entries", "retry", str(failed[0].id))
        assert retried.exit_code == 0 and "failed -> pending" in retried.output
        left = recovery.drain()
        assert not any(left.values()), left
        assert invariants.routing(url) == []
        final = compare(stack.slack, url)
        assert not final.duplicates and not final.missing
    record(
        "faults",
        dependency="openai",
        injected={"503": 2, "dropped_connection": 1, "malformed_200": 1},
        entries=len(ids),
        failed_then_retried=1,
        op_retries=retries_of(result),
    )


def test_llm_faults_leave_entries_waiting_never_decided_another_way(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unavailable judge (5xx past the client's retries, garbled JSON) decides nothing: the
    entries stay pending, the run says so in its event log, and a later run with the judge back
    routes every one of them by the judge."""
    url = copy_world(templates.pending, tmp_path, keep_pending=8)
    ids = pending_ids(url)
    with open_stack(url, tmp_path / "home", monkeypatch) as stack:
        fast_slack(stack)
        stack.set_env(monkeypatch, GTM_FEEDBACK_LLM_MODEL="gpt-4o-mini")
        openai = stack.openai
        chat = "/v1/chat/completions"
        openai.fail_next(500, openai_error("boom", 500, "server_error"), path=chat, times=3)
        openai.fail_next(200, "{not json", content_type="application/json", path=chat, times=3)
        openai.chat_handler = lambda body: {"request_id": None, "confidence": 0.1, "reason": "-"}
        recovery = Recovery(stack)
        recovery.prime()
        result = route_once(stack, recovery)
        assert result.success
        output = result.output_for_node("route_feedback_batch")
        assert output["counts"]["waiting"] >= 1 and output["llm"], output
        with session_scope(url) as session:
            waiting = session.scalars(
                select(Feedback.id).where(Feedback.id.in_(ids), Feedback.status == "pending")
            ).all()
            decided_without_judge = [
                f.id
                for f in session.scalars(select(Feedback).where(Feedback.id.in_(ids)))
                if f.status != "pending"
                and (f.meta or {}).get("routing", {}).get("method") != "llm"
            ]
        assert waiting, "the judge was down, yet every entry was decided"
        assert decided_without_judge == []

        left = recovery.drain()  # the judge answers again
        assert not any(left.values()), left
        assert invariants.routing(url) == []
        with session_scope(url) as session:
            methods = Counter(
                (f.meta or {}).get("routing", {}).get("method")
                for f in session.scalars(select(Feedback).where(Feedback.id.in_(ids)))
            )
        assert methods == Counter({"llm": len(ids)}), methods
    record(
        "faults",
        dependency="llm",
        injected={"500": 3, "malformed": 3},
        waited=len(waiting),
        methods=dict(methods),
    )


# ---------------------------------------------------------------------------- Upstash


def test_upstash_faults_during_routing(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch search meets a gateway error (transient: the op retries the batch); the run's
    one upsert of its new requests meets a dropped connection (the client retries) and then a
    used-up daily quota (permanent: the run fails). Every entry is already applied and its new
    request's vector is in the table, so nothing is lost: the next routing run refills the index
    from the table before it decides."""
    from tests.reliability.test_crashes import _fill_upstash

    url = copy_world(templates.pending, tmp_path, keep_pending=SMALL_BATCH + 1)
    ids = pending_ids(url)
    later = ids.pop()  # arrives after the quota resets
    with session_scope(url) as session:
        session.execute(update(Feedback).where(Feedback.id == later).values(status="held"))
    with open_stack(url, tmp_path / "home", monkeypatch, upstash=True) as stack:
        fast_slack(stack)
        _fill_upstash(stack)
        upstash = stack.upstash
        assert upstash is not None
        indexed_before = {int(k) for k in upstash.stored()}
        upstash.fail_next(502, "<html>Bad gateway</html>", content_type="text/html", path="/query")
        upstash.fail_next(drop=True, path="/upsert")
        upstash.fail_next(200, {"error": "ERR max daily request limit exceeded"}, path="/upsert")
        recovery = Recovery(stack)
        recovery.prime()
        result = route_once(stack, recovery)
        assert not result.success and retries_of(result) == 1
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert "max daily request limit" in str(failure.step_failure_data.error)
        assert [r.status for r in upstash.requests_to("/upsert")][-2:] == [None, 200]
        # Every entry was applied in its own transaction before the upsert.
        assert invariants.routing(url, ids) == []
        with session_scope(url) as session:
            created = set(
                session.scalars(
                    select(Feedback.request_id).where(
                        Feedback.id.in_(ids), Feedback.match_type == "new_request"
                    )
                )
            )
        assert created, "the batch created no request; the upsert was never reached"
        assert not created & {int(k) for k in upstash.stored()}  # the index is short

        # The quota resets; the next entry's run repairs the index before deciding.
        with session_scope(url) as session:
            session.execute(update(Feedback).where(Feedback.id == later).values(status="pending"))
        left = recovery.drain()
        assert not any(left.values()), left
        assert invariants.routing(url) == []
        with session_scope(url) as session:
            request_ids = set(session.scalars(select(Request.id)))
        indexed = {int(k) for k in upstash.stored()}
        assert created <= indexed and indexed <= request_ids | indexed_before
    record(
        "faults",
        dependency="upstash",
        injected={"502_html": 1, "dropped_connection": 1, "quota_answer": 1},
        entries=len(ids) + 1,
        op_retries=retries_of(result),
        repaired_next_run=len(created),
    )
