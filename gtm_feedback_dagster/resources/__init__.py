"""Dagster resources wrapping the runtime's clients. `build_resources()` is the one place that
binds resource keys; each provider is chosen by configuration (see config.py)."""

from __future__ import annotations

from typing import Any

from gtm_feedback_dagster.config import Settings, load_settings
from gtm_feedback_dagster.resources.ai import resources_for
from gtm_feedback_dagster.resources.slack import slack_resource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.resources.table_io import DatabaseTableIOManager


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Every resource key of the code location: store, embedder, vector_index, llm, slack,
    table_io_manager (pandas tables in the app database)."""
    settings = settings or load_settings()
    return {
        "store": StoreResource(),
        **resources_for(settings),
        "slack": slack_resource(settings),
        "table_io_manager": DatabaseTableIOManager(),
    }
