"""The one `Definitions` object of the code location.

Assets, checks, jobs, sensors and schedules are collected from their subpackages (one concern per
module), so adding a module is enough to register what it defines.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from gtm_feedback_dagster import assets, jobs, schedules, sensors
from gtm_feedback_dagster.resources import build_resources


def _module_objects(package: ModuleType) -> list[Any]:
    found: list[Any] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.extend(vars(module).values())
    return found


def _collect(
    package: ModuleType, kinds: tuple[type, ...], exclude: tuple[type, ...] = ()
) -> list[Any]:
    def wanted(obj: Any) -> bool:
        return isinstance(obj, kinds) and not isinstance(obj, exclude)

    seen: dict[int, Any] = {}
    for obj in _module_objects(package):
        if wanted(obj):
            seen.setdefault(id(obj), obj)
        elif isinstance(obj, list) and obj and all(wanted(o) for o in obj):
            for o in obj:
                seen.setdefault(id(o), o)
    return list(seen.values())


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        # An AssetChecksDefinition is also an AssetsDefinition: keep checks out of `assets`.
        assets=_collect(
            assets, (dg.AssetsDefinition, dg.AssetSpec), exclude=(dg.AssetChecksDefinition,)
        ),
        asset_checks=_collect(assets, (dg.AssetChecksDefinition,)),
        jobs=_collect(jobs, (dg.JobDefinition, UnresolvedAssetJobDefinition)),
        sensors=_collect(sensors, (dg.SensorDefinition,)),
        schedules=_collect(schedules, (dg.ScheduleDefinition,)),
        resources=build_resources(),
    )


defs = build_definitions()
