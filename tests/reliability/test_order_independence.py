"""A crash must not change what routing decides (issue 15, defect 12).

The same world is routed twice: once by an unkilled `route_feedback_job`, once by a run SIGKILLed
mid-batch — the parent watches the database and kills the child as soon as it has applied a
number of entries drawn from the seeded RNG, so some entries are applied and the rest pending — followed by the recovery a
deployment does (sensor sweep, reruns; `recovery.py`). Both must end with the same outcome for
every entry: the same tier, and the same request — an existing request by id, a request created
by routing by the entry it was created for (ids of new requests differ between the two worlds,
the grouping must not).

On SQLite (a copy of the pending template per run) and on PostgreSQL (two fresh databases seeded
identically). CI: one mid-batch kill per database; the full run: five.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, Request
from tests.db_fixtures import create_pg_database, drop_pg_database
from tests.reliability import invariants
from tests.reliability.crash import ChildRun, run_child, spec_for
from tests.reliability.recovery import Recovery
from tests.reliability.report import record
from tests.reliability.scale import rng, scaled
from tests.reliability.stack import Stack, open_stack
from tests.reliability.test_crashes import RouteScenario
from tests.reliability.world import Templates, copy_sqlite, seed_pending_world
from tests.standins.openai_standin import OpenAIStandin

KILLS = scaled(1, 5)
PG_BATCH = scaled(60, 200)

Outcome = tuple[str, str]  # (tier, target)


def outcomes(url: str) -> dict[int, Outcome]:
    """Every entry's outcome, with requests named so that two worlds compare: an existing
    request by its id, a request created by routing by the entry it was created for."""
    with session_scope(url) as session:
        created_for = {
            rid: (meta or {}).get("from_feedback_id")
            for rid, meta in session.execute(
                select(Request.id, Request.meta).where(Request.created_by_routing.is_(True))
            )
        }
        asked = dict(
            session.execute(
                select(Approval.feedback_id, Approval.request_id).where(
                    Approval.status == "pending"
                )
            ).all()
        )
        rows = session.execute(
            select(Feedback.id, Feedback.status, Feedback.match_type, Feedback.request_id)
        ).all()

    def name(request_id: int | None) -> str:
        if request_id is None:
            return "-"
        if request_id in created_for:
            return f"new-for-entry-{created_for[request_id]}"
        return f"request-{request_id}"

    result: dict[int, Outcome] = {}
    for entry_id, status, match_type, request_id in rows:
        if status == "awaiting_approval":
            result[entry_id] = ("ask", name(asked.get(entry_id)))
        else:
            result[entry_id] = (f"{status}/{match_type}", name(request_id))
    return result


def routed_count(url: str) -> int:
    with session_scope(url) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Feedback).where(Feedback.status != "pending")
            )
            or 0
        )


def route_world(stack: Stack, label: str, kill_at: int | None) -> tuple[ChildRun, int]:
    """One route run of the whole batch in a child, SIGKILLed as soon as it has applied
    `kill_at` entries (None: not killed), then recovery until nothing is pending; returns the
    child and how many entries it had applied when it stopped."""
    recovery = Recovery(stack)
    request = RouteScenario(job="route_feedback_job", template="", seed=label).prepare(
        stack, recovery, random.Random(label)
    )
    spec = spec_for(
        "route_feedback_job", request.run_config, stack.env, stack.instance, stack.log_path(label)
    )
    pids: list[int] = []

    def kill_when_applied() -> None:
        if kill_at is None:
            return
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and routed_count(stack.url) < kill_at:
            time.sleep(0.002)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids[0], signal.SIGKILL)

    child = run_child(spec, None, on_start=pids.append, while_running=kill_when_applied)
    applied = routed_count(stack.url)
    left = recovery.drain()
    problems = invariants.routing(stack.url)
    assert not any(left.values()), (label, left)
    assert recovery.failed_runs == [], (label, recovery.failed_runs)
    assert problems == [], (label, problems)
    return child, applied


def differences(expected: dict[int, Outcome], got: dict[int, Outcome]) -> list[str]:
    return [
        f"entry {i}: uncrashed {expected.get(i)}, crashed {got.get(i)}"
        for i in sorted(set(expected) | set(got))
        if expected.get(i) != got.get(i)
    ]


def campaign(fresh: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str) -> None:
    """`fresh(label)` gives the URL of a new copy of the same pending world."""
    points = rng(f"order:{db}")
    url = fresh("uncrashed")
    with open_stack(url, tmp_path / "uncrashed", monkeypatch) as stack:
        baseline, _ = route_world(stack, "uncrashed", None)
    assert baseline.succeeded
    expected = outcomes(url)
    total = len(expected)
    kills: list[dict[str, Any]] = []
    found: list[str] = []
    controls = trial = 0
    while len(kills) < KILLS and trial < 4 * KILLS:
        trial += 1
        label = f"crash{trial}"
        kill_at = points.randint(1, total - 1)
        url = fresh(label)
        with open_stack(url, tmp_path / label, monkeypatch) as stack:
            child, applied = route_world(stack, label, kill_at)
        diff = differences(expected, outcomes(url))
        if not child.killed or not 0 < applied < total:
            # Not mid-batch (finished first, or killed before the first entry): still a control
            # of determinism, but not counted as a kill; draw another delay.
            controls += 1
            found += [f"{label} (not killed mid-batch): {d}" for d in diff]
            continue
        kills.append({"kill_at": kill_at, "applied_before_kill": applied})
        found += [f"{label} (killed with {applied} applied): {d}" for d in diff]
    record(
        "order_independence",
        app_db=db,
        entries=total,
        kills=len(kills),
        trials=trial,
        controls=controls,
        kill_points=kills,
        baseline_seconds=round(baseline.ran_for, 3),
        differing_outcomes=len(found),
    )
    assert len(kills) == KILLS, f"only {len(kills)} kills landed mid-batch in {trial} trials"
    assert found == [], "\n".join(found[:40])


def test_crash_and_rerun_route_like_an_uncrashed_run_sqlite(
    templates: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fresh(label: str) -> str:
        url = f"sqlite:///{tmp_path / label / 'app.db'}"
        copy_sqlite(templates.pending, url)
        return url

    campaign(fresh, tmp_path, monkeypatch, "sqlite")


@pytest.mark.postgres
def test_crash_and_rerun_route_like_an_uncrashed_run_postgres(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    def fresh(label: str) -> str:
        url = create_pg_database(pg_server_url)
        made.append(url)
        with OpenAIStandin() as openai:
            seed_pending_world(url, PG_BATCH, openai.base_url)
        return url

    try:
        campaign(fresh, tmp_path, monkeypatch, "postgres")
    finally:
        for url in made:
            drop_pg_database(pg_server_url, url)
