"""Crashes: SIGKILL at random points of `route_feedback_job`, `resolve_slack_responses_job`,
`notify_shipped_job` and `deliver_outbox_job`, each run in a child process over a realistic
batch; then the sensor ticks and retries a deployment would do (recovery.py); then:

- every entry routed exactly once (no attachment, follower, approval, request or message twice),
- every Slack inbox row processed once, every shipped request announced once,
- nothing left pending, queued or sending,
- Slack (the stand-in's ledger of accepted messages) got every message the outbox says was sent,
  and no message twice — except a message caught in the one window exactly-once cannot close:
  killed after Slack accepted it and before our commit. Such messages are counted at the moment
  of the kill, and the run must show exactly those as duplicates, no more.

Kill delays are spread uniformly over the job's duration, measured first by an unkilled run of
the same world (which is checked too). `test_kill_between_slack_answer_and_commit` kills at the
worst point on purpose: the stand-in SIGKILLs its client right after accepting the Nth message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.intake.app import create_app
from gtm_feedback_dagster.messaging.outbox import SENT
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    OutboxMessage,
    ProductArea,
    Request,
    RequestArea,
)
from gtm_feedback_dagster.store.vectors import load_matrix
from gtm_feedback_dagster.vectors.upstash_index import UpstashIndex
from tests.reliability import invariants
from tests.reliability.crash import ChildRun, run_child, spec_for
from tests.reliability.recovery import Recovery, advance_clock
from tests.reliability.report import record
from tests.reliability.scale import FULL, rng, scaled
from tests.reliability.slack_ledger import Comparison, compare, sent_ids
from tests.reliability.stack import UPSTASH_TOKEN, Stack, open_stack
from tests.reliability.world import (
    SlackInputs,
    Templates,
    add_slack_people,
    copy_sqlite,
    copy_world,
    demo_texts,
    pending_ids,
    post_slack_responses,
    seed_pending_world,
    ship_requests,
)

SLACK_INPUTS_PER_KIND = scaled(2, 6)
SHIPPED_REQUESTS = scaled(5, 12)
LOCAL_MODEL_BATCH = scaled(20, 120)  # each new request is embedded by the model: keep CI short


# ---------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    """One job under test: how to set up its batch, which sensor launches it, what to check."""

    job: str
    template: str  # attribute of Templates
    seed: str  # the batch is the same in every trial of a scenario; only the kill point varies
    shape: dict[str, Any] = field(default_factory=dict)

    def prepare(self, stack: Stack, recovery: Recovery, world_rng: random.Random) -> dg.RunRequest:
        raise NotImplementedError

    def check(self, stack: Stack) -> list[str]:
        return invariants.routing(stack.url)


class RouteScenario(Scenario):
    def prepare(self, stack: Stack, recovery: Recovery, world_rng: random.Random) -> dg.RunRequest:
        self.shape["entries"] = len(pending_ids(stack.url))
        recovery.prime()
        (request,) = recovery.tick("new_feedback")  # the whole batch in one run, as in production
        return request


class SlackResponsesScenario(Scenario):
    inputs: SlackInputs

    def prepare(self, stack: Stack, recovery: Recovery, world_rng: random.Random) -> dg.RunRequest:
        with TestClient(create_app(load_settings())) as client:
            self.inputs = post_slack_responses(
                client, stack.url, stack.slack, world_rng, SLACK_INPUTS_PER_KIND
            )
        self.shape["inbox_rows"] = self.inputs.posted
        recovery.prime()
        (request,) = recovery.tick("slack_responses")
        return request

    def check(self, stack: Stack) -> list[str]:
        problems = invariants.routing(stack.url) + invariants.inbox_processed(stack.url)
        inputs = self.inputs
        with session_scope(stack.url) as session:
            status = dict(session.execute(select(Approval.id, Approval.status)).all())
            problems += [
                f"approval {i} is {status[i]}" for i in inputs.approved if status[i] != "approved"
            ]
            problems += [
                f"approval {i} is {status[i]}" for i in inputs.declined if status[i] != "rejected"
            ]
            for channel, root in inputs.reaction_threads:
                n = invariants.count(
                    stack.url,
                    Feedback,
                    Feedback.source == "reaction",
                    Feedback.external_id == f"{channel}:{root}",
                )
                if n != 1:
                    problems.append(f"reaction thread {root}: {n} entries")
            for view in inputs.views:
                n = invariants.count(
                    stack.url, Feedback, Feedback.source == "slack", Feedback.external_id == view
                )
                if n != 1:
                    problems.append(f"modal {view}: {n} entries")
            shipped = session.execute(
                select(Request.id, Request.status, Request.shipped_notified_at).where(
                    Request.id.in_(inputs.shipped)
                )
            ).all()
            problems += [
                f"request {i} is {s} (notified {n})"
                for i, s, n in shipped
                if s != "shipped" or n is None
            ]
        return problems + _shipped_notices(stack.url, inputs.shipped)


class NotifyShippedScenario(Scenario):
    shipped: list[int]

    def prepare(self, stack: Stack, recovery: Recovery, world_rng: random.Random) -> dg.RunRequest:
        self.shipped = ship_requests(stack.url, SHIPPED_REQUESTS, world_rng)
        self.shape["shipped_requests"] = len(self.shipped)
        recovery.prime()
        (request,) = recovery.tick("shipped")
        return request

    def check(self, stack: Stack) -> list[str]:
        return invariants.routing(stack.url) + _shipped_notices(stack.url, self.shipped)


class OutboxScenario(Scenario):
    def prepare(self, stack: Stack, recovery: Recovery, world_rng: random.Random) -> dg.RunRequest:
        recovery.prime()
        advance_clock(stack.url, timedelta(minutes=3))  # past the sensor's grace for new rows
        requests = recovery.tick("outbox")
        self.shape["messages"] = sum(
            len(r.run_config["ops"]["deliver_outbox_op"]["config"]["message_ids"]) for r in requests
        )
        return requests[0]


def _shipped_notices(url: str, request_ids: list[int]) -> list[str]:
    """One DM per follower and one post per firehose channel, each sent exactly once."""
    problems = []
    with session_scope(url) as session:
        keys = dict(session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status)).all())
        for request_id in request_ids:
            expected = [f"shipped:{request_id}:{u}" for u in repo.follower_ids(session, request_id)]
            expected += [
                f"shipped-firehose:{request_id}:{area_id}"
                for area_id in session.scalars(
                    select(ProductArea.id)
                    .join(RequestArea, RequestArea.area_id == ProductArea.id)
                    .where(
                        RequestArea.request_id == request_id,
                        ProductArea.firehose_channel.is_not(None),
                    )
                )
            ]
            problems += [f"{k}: {keys.get(k, 'missing')}" for k in expected if keys.get(k) != SENT]
    return problems


# ---------------------------------------------------------------------------- trials


@dataclass
class TrialResult:
    child: ChildRun
    kill_after: float | None
    in_window: int  # messages Slack had accepted but the outbox had not recorded, at the kill
    final: Comparison
    recovery_runs: int
    problems: list[str]
    shape: dict[str, Any]
    recovery_seconds: float = 0.0


def fresh_world(tmp_path: Path, templates: Templates, scenario: Scenario, label: str) -> str:
    url = f"sqlite:///{tmp_path / label / 'app.db'}"
    copy_sqlite(getattr(templates, scenario.template), url)
    return url


def run_trial(
    scenario: Scenario,
    stack: Stack,
    label: str,
    kill_after: float | None = None,
    kill_at_message: int | None = None,
    subprocess_mode: bool = False,
) -> TrialResult:
    recovery = Recovery(stack)
    sent_before = sent_ids(stack.url)
    request = scenario.prepare(stack, recovery, random.Random(scenario.seed))
    spec = spec_for(
        scenario.job, request.run_config, stack.env, stack.instance, stack.log_path(label)
    )
    on_start: Callable[[int], None] | None = None
    if kill_at_message is not None:

        def on_start(pid: int) -> None:
            stack.slack.arm(pid, kill_at_message)

    child = run_child(spec, kill_after, subprocess_mode=subprocess_mode, on_start=on_start)
    stack.slack.disarm()
    stack.slack.wait_idle()
    # Messages Slack has that the outbox does not record as sent: caught between Slack's answer
    # and our commit. The recovery may (and will) send each of them once more.
    window = compare(stack.slack, stack.url, sent_before).duplicates
    recovering = time.perf_counter()
    left = recovery.drain()
    recovery_seconds = time.perf_counter() - recovering
    final = compare(stack.slack, stack.url, sent_before)
    problems = scenario.check(stack) + invariants.outbox_delivered(stack.url)
    if any(left.values()):
        problems.append(f"still pending after recovery: {left}")
    if recovery.failed_runs:
        problems.append(f"{len(recovery.failed_runs)} recovery runs failed")
    if final.missing:
        problems.append(f"never reached Slack: {dict(final.missing)}")
    if final.duplicates != window:
        extra = final.duplicates - window
        problems.append(f"sent twice outside the crash window: {dict(extra)}")
    if not child.killed and not child.succeeded:
        problems.append(f"the unkilled run failed (exit {child.exit_code}); see {spec['log_path']}")
    return TrialResult(
        child,
        kill_after,
        sum(window.values()),
        final,
        recovery.runs,
        problems,
        dict(scenario.shape),
        recovery_seconds,
    )


def kill_campaign(
    scenario: Scenario,
    templates: Templates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kills: int,
    *,
    upstash: bool = False,
) -> list[TrialResult]:
    """An unkilled run to measure the job (and check it), then trials killed after a delay
    drawn uniformly over that duration, until `kills` children were actually killed."""
    delays = rng(f"kills:{scenario.job}:{scenario.seed}")
    with open_stack(
        fresh_world(tmp_path, templates, scenario, "baseline"),
        tmp_path / "baseline",
        monkeypatch,
        upstash=upstash,
    ) as stack:
        _fill_upstash(stack)
        baseline = run_trial(scenario, stack, "baseline")
    assert baseline.problems == [], baseline.problems
    duration = baseline.child.ran_for
    results = [baseline]
    trial = 0
    while sum(r.child.killed for r in results) < kills and trial < 3 * kills:
        trial += 1
        label = f"trial{trial}"
        delay = delays.uniform(0.0, 1.0) * duration
        with open_stack(
            fresh_world(tmp_path, templates, scenario, label),
            tmp_path / label,
            monkeypatch,
            upstash=upstash,
        ) as stack:
            _fill_upstash(stack)
            result = run_trial(scenario, stack, label, kill_after=delay)
        assert result.problems == [], (label, f"killed after {delay:.3f}s", result.problems)
        results.append(result)
    assert sum(r.child.killed for r in results) >= kills
    return results


def _fill_upstash(stack: Stack) -> None:
    """The Upstash index as the nightly re-sync leaves it: every stored request vector."""
    if stack.upstash is None:
        return
    with session_scope(stack.url) as session:
        model = "openai:text-embedding-3-small@384"
        ids, matrix, dim = load_matrix(session, model)
    index = UpstashIndex(stack.upstash.url, UPSTASH_TOKEN, dim=dim)
    index.upsert(ids, matrix)


def summarize(job: str, results: list[TrialResult], **extra: Any) -> dict[str, Any]:
    killed = [r for r in results if r.child.killed]
    figures = {
        "job": job,
        "trials": len(results),
        "kills": len(killed),
        "baseline_seconds": round(results[0].child.ran_for, 3),
        "kill_delays_seconds": [round(r.kill_after or 0, 3) for r in killed],
        "batch": results[0].shape,
        "messages_checked": sum(r.final.expected for r in results),
        "slack_calls_checked": sum(r.final.delivered for r in results),
        "crash_window_hits": sum(r.in_window for r in results),
        "duplicates": sum(sum(r.final.duplicates.values()) for r in results),
        "missing": sum(sum(r.final.missing.values()) for r in results),
        "recovery_runs": sum(r.recovery_runs for r in results),
        "recovery_seconds": [round(r.recovery_seconds, 2) for r in results],
        "problems": sum(len(r.problems) for r in results),
        **extra,
    }
    record("crash", **figures)
    return figures


# ---------------------------------------------------------------------------- tests


def test_route_job_survives_random_kills(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = RouteScenario(job="route_feedback_job", template="pending", seed="route")
    results = kill_campaign(scenario, templates, tmp_path, monkeypatch, kills=scaled(2, 20))
    figures = summarize("route_feedback_job", results, app_db="sqlite", index="local")
    # Duplicates are only the messages caught in the crash window, checked trial by trial.
    assert figures["duplicates"] == figures["crash_window_hits"]


def test_route_job_with_upstash_survives_random_kills(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = RouteScenario(job="route_feedback_job", template="pending", seed="route-upstash")
    results = kill_campaign(
        scenario, templates, tmp_path, monkeypatch, kills=scaled(1, 5), upstash=True
    )
    summarize("route_feedback_job", results, app_db="sqlite", index="upstash")


@pytest.mark.postgres
def test_route_job_on_postgres_survives_random_kills(
    pg_url: str,
    pg_dagster_instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """App database and Dagster storage on PostgreSQL. One world: an unkilled batch first (it
    measures the job), then for each kill a new batch of entries arrives and its run is killed
    after a delay spread over that duration."""
    kills = scaled(1, 5)
    batch = scaled(40, 200)
    delays = rng("kills:postgres")
    with open_stack(pg_url, tmp_path / "pg", monkeypatch, instance=pg_dagster_instance) as stack:
        seed_pending_world(pg_url, batch, stack.openai.base_url)
        add_slack_people(stack.slack, pg_url)
        scenario = RouteScenario(job="route_feedback_job", template="", seed="route-pg")
        baseline = run_trial(scenario, stack, "pg-baseline")
        assert baseline.problems == [], baseline.problems
        results = [baseline]
        trial = 0
        while sum(r.child.killed for r in results) < kills and trial < 3 * kills:
            trial += 1
            _add_entries(pg_url, batch, tag=trial)
            stack.slack.reset_ledger()
            delay = delays.uniform(0.0, 1.0) * baseline.child.ran_for
            result = run_trial(scenario, stack, f"pg{trial}", kill_after=delay)
            assert result.problems == [], (trial, f"killed after {delay:.3f}s", result.problems)
            results.append(result)
    assert sum(r.child.killed for r in results) >= kills
    summarize("route_feedback_job", results, app_db="postgres", dagster_storage="postgres")


def _add_entries(url: str, n: int, tag: int) -> None:
    """More feedback arrives between two crashes (through the same repository as intake)."""
    texts = demo_texts(random.Random(tag), n)
    with session_scope(url) as session:
        submitter_id = session.scalar(
            select(Feedback.submitter_id).where(Feedback.submitter_id.is_not(None))
        )
        account_id = session.scalar(
            select(Feedback.account_id).where(Feedback.account_id.is_not(None))
        )
        for i, text in enumerate(texts):
            repo.add_feedback(
                session,
                {
                    "source": "api",
                    "external_id": f"between-crashes-{tag}-{i}",
                    "customer_pain": text,
                    "severity": "medium",
                    "account_id": account_id,
                    "submitter_id": submitter_id,
                },
            )


def test_slack_response_job_survives_random_kills(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = SlackResponsesScenario(
        job="resolve_slack_responses_job", template="routed_delivered", seed="slack"
    )
    results = kill_campaign(scenario, templates, tmp_path, monkeypatch, kills=scaled(1, 15))
    summarize("resolve_slack_responses_job", results, app_db="sqlite")


def test_notify_shipped_job_survives_random_kills(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = NotifyShippedScenario(
        job="notify_shipped_job", template="routed_delivered", seed="shipped"
    )
    results = kill_campaign(scenario, templates, tmp_path, monkeypatch, kills=scaled(1, 15))
    summarize("notify_shipped_job", results, app_db="sqlite")


def test_outbox_delivery_survives_random_kills(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = OutboxScenario(job="deliver_outbox_job", template="routed_queued", seed="outbox")
    results = kill_campaign(scenario, templates, tmp_path, monkeypatch, kills=scaled(1, 20))
    killed = [r for r in results if r.child.killed]
    per_message = results[0].child.ran_for / max(1, results[0].final.expected)
    summarize(
        "deliver_outbox_job",
        results,
        app_db="sqlite",
        # How often a random kill lands between Slack's answer and our commit.
        window_hit_rate=round(sum(r.in_window for r in killed) / max(1, len(killed)), 3),
        seconds_per_message=round(per_message, 4),
    )


@pytest.mark.parametrize(
    "scenario",
    [
        OutboxScenario(job="deliver_outbox_job", template="routed_queued", seed="outbox"),
        SlackResponsesScenario(
            job="resolve_slack_responses_job", template="routed_delivered", seed="slack"
        ),
        NotifyShippedScenario(
            job="notify_shipped_job", template="routed_delivered", seed="shipped"
        ),
    ],
    ids=lambda s: s.job,
)
def test_kill_between_slack_answer_and_commit(
    scenario: Scenario, templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window exactly-once cannot close: Slack accepted the message, the process dies before
    the outbox row says `sent`. The stand-in kills its client right there (after the Nth
    accepted message). Exactly that one message reaches Slack twice after recovery; nothing
    else is repeated and nothing is lost."""
    points = rng(f"window:{scenario.job}")
    trials = scaled(1, 5)
    hits = duplicates = 0
    for trial in range(trials):
        label = f"window{trial}"
        with open_stack(
            fresh_world(tmp_path, templates, scenario, label), tmp_path / label, monkeypatch
        ) as stack:
            nth = points.randint(1, scaled(4, 12))
            result = run_trial(scenario, stack, label, kill_at_message=nth)
        assert result.child.killed, f"the kill switch never fired (message {nth})"
        assert result.in_window == 1, result.in_window
        assert result.problems == [], result.problems
        hits += result.in_window
        duplicates += sum(result.final.duplicates.values())
    assert duplicates == hits == trials
    record("crash_window", job=scenario.job, named_kills=trials, duplicates=duplicates)


