"""`source_observation_sensor`: records when data arrives in the source tables.

Every minute it reads the figures of `feedback_entries`, `feature_requests` and `crm_accounts`
(row counts, rows per status, the newest and last-changed times; one aggregate query per table)
and reports an `AssetObservation` for each table whose data version changed since the asset's
latest observation; an unchanged table is not reported again. No run is launched: the daemon
records the events of the tick (`SensorResult(asset_events=...)`). Why observations reported by
a sensor rather than an observable source asset is in `assets/sources.py`.
"""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.assets.sources import changed_observations, observe_sources
from gtm_feedback_dagster.resources.store import StoreResource


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Observes the source tables (feedback_entries, feature_requests, crm_accounts): row "
        "counts, pending entries and the newest row's time, recorded when a table changed."
    ),
)
def source_observation_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    with store.session() as session:
        observations = observe_sources(session)
    changed = changed_observations(context.instance, observations)
    if not changed:
        return dg.SkipReason("no source table changed since its last observation")
    return dg.SensorResult(asset_events=changed)
