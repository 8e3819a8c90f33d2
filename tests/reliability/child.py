"""The process the reliability tests kill: it runs one Dagster job with `execute_in_process`.

Two ways in, same code:
- forked from a multiprocessing *forkserver* that preloaded this module (Dagster and the app
  imported once), so a child starts in ~0.1 s instead of ~5 s — what keeps the CI run short;
- as a plain subprocess, `python -m tests.reliability.child SPEC.json` (used for the kills with
  the real local embedding model, which must load in the killed process itself). It prints
  `STARTED` when the job begins.

The child reads everything from its spec: the job, its run config, the environment (database
URL, stand-in URLs, test secrets) and the Dagster instance to record the run in (shared with
the parent, so a killed run stays visible as STARTED, as it would in a real deployment).
Resources are bound exactly as the code location binds them, from the environment.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import deserialize_value

from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.jobs.deliver_outbox import deliver_outbox_job
from gtm_feedback_dagster.jobs.notify_shipped import notify_shipped_job
from gtm_feedback_dagster.jobs.resolve_slack_responses import resolve_slack_responses_job
from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job
from gtm_feedback_dagster.resources.ai import resources_for
from gtm_feedback_dagster.resources.slack import slack_resource
from gtm_feedback_dagster.resources.store import StoreResource

JOBS: dict[str, dg.JobDefinition] = {
    job.name: job
    for job in (
        route_feedback_job,
        resolve_slack_responses_job,
        notify_shipped_job,
        deliver_outbox_job,
    )
}
STARTED_LINE = "STARTED"


def resources_from_env() -> dict[str, Any]:
    """The resources the code location binds (`resources.build_resources`), evaluated against
    the environment of *now* — the module-level bindings were made when the module was imported,
    before the test set the stand-ins' URLs."""
    settings = load_settings()
    return {"store": StoreResource(), **resources_for(settings), "slack": slack_resource(settings)}


def execute(spec: dict[str, Any], started: Callable[[], None]) -> bool:
    os.environ.update(spec["env"])
    instance = dg.DagsterInstance.from_ref(deserialize_value(spec["instance_ref"], InstanceRef))
    job = JOBS[spec["job"]]
    resources = resources_from_env()
    started()
    result = job.execute_in_process(
        run_config=spec["run_config"],
        instance=instance,
        resources=resources,
        tags={"gtm/reliability": "child"},
        raise_on_error=False,
    )
    return result.success


def _redirect_output(log_path: str) -> None:
    """Dagster logs every event to stderr; keep it out of the test output, in the trial's log."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def forkserver_main(spec_json: str, started_event: Any) -> None:
    spec = json.loads(spec_json)
    _redirect_output(spec["log_path"])
    ok = execute(spec, started_event.set)
    sys.exit(0 if ok else 1)


def _print_started() -> None:
    print(STARTED_LINE, flush=True)


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    # Only the STARTED line goes to stdout (the parent reads it); logs go to the trial's log.
    stdout = os.dup(1)
    _redirect_output(spec["log_path"])
    sys.stdout = os.fdopen(stdout, "w")
    sys.exit(0 if execute(spec, _print_started) else 1)
