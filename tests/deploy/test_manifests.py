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


def test_compose_has_the_topology_on_host_networking() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "dagster-init", "code-server", "webserver", "daemon", "intake"} <= set(
        services
    )
    for name, service in services.items():
        assert service.get("network_mode") == "host", f"{name} must use host networking"
        assert "ports" not in service and "networks" not in service, name
    assert services["code-server"]["command"][:5] == [
        "dagster",
        "api",
        "grpc",
        "-m",
        "gtm_feedback_dagster.definitions",
    ]
    assert "/opt/dagster/workspace.yaml" in services["webserver"]["command"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert "gtm-feedback serve" in " ".join(services["intake"]["command"])
    # Wired by environment only: no config files or code mounted into the app containers.
    for name in ("code-server", "webserver", "intake"):
        assert not services[name].get("volumes"), name


def test_production_workspace_points_at_the_grpc_server() -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.production.yaml").read_text())
    (entry,) = workspace["load_from"]
    assert set(entry) == {"grpc_server"}
    assert entry["grpc_server"]["port"] == 4000


def test_dockerfile_is_multistage_non_root_with_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) >= 2
    assert "ARG BASE_IMAGE=python:3.11-slim" in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert "/healthz" in text
    assert "HF_HUB_OFFLINE=1" in text
    assert "download.pytorch.org/whl/cpu" in text  # CPU-only torch


def test_k8s_manifests() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "intake.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "ConfigMap"} <= set(kinds)
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    (user_code,) = values["dagster-user-deployments"]["deployments"]
    assert user_code["dagsterApiGrpcArgs"] == ["-m", "gtm_feedback_dagster.definitions"]
    assert {"name": "gtm-feedback-env"} in user_code["envSecrets"]
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert values["postgresql"]["enabled"] is False


def test_extras_pin_the_dagster_family() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["docker"] == ["dagster-docker==0.29.27"]
    assert extras["k8s"] == ["dagster-k8s==0.29.27"]
    assert extras["aws"] == ["dagster-aws==0.29.27"]
