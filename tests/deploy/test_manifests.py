"""The deployment files parse and say what docs/operations.md says they do (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from gtm_feedback_dagster.instance import LOCAL_DAGSTER_YAML

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PG_ENV = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5433",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_DB": "dagster",
    "GTM_FEEDBACK_IMAGE": "local/gtm-feedback:test",
}


def yaml_files() -> list[Path]:
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    return [*files, ROOT / "workspace.yaml"]


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_parses(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs, f"{path} is empty"


def load_instance_config(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text(text)
    config, _ = dagster_instance_config(str(tmp_path))
    return dict(config)


@pytest.mark.parametrize("name", ["dagster.yaml", "docker/dagster.yaml"])
def test_instance_yaml_passes_dagsters_schema(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_instance_config(tmp_path, (DEPLOY / name).read_text(), monkeypatch)
    pg = config["storage"]["postgres"]["postgres_db"]
    assert pg["port"] == {"env": "DAGSTER_PG_PORT"}  # not fixed at 5432 any more
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_runtime_seconds"] > 0
    assert config["run_retries"]["enabled"] is True
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    launcher = config.get("run_launcher")
    if name == "dagster.yaml":
        assert launcher is None  # DefaultRunLauncher: runs are subprocesses of the code server
        assert config["run_monitoring"]["max_resume_run_attempts"] == 0  # cannot resume
    else:
        assert launcher["class"] == "DockerRunLauncher"
        assert launcher["config"]["container_kwargs"]["network_mode"] == "host"


def test_local_instance_turns_run_monitoring_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_instance_config(tmp_path, LOCAL_DAGSTER_YAML, monkeypatch)
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_resume_run_attempts"] == 0
