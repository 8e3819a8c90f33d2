"""Concurrency: overlapping routing runs (a sensor re-evaluated while a manual `gtm-feedback
route` runs, say) in two processes on SQLite and PostgreSQL never attach an entry twice; the
same Slack event, API submission or CSV file arriving several times at once is stored once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import httpx
import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.jobs.route_feedback import route_run_config
from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, SlackInbox
from tests.reliability import invariants
from tests.reliability.crash import run_together, spec_for
from tests.reliability.load import ACCOUNT, API_TOKEN, SUBMITTER, seed, serving
from tests.reliability.recovery import Recovery
from tests.reliability.report import record
from tests.reliability.slack_ledger import compare
from tests.reliability.stack import Stack, open_stack
from tests.reliability.world import (
    Templates,
    add_slack_people,
    copy_world,
    pending_ids,
    seed_pending_world,
)
from tests.slack.support import SIGNING_SECRET, json_body, reaction_event, sign

ROOT = Path(__file__).resolve().parents[2]
OVERLAPPING_BATCH = 60
COPIES = 40  # the same request sent this many times at once


def _overlapping_runs(stack: Stack, url: str, label: str) -> dict[str, int]:
    ids = pending_ids(url)[:OVERLAPPING_BATCH]
    half = len(ids) // 2
    batches = [ids[: half + half // 2], ids[half // 2 :]]  # a third of the ids in both
    specs = [
        spec_for(
            "route_feedback_job",
            route_run_config(batch),
            stack.env,
            stack.instance,
            stack.log_path(f"{label}-{i}"),
        )
        for i, batch in enumerate(batches)
    ]
    runs = run_together(specs)
    assert [r.exit_code for r in runs] == [0, 0], [s["log_path"] for s in specs]
    # The two runs really overlapped in time (else this would prove nothing).
    records = stack.instance.get_run_records(
        filters=dg.RunsFilter(job_name="route_feedback_job", tags={"gtm/reliability": "child"})
    )
    assert len(records) == 2
    first, second = sorted(records, key=lambda r: r.start_time or 0)
    assert second.start_time is not None and first.end_time is not None
    assert second.start_time < first.end_time, "the runs did not overlap"
    left = Recovery(stack).drain()
    problems = invariants.routing(url, ids) + invariants.outbox_delivered(url)
    final = compare(stack.slack, url)
    assert problems == [], problems
    assert not final.duplicates and not final.missing, (final.duplicates, final.missing)
    assert not any(left.values()), left
    both = len(set(batches[0]) & set(batches[1]))
    return {"entries": len(ids), "in_both_runs": both, "messages": final.expected}


def test_overlapping_route_runs_on_sqlite(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = copy_world(templates.pending, tmp_path, keep_pending=OVERLAPPING_BATCH)
    with open_stack(url, tmp_path / "home", monkeypatch) as stack:
        figures = _overlapping_runs(stack, url, "sqlite")
    record("concurrency", case="two route runs, overlapping batches", db="sqlite", **figures)


@pytest.mark.postgres
def test_overlapping_route_runs_on_postgres(
    pg_url: str,
    pg_dagster_instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with open_stack(pg_url, tmp_path / "home", monkeypatch, instance=pg_dagster_instance) as stack:
        seed_pending_world(pg_url, OVERLAPPING_BATCH, stack.openai.base_url)
        add_slack_people(stack.slack, pg_url)
        figures = _overlapping_runs(stack, pg_url, "postgres")
    record("concurrency", case="two route runs, overlapping batches", db="postgres", **figures)


# ---------------------------------------------------------------------------- intake


async def _same_request_many_times(base: str) -> tuple[Counter[int], Counter[int]]:
    event = json_body(reaction_event("EvSAMEEVENT1"))
    entry = {
        "customer_pain": "Exports time out on dashboards with more than 50 charts.",
        "severity": "high",
        "account": ACCOUNT,
        "submitter": SUBMITTER,
        "external_id": "crm-case-4711",
    }
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def slack_retry(n: int) -> int:
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Retry-Num": str(n),
                **sign(event, SIGNING_SECRET),
            }
            return (await client.post("/slack/events", content=event, headers=headers)).status_code

        async def api_retry() -> int:
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            return (await client.post("/api/feedback", json=entry, headers=headers)).status_code

        events = await asyncio.gather(*(slack_retry(n) for n in range(COPIES)))
        api = await asyncio.gather(*(api_retry() for _ in range(COPIES)))
    return Counter(events), Counter(api)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_same_event_and_submission_at_once_are_stored_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'intake.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_empty_url")
    )
    seed(url)
    with serving(url, tmp_path) as base:
        events, api = asyncio.run(_same_request_many_times(base))
    assert events == Counter({200: COPIES}), events
    assert api == Counter({201: 1, 200: COPIES - 1}), api
    with session_scope(url) as session:
        inbox = session.scalar(select(func.count()).select_from(SlackInbox))
        entries = session.scalar(
            select(func.count())
            .select_from(Feedback)
            .where(Feedback.external_id == "crm-case-4711")
        )
    assert (inbox, entries) == (1, 1)
    db.engine_for.cache_clear()
    record(
        "concurrency",
        case=f"{COPIES} copies of one event and one API entry at once",
        db=backend,
        stored=1,
    )


def test_the_same_csv_file_imported_twice_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'csv.db'}"
    seed(url)
    rows = ["text,severity,account,submitter"] + [
        f'"Row {i}: reports need a weekly PDF export, case {i}",medium,{ACCOUNT},{SUBMITTER}'
        for i in range(300)
    ]
    csv_path = tmp_path / "feedback.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    env = {
        "PATH": str(Path(sys.executable).parent),
        "GTM_FEEDBACK_HOME": str(tmp_path / "home"),
        "GTM_FEEDBACK_DATABASE_URL": url,
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "gtm_feedback_dagster.cli", "import", str(csv_path)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all("Traceback" not in o for o in outputs), outputs
    with session_scope(url) as session:
        stored = session.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.source == "csv")
        )
    assert stored == 300
    db.engine_for.cache_clear()
    record(
        "concurrency",
        case="one CSV file imported by two processes at once",
        rows=300,
        stored=stored,
    )
