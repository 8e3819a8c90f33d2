"""`firehose_sensor`: posts entries routed by the pipeline (auto, approved, new request) to the
firehose channels of their request's areas.

The sensor queues the posts itself (idempotent: dedupe key `firehose-entry:{entry}:{area}`) and
launches `deliver_outbox_job` for them. Its cursor is the newest `routed_at` seen; a fresh sensor
starts from now, so turning it on never floods channels with history.
"""

from __future__ import annotations

import json
from datetime import datetime

import dagster as dg

from gtm_feedback_dagster.jobs.deliver_outbox import DeliverOutboxConfig, deliver_outbox_job
from gtm_feedback_dagster.messaging.outbox import ids_for_keys
from gtm_feedback_dagster.notifications.firehose import queue_entry_firehose, routed_entries_since
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.runkeys import digest
from gtm_feedback_dagster.store.schema import utcnow

MAX_ENTRIES_PER_TICK = 200


@dg.sensor(
    job=deliver_outbox_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts newly routed feedback entries to their product areas' firehose channels.",
)
def firehose_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    now = utcnow()
    if not context.cursor:
        return dg.SensorResult(
            skip_reason=dg.SkipReason("starting: entries routed from now on are posted"),
            cursor=json.dumps({"since": now.isoformat()}),
        )
    since = datetime.fromisoformat(json.loads(context.cursor)["since"])
    keys: list[str] = []
    with store.session() as session:
        entries = routed_entries_since(session, since, now, limit=MAX_ENTRIES_PER_TICK)
        for entry_id, _ in entries:
            keys.extend(queue_entry_firehose(session, store.settings, entry_id))
    with store.session() as session:
        message_ids = ids_for_keys(session, keys)
    newest = max([since, *(routed_at for _, routed_at in entries)])
    cursor = json.dumps({"since": newest.isoformat()})
    if not message_ids:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"{len(entries)} routed entr(ies), nothing to post"),
            cursor=cursor,
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"firehose:{digest(message_ids)}",
                run_config=dg.RunConfig(
                    ops={
                        "deliver_outbox_op": DeliverOutboxConfig(
                            message_ids=message_ids, limit=len(message_ids)
                        )
                    }
                ),
            )
        ],
        cursor=cursor,
    )
