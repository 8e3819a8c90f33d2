"""`gtm-feedback route` stops on SIGTERM/SIGINT even when its parent ignores them, says what it
did and what is left, and exits 143/130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback
from tests.routing.handmade import add_entry, seed_requests

ENTRIES = 40


def _pending(url: str) -> int:
    with session_scope(url) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Feedback).where(Feedback.status == "pending")
            )
            or 0
        )


def _ignore_both() -> None:  # what some supervisors do to their children
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_route_stops_on_a_signal_its_parent_ignored(
    app_env: str, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    seeded = seed_requests(app_env)
    for i in range(ENTRIES):
        add_entry(app_env, f"They need to export dashboards to PDF, team {i}.", seeded.alice)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gtm_feedback_dagster.cli", "route", "--batch-size", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        preexec_fn=_ignore_both,
    )
    deadline = time.monotonic() + 180
    while _pending(app_env) == ENTRIES:  # wait until the first entry is routed
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "route made no progress"
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (out, err)
    left = _pending(app_env)
    assert 0 < left < ENTRIES, "stopped neither at once nor at the end"
    assert f"stopped by {sig.name}" in out and f"{left} entries left pending" in out
