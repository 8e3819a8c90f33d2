"""The code location loads, and everything a user reaches by name is there."""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.definitions import defs


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_source_tables_are_external_assets_with_descriptions() -> None:
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for key in ("feedback_entries", "feature_requests", "crm_accounts"):
        assert key in specs
        assert specs[key].description
        assert specs[key].group_name == "sources"


def test_every_asset_describes_itself() -> None:
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, f"{spec.key} has no description"
        assert spec.group_name and spec.group_name != "default", f"{spec.key} has no group"
        assert spec.owners, f"{spec.key} has no owners"
        assert spec.kinds, f"{spec.key} has no kinds"


def test_partition_sensor_is_registered() -> None:
    assert defs.resolve_sensor_def("product_area_partitions_sensor") is not None
