"""`new_feedback_sensor`: launches `route_feedback_job` for pending feedback entries.

Two passes per tick, both bounded:

1. **New entries** — pending ids after the cursor (a high-water mark on `feedback.id`, read with
   the `(status, id)` index), cut into batches of `route_batch_size`, at most
   `MAX_RUNS_PER_TICK` runs. The run key is derived from the batch (`route:{first}-{last}:{n}`),
   so a tick evaluated twice never launches a batch twice.
2. **Sweep** (at most every `SWEEP_INTERVAL_SECONDS`) — pending entries *behind* the cursor that
   no queued or running route run holds: entries of a run that crashed or failed, and entries
   whose id was assigned before the cursor moved but committed after (concurrent intake on
   PostgreSQL can commit ids out of order). One batch per sweep, run key
   `sweep:{first}-{last}:{n}:{window}` — one launch per sweep window. Every run counts an attempt
   on its entries, and after `MAX_ROUTE_ATTEMPTS` the job marks them failed, so nothing stays
   pending forever. A run that died or hangs is failed by Dagster's run monitoring (the job's
   `dagster/max_runtime` tag), which frees its entries for the sweep.
"""

import json
import time
from dataclasses import dataclass

import dagster as dg

from gtm_feedback_dagster.feedback.queries import pending_ids_after, pending_ids_up_to
from gtm_feedback_dagster.jobs.route_feedback import (
    feedback_ids_of_run_config,
    route_feedback_job,
    route_run_config,
)
from gtm_feedback_dagster.resources.store import StoreResource

MAX_RUNTIME_TAG = "dagster/max_runtime"
MAX_RUNS_PER_TICK = 3
SWEEP_INTERVAL_SECONDS = 600
_ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class FeedbackCursor:
    after_id: int = 0
    swept_at: float = 0.0  # unix time of the last sweep

    @classmethod
    def parse(cls, raw: str | None) -> "FeedbackCursor":
        if not raw:
            return cls()
        if raw.strip().isdigit():  # a bare high-water mark, e.g. set by hand in the UI
            return cls(after_id=int(raw))
        data = json.loads(raw)
        return cls(int(data.get("after_id", 0)), float(data.get("swept_at", 0.0)))

    def serialize(self) -> str:
        return json.dumps({"after_id": self.after_id, "swept_at": self.swept_at})


def _batches(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def route_max_runtime() -> float:
    """The job's own `dagster/max_runtime` (seconds): the limit run monitoring enforces."""
    return float(route_feedback_job.tags.get(MAX_RUNTIME_TAG, 0) or 0)


def ids_in_active_runs(instance: dg.DagsterInstance, now: float) -> set[int]:
    """Entry ids held by queued or running route runs.

    A run's status is trusted: Dagster's run monitoring (on in every deploy/ instance and in
    `instance.py`) fails a dead run worker and any run past the job's `dagster/max_runtime`, and
    a failed run holds nothing. Only on an instance without run monitoring (an old local
    dagster.yaml) is a STARTED run past that same limit treated as what monitoring would have
    failed."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=route_feedback_job.name, statuses=_ACTIVE_STATUSES),
        limit=500,
    )
    limit = 0.0 if instance.run_monitoring_enabled else route_max_runtime()
    held: set[int] = set()
    for record in records:
        started = record.start_time or record.create_timestamp.timestamp()
        if (
            limit
            and record.dagster_run.status == dg.DagsterRunStatus.STARTED
            and now - started > limit
        ):
            continue
        held.update(feedback_ids_of_run_config(record.dagster_run.run_config))
    return held


def _run_request(kind: str, batch: list[int], suffix: str = "") -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{kind}:{batch[0]}-{batch[-1]}:{len(batch)}{suffix}",
        run_config=route_run_config(batch),
        tags={
            "gtm/route_pass": kind,
            "gtm/first_feedback_id": str(batch[0]),
            "gtm/last_feedback_id": str(batch[-1]),
            "gtm/batch_size": str(len(batch)),
        },
    )


@dg.sensor(
    job=route_feedback_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Launches route_feedback_job for pending feedback: new entries after the cursor in "
        "bounded batches, plus a periodic sweep of pending entries left behind by failed runs."
    ),
)
def new_feedback_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    cursor = FeedbackCursor.parse(context.cursor)
    batch_size = max(1, store.settings.route_batch_size)
    now = time.time()
    with store.session() as session:
        new_ids = pending_ids_after(session, cursor.after_id, batch_size * MAX_RUNS_PER_TICK)
    run_requests = [_run_request("route", b) for b in _batches(new_ids, batch_size)]
    after_id = new_ids[-1] if new_ids else cursor.after_id

    swept_at = cursor.swept_at
    if len(run_requests) < MAX_RUNS_PER_TICK and now - cursor.swept_at >= SWEEP_INTERVAL_SECONDS:
        swept_at = now
        with store.session() as session:
            behind = pending_ids_up_to(session, cursor.after_id, batch_size * 5)
        if behind:
            held = ids_in_active_runs(context.instance, now)
            orphans = [i for i in behind if i not in held][:batch_size]
            if orphans:
                window = int(now // SWEEP_INTERVAL_SECONDS)
                run_requests.append(_run_request("sweep", orphans, suffix=f":{window}"))
                context.log.info(
                    f"sweeping {len(orphans)} pending entries behind the cursor "
                    f"({orphans[0]}..{orphans[-1]})"
                )

    new_cursor = FeedbackCursor(after_id, swept_at).serialize()
    if not run_requests:
        context.update_cursor(new_cursor)
        return dg.SkipReason(f"no pending feedback after id {after_id}")
    return dg.SensorResult(run_requests=run_requests, cursor=new_cursor)
