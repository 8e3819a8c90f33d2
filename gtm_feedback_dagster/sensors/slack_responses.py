"""`slack_response_sensor`: launches `resolve_slack_responses_job` for new Slack inbox rows (in
batches, run key from the ids), for rows waiting on a retry, and for approvals past their
expiry."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from gtm_feedback_dagster.jobs.resolve_slack_responses import (
    ResolveSlackResponsesConfig,
    resolve_slack_responses_job,
)
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.routing.approvals import due_expired_approvals
from gtm_feedback_dagster.sensors.runkeys import chunks, run_key
from gtm_feedback_dagster.slack import inbox
from gtm_feedback_dagster.store.schema import utcnow

ROWS_PER_RUN = 100
MAX_ROWS_PER_TICK = 500


def _request(inbox_ids: list[int], expire_ids: list[int], key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=key,
        run_config=dg.RunConfig(
            ops={
                "resolve_slack_responses_op": ResolveSlackResponsesConfig(
                    inbox_ids=inbox_ids, expire_approval_ids=expire_ids
                )
            }
        ),
        tags={"gtm_feedback/inbox_rows": str(len(inbox_ids))},
    )


def plan_runs(
    rows: list[tuple[int, int, datetime]],
    expired: list[int],
    cursor: int,
    now: datetime,
) -> tuple[list[dg.RunRequest], int]:
    """New rows (id above the cursor) in id batches; rows back from a failed attempt or a run
    that never started (attempts 0, older than the claim lease) as retries; expiries."""
    fresh = [row_id for row_id, _, _ in rows if row_id > cursor]
    retry = [
        (row_id, attempts)
        for row_id, attempts, received in rows
        if row_id <= cursor and (attempts > 0 or received <= now - inbox.CLAIM_LEASE)
    ]
    requests = [
        _request(batch, [], f"slack-inbox:{batch[0]}-{batch[-1]}")
        for batch in chunks(fresh, ROWS_PER_RUN)
    ]
    for batch in chunks(retry, ROWS_PER_RUN):
        requests.append(
            _request([i for i, _ in batch], [], run_key("slack-inbox-retry", batch, now))
        )
    if expired:
        requests.append(_request([], expired, run_key("approval-expiry", expired, now, 60)))
    return requests, max([cursor, *fresh])


@dg.sensor(
    job=resolve_slack_responses_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Launches resolve_slack_responses_job for Slack inbox rows (approval clicks, reactions, "
        "modal submissions, /shipped, CLI decisions) and for approvals past their expiry."
    ),
)
def slack_response_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    now = utcnow()
    cursor = int(context.cursor or 0)
    with store.session() as session:
        rows = inbox.due_rows(session, now, MAX_ROWS_PER_TICK)
        expired = due_expired_approvals(session, store.settings, now, limit=ROWS_PER_RUN)
    requests, new_cursor = plan_runs(rows, expired, cursor, now)
    if not requests:
        return dg.SkipReason("no Slack inbox rows or expired approvals waiting")
    return dg.SensorResult(run_requests=requests, cursor=str(new_cursor))
