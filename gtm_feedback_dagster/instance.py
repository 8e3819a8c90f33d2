"""The local Dagster instance used by `make demo`, `make ui` and `gtm-feedback route`.

DAGSTER_HOME defaults to `$GTM_FEEDBACK_HOME/dagster_home` (SQLite storage), so runs launched
from the CLI show up in the UI. Production copies `deploy/dagster.yaml` (dagster-postgres) there.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from gtm_feedback_dagster.config import Settings, load_settings

LOCAL_DAGSTER_YAML = """\
# Local instance: SQLite storage under this folder. For PostgreSQL see deploy/dagster.yaml.
telemetry:
  enabled: false
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
# Fails runs stuck in STARTING/CANCELING and runs left STARTED by a killed process tree.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_runtime_seconds: 7200
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
sensors:
  use_threads: true
  num_workers: 2
"""


def ensure_dagster_home(settings: Settings | None = None) -> Path:
    """Creates DAGSTER_HOME with a local dagster.yaml if missing and exports it for Dagster."""
    settings = settings or load_settings()
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def local_instance(settings: Settings | None = None) -> dg.DagsterInstance:
    ensure_dagster_home(settings)
    return dg.DagsterInstance.get()