@pytest.mark.model
def test_route_job_killed_while_using_the_local_model(
    templates: Templates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    local_embedder: Any,
) -> None:
    """The embedded default: the killed child loads all-MiniLM itself (a plain subprocess, no
    preloading), embeds the requests and routes; the recovery routes with the same model (the
    session's, already loaded). The full run first measures an unkilled run and spreads its
    kills over it; CI kills once inside the first seconds (model load and the first
    embeddings take about 5 s of them)."""
    scenario = RouteScenario(job="route_feedback_job", template="pending", seed="route-local")
    delays = rng("kills:local-model")

    def trial(label: str, kill_after: float | None) -> TrialResult:
        with open_stack(
            copy_world(templates.pending, tmp_path / label, keep_pending=LOCAL_MODEL_BATCH),
            tmp_path / label,
            monkeypatch,
        ) as stack:
            stack.set_env(monkeypatch, GTM_FEEDBACK_EMBEDDER="local")
            result = run_trial(scenario, stack, label, kill_after=kill_after, subprocess_mode=True)
        assert result.problems == [], (label, result.problems)
        return result

    duration = trial("local-baseline", None).child.ran_for if FULL else 6.0
    results: list[TrialResult] = []
    attempt = 0
    while len(results) < scaled(1, 2) and attempt < 6:
        attempt += 1
        # The full run spreads kills over the measured run; CI kills inside its first seconds.
        delay = delays.uniform(0.0, 0.95) * duration if FULL else delays.uniform(1.0, duration)
        result = trial(f"local{attempt}", delay)
        if result.child.killed:
            results.append(result)
    assert len(results) == scaled(1, 2), "the runs finished before their kills"
    record(
        "crash",
        job="route_feedback_job",
        embedder="local all-MiniLM-L6-v2 (subprocess child)",
        batch={"entries": LOCAL_MODEL_BATCH},
        kills=len(results),
        baseline_seconds=round(duration, 2) if FULL else None,
        kill_delays_seconds=[round(r.kill_after or 0, 2) for r in results],
        messages_checked=sum(r.final.expected for r in results),
        duplicates=sum(sum(r.final.duplicates.values()) for r in results),
        missing=0,
    )
