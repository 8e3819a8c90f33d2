"""After a crash: what a running deployment does next, done in this process.

- **Run monitoring**: a run whose worker died stays STARTED in the instance; the daemon's run
  monitoring marks it failed. `fail_dead_runs` does that for the runs of killed children.
- **Time passes**: leases and backoffs (outbox `sending` lease 5 min, inbox claim lease 10 min,
  retry backoffs, the outbox sensor's 2-minute grace for fresh messages, the routing sweep's
  10-minute interval) are waited out by moving those timestamps back (`advance_clock`), not by
  sleeping.
- **Sensor ticks**: every sensor that launches work (new feedback incl. its sweep, Slack
  responses, shipped notices, firehose, outbox retries) is ticked with its cursor, and each run
  it requests is executed in process — until a round launches nothing and nothing is pending.

The daemon would also skip run keys it has seen; running every request is stricter (more runs,
so more chances to do something twice), never laxer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg
from sqlalchemy import func, select, update

from gtm_feedback_dagster.jobs.deliver_outbox import deliver_outbox_job
from gtm_feedback_dagster.jobs.notify_shipped import notify_shipped_job
from gtm_feedback_dagster.jobs.resolve_slack_responses import resolve_slack_responses_job
from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job
from gtm_feedback_dagster.messaging.outbox import QUEUED, SENDING
from gtm_feedback_dagster.sensors.firehose import firehose_sensor
from gtm_feedback_dagster.sensors.new_feedback import FeedbackCursor, new_feedback_sensor
from gtm_feedback_dagster.sensors.outbox import outbox_sensor
from gtm_feedback_dagster.sensors.shipped import shipped_sensor
from gtm_feedback_dagster.sensors.slack_responses import slack_response_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, OutboxMessage, Request, SlackInbox
from tests.reliability.stack import Stack

CLOCK_STEP = timedelta(minutes=11)  # longer than every lease, backoff and sweep interval here
ACTIVE = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
SENSORS: list[tuple[str, Any, dg.JobDefinition]] = [
    ("new_feedback", new_feedback_sensor, route_feedback_job),
    ("slack_responses", slack_response_sensor, resolve_slack_responses_job),
    ("shipped", shipped_sensor, notify_shipped_job),
    ("firehose", firehose_sensor, deliver_outbox_job),
    ("outbox", outbox_sensor, deliver_outbox_job),
]


def fail_dead_runs(instance: dg.DagsterInstance) -> int:
    """Run monitoring: runs left active by a killed worker are marked failed."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE))
    for run in runs:
        instance.report_run_failed(run)
    return len(runs)


def advance_clock(url: str, step: timedelta = CLOCK_STEP) -> None:
    """Lets `step` of time pass for every lease and backoff the app waits on."""
    # Row by row in Python: timestamp arithmetic in SQL differs between SQLite and PostgreSQL.
    with session_scope(url) as session:
        for model, columns in (
            (OutboxMessage, ("next_attempt_at", "created_at")),
            (SlackInbox, ("next_attempt_at", "received_at")),
        ):
            rows = session.execute(select(model.id, *(getattr(model, c) for c in columns))).all()
            for row_id, *values in rows:
                moved = {c: v - step for c, v in zip(columns, values, strict=True) if v}
                if moved:
                    session.execute(
                        update(model)
                        .where(model.id == row_id)
                        .values(moved)
                        .execution_options(synchronize_session=False)
                    )


def pending_work(url: str) -> dict[str, int]:
    """Everything still waiting to be done; all zero when the system is at rest."""
    with session_scope(url) as session:

        def count(query: Any) -> int:
            return int(session.scalar(query) or 0)

        return {
            "feedback_pending": count(
                select(func.count()).select_from(Feedback).where(Feedback.status == "pending")
            ),
            "inbox_unprocessed": count(
                select(func.count())
                .select_from(SlackInbox)
                .where(SlackInbox.processed_at.is_(None))
            ),
            "outbox_undelivered": count(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_((QUEUED, SENDING)))
            ),
            "shipped_unannounced": count(
                select(func.count())
                .select_from(Request)
                .where(Request.status == "shipped", Request.shipped_notified_at.is_(None))
            ),
        }


def _requests(result: Any) -> list[dg.RunRequest]:
    if isinstance(result, dg.RunRequest):
        return [result]
    if isinstance(result, dg.SensorResult):
        return list(result.run_requests or [])
    return []


@dataclass
class Recovery:
    """The sensors' cursors and the runs launched, for one trial."""

    stack: Stack
    cursors: dict[str, str | None] = field(default_factory=dict)
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)

    def tick(self, name: str) -> list[dg.RunRequest]:
        """One evaluation of sensor `name`; its cursor is kept for the next."""
        sensor = next(s for n, s, _ in SENSORS if n == name)
        cursor = self.cursors.get(name)
        if name == "new_feedback":
            # The sweep runs at most every 10 minutes; time has passed since the last one.
            parsed = FeedbackCursor.parse(cursor)
            cursor = FeedbackCursor(parsed.after_id, 0.0).serialize()
        context = dg.build_sensor_context(
            instance=self.stack.instance,
            cursor=cursor,
            resources={
                "store": self.stack.resources()["store"],
                "slack": self.stack.resources()["slack"],
            },
        )
        result = sensor(context)
        new_cursor = result.cursor if isinstance(result, dg.SensorResult) else None
        self.cursors[name] = new_cursor if new_cursor is not None else context.cursor
        return _requests(result)

    def execute(self, job: dg.JobDefinition, request: dg.RunRequest) -> bool:
        result = job.execute_in_process(
            run_config=request.run_config,
            instance=self.stack.run_instance,
            resources=self.stack.resources(),
            tags={k: v for k, v in request.tags.items() if not k.startswith("dagster/")},
            raise_on_error=False,
        )
        self.runs += 1
        if not result.success:
            self.failed_runs.append(result.run_id)
        return result.success

    def prime(self) -> None:
        """First tick of the firehose sensor: it starts from *now* (no history)."""
        self.tick("firehose")

    def drain(self, max_rounds: int = 15) -> dict[str, int]:
        """Ticks every sensor and runs what they request until the system is at rest; returns
        what is still pending (all zero on success)."""
        left = pending_work(self.stack.url)
        for _ in range(max_rounds):
            fail_dead_runs(self.stack.instance)
            advance_clock(self.stack.url)
            launched = 0
            for name, _, job in SENSORS:
                for request in self.tick(name):
                    self.execute(job, request)
                    launched += 1
            left = pending_work(self.stack.url)
            if launched == 0 and not any(left.values()):
                break
        return left


def describe(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
