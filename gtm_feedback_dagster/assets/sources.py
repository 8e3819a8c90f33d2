"""The app database's tables as external assets, so the asset graph shows lineage from what
users submit to the derived embeddings, graph and reports. Intake (CLI, HTTP, Slack) and the
routing job write them; Dagster does not materialize them, it observes them (below): row counts,
rows per status and the newest and last-changed times, recorded when they change."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import dagster as dg
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.table_stats import (
    TableStats,
    account_stats,
    feedback_stats,
    request_stats,
)

SOURCE_GROUP = "sources"

feedback_entries = dg.AssetSpec(
    key="feedback_entries",
    group_name=SOURCE_GROUP,
    description=(
        "Customer feedback entries (table `feedback`): pain text, severity, account, submitter, "
        "routing status and the request each entry is attached to. Written by intake and "
        "`route_feedback_job`."
    ),
    kinds={"sql"},
    owners=["team:gtm-feedback"],
)

feature_requests = dg.AssetSpec(
    key="feature_requests",
    group_name=SOURCE_GROUP,
    description=(
        "Feature requests (table `requests`) with their product areas, status and followers. "
        "Created by users, imports and routing (new-request tier)."
    ),
    kinds={"sql"},
    owners=["team:gtm-feedback"],
)

crm_accounts = dg.AssetSpec(
    key="crm_accounts",
    group_name=SOURCE_GROUP,
    description="Accounts and opportunities with ARR, segment and region (tables `accounts`, `opportunities`).",
    kinds={"sql"},
    owners=["team:gtm-feedback"],
)

source_assets = [feedback_entries, feature_requests, crm_accounts]


# --- Observations ------------------------------------------------------------------------------
#
# Why observations, reported by a sensor (sensors/source_observations.py), and not
# `@dg.observable_source_asset`: these tables are written outside Dagster (intake, the web
# pages, Slack) as well as by `route_feedback_job`, so Dagster only ever *looks* at them, which
# is what an `AssetObservation` says (a materialization would claim Dagster wrote them). In
# dagster 1.13 `observable_source_asset` is still beta and each observation is a run of an
# observation job (a run launch per look); an `AssetSpec` external asset with observations
# reported by a sensor through `SensorResult(asset_events=...)` is the documented, run-less way
# ("external assets"). Each observation carries a data version (`dagster/data_version`, a hash
# of the figures) and is recorded only when it differs from the asset's latest one, so an
# unchanged table is not reported again and the asset's event list shows when data arrived.

DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster reads an event's data version from

FEEDBACK_STATUSES = ("pending", "routed", "awaiting_approval", "invalid", "failed")
REQUEST_STATUSES = ("open", "shipped", "deprioritized", "merged")


def _data_version(stats: TableStats) -> str:
    payload = json.dumps(stats.fingerprint(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _times(stats: TableStats, newest_label: str) -> dict[str, dg.MetadataValue]:
    times: dict[str, dg.MetadataValue] = {}
    if stats.newest_created_at is not None:
        times[newest_label] = dg.MetadataValue.timestamp(stats.newest_created_at)
    if stats.last_changed_at is not None:
        times["last_change_at"] = dg.MetadataValue.timestamp(stats.last_changed_at)
    return times


def _observation(
    key: dg.AssetKey, stats: TableStats, metadata: dict[str, Any]
) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=key,
        metadata={"dagster/row_count": stats.rows, **metadata},
        tags={DATA_VERSION_TAG: _data_version(stats)},
    )


def observe_feedback_entries(session: Session) -> dg.AssetObservation:
    stats = feedback_stats(session)
    statuses = {s: stats.by_status.get(s, 0) for s in FEEDBACK_STATUSES}
    others = {s: n for s, n in stats.by_status.items() if s not in FEEDBACK_STATUSES}
    return _observation(
        feedback_entries.key,
        stats,
        {
            **statuses,
            **({"other_statuses": dg.MetadataValue.json(others)} if others else {}),
            **_times(stats, "newest_entry_at"),
            **({"newest_entry_id": stats.newest_id} if stats.newest_id is not None else {}),
        },
    )


def observe_feature_requests(session: Session) -> dg.AssetObservation:
    stats = request_stats(session)
    statuses = {s: stats.by_status.get(s, 0) for s in REQUEST_STATUSES}
    return _observation(
        feature_requests.key,
        stats,
        {**statuses, **stats.extra, **_times(stats, "newest_request_at")},
    )


def observe_crm_accounts(session: Session) -> dg.AssetObservation:
    stats = account_stats(session)
    return _observation(
        crm_accounts.key,
        stats,
        {
            "opportunities": stats.extra["opportunities"],
            "enterprise_accounts": stats.extra["enterprise_accounts"],
            "total_arr_usd": dg.MetadataValue.float(float(stats.extra["total_arr"])),
            **_times(stats, "newest_account_at"),
        },
    )


OBSERVERS: dict[dg.AssetKey, Callable[[Session], dg.AssetObservation]] = {
    feedback_entries.key: observe_feedback_entries,
    feature_requests.key: observe_feature_requests,
    crm_accounts.key: observe_crm_accounts,
}


def observe_sources(
    session: Session, keys: Iterable[dg.AssetKey] | None = None
) -> list[dg.AssetObservation]:
    """Observations of the source tables (all of them unless `keys` names some)."""
    wanted = list(OBSERVERS) if keys is None else list(keys)
    return [OBSERVERS[key](session) for key in wanted]


def latest_data_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    records = instance.fetch_observations(key, limit=1).records
    if not records or records[0].asset_observation is None:
        return None
    return records[0].asset_observation.tags.get(DATA_VERSION_TAG)


def changed_observations(
    instance: dg.DagsterInstance, observations: Iterable[dg.AssetObservation]
) -> list[dg.AssetObservation]:
    """The observations whose data version differs from their asset's latest recorded one."""
    return [
        o
        for o in observations
        if latest_data_version(instance, o.asset_key) != o.tags.get(DATA_VERSION_TAG)
    ]
