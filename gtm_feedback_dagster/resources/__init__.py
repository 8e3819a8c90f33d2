"""Dagster resources wrapping the app's clients. `build_resources()` is the one place that binds
resource keys; each provider is chosen by configuration (see config.py)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from gtm_feedback_dagster.resources.store import StoreResource


def build_resources() -> dict[str, Any]:
    """Binds every resource key. Modules in this package may add theirs with a module-level
    `RESOURCES` dict (key -> resource), so each concern registers itself."""
    resources: dict[str, Any] = {"store": StoreResource()}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        resources.update(getattr(module, "RESOURCES", {}))
    return resources
