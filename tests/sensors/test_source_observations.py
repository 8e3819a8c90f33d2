"""Observations of the source tables: `source_observation_sensor` reports row counts and the
newest times of `feedback_entries`, `feature_requests` and `crm_accounts`, and reports a table
again only when its data version changed — on SQLite and PostgreSQL (app database and
instance)."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from gtm_feedback_dagster.assets.sources import crm_accounts, feature_requests, feedback_entries
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.sensors.source_observations import source_observation_sensor
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account
from tests.routing.handmade import add_entry, seed_requests


def _tick(instance: dg.DagsterInstance, url: str) -> list[dg.AssetObservation]:
    """One sensor tick, its events recorded as the daemon records them."""
    context = dg.build_sensor_context(
        instance=instance, resources={"store": StoreResource(database_url=url)}
    )
    data = source_observation_sensor.evaluate_tick(context)
    events = [e for e in data.asset_events if isinstance(e, dg.AssetObservation)]
    assert len(events) == len(data.asset_events)
    for event in events:
        instance.report_runless_asset_event(event)
    return events


def _values(observation: dg.AssetObservation) -> dict[str, object]:
    return {k: v.value for k, v in observation.metadata.items()}


def _recorded(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    return len(instance.fetch_observations(key, limit=100).records)


def test_observations_report_arrivals_and_skip_unchanged_tables(dagster_env) -> None:  # type: ignore[no-untyped-def]
    instance, url = dagster_env
    seeded = seed_requests(url)
    add_entry(url, "They need dashboards exported to PDF.", seeded.alice)

    first = {o.asset_key: o for o in _tick(instance, url)}
    assert set(first) == {feedback_entries.key, feature_requests.key, crm_accounts.key}
    entries = _values(first[feedback_entries.key])
    assert entries["dagster/row_count"] == 1 and entries["pending"] == 1
    assert entries["routed"] == 0
    # A timestamp metadata value (seconds since the epoch), shown as a date in the UI.
    assert isinstance(
        first[feedback_entries.key].metadata["newest_entry_at"], dg.TimestampMetadataValue
    )
    newest = entries["newest_entry_at"]
    assert isinstance(newest, float) and abs(newest - datetime.now().timestamp()) < 600
    requests = _values(first[feature_requests.key])
    assert requests["dagster/row_count"] == 5 and requests["open"] == 5
    assert _values(first[crm_accounts.key])["dagster/row_count"] == 0
    assert "newest_account_at" not in first[crm_accounts.key].metadata  # no account yet
    # The recorded event carries the data version.
    (record,) = instance.fetch_observations(feedback_entries.key, limit=10).records
    assert record.asset_observation is not None
    assert (
        record.asset_observation.data_version
        == first[feedback_entries.key].tags["dagster/data_version"]
    )

    # Nothing changed: nothing is reported again.
    context = dg.build_sensor_context(
        instance=instance, resources={"store": StoreResource(database_url=url)}
    )
    assert isinstance(source_observation_sensor(context), dg.SkipReason)
    assert _tick(instance, url) == []

    # A new entry: only feedback_entries is observed again, with the new count.
    add_entry(url, "Sales reps want an offline mobile app.", seeded.bob)
    (again,) = _tick(instance, url)
    assert again.asset_key == feedback_entries.key
    assert _values(again)["dagster/row_count"] == 2 and _values(again)["pending"] == 2
    assert (
        again.tags["dagster/data_version"]
        != first[feedback_entries.key].tags["dagster/data_version"]
    )

    # A CRM import: crm_accounts is observed with its figures.
    with session_scope(url) as session:
        session.add(Account(name="Acme", arr=120000.0, is_enterprise=True))
    (accounts,) = _tick(instance, url)
    assert accounts.asset_key == crm_accounts.key
    figures = _values(accounts)
    assert figures["dagster/row_count"] == 1 and figures["enterprise_accounts"] == 1
    assert figures["total_arr_usd"] == 120000.0 and "newest_account_at" in figures

    assert _recorded(instance, feedback_entries.key) == 2
    assert _recorded(instance, feature_requests.key) == 1
    assert _recorded(instance, crm_accounts.key) == 2
