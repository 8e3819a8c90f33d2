"""Telling the operators when a Dagster run fails: one Slack message per failed run, through the
outbox (so it is delivered with the same retries and never twice)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.messaging import outbox
from gtm_feedback_dagster.messaging.mrkdwn import escape_mrkdwn

KIND_RUN_FAILURE = "run_failure"
MAX_ERROR_CHARS = 500


def run_url(settings: Settings, run_id: str) -> str:
    return f"{settings.dagster_url}/runs/{run_id}"


def queue_run_failure(
    session: Session, settings: Settings, run_id: str, job_name: str, error: str | None
) -> int | None:
    """Queues the notice for the ops channel; None when no channel is set or it was queued."""
    if not settings.ops_channel:
        return None
    detail = escape_mrkdwn((error or "no error message").strip().splitlines()[0][:MAX_ERROR_CHARS])
    text = (
        f":rotating_light: Dagster run of `{job_name}` failed: {detail}\n"
        f"<{run_url(settings, run_id)}|Open the run in Dagster>"
    )
    return outbox.enqueue(
        session, KIND_RUN_FAILURE, f"run-failure:{run_id}", text, channel=settings.ops_channel
    )
