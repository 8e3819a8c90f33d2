"""The Kubernetes files (deploy/k8s/) against our own rules, with no chart files and no cluster:
they parse, set only variables the code (or a documented consumer) reads, take secrets only by
secretKeyRef, probe /healthz, and agree with the Dockerfile and each other. deploy/check_k8s.py
runs the same rules plus the chart schema (docs/operations.md); its schema handling is tested
here on a small schema of our own."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Read by something other than config.py, and listed in docs/operations.md.
OTHER_CONSUMERS = {"FORWARDED_ALLOW_IPS": "uvicorn", "PGSSLMODE": "libpq"}


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_k8s", ROOT / "deploy" / "check_k8s.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_k8s = _load_checker()


@pytest.fixture(name="values")
def values_fixture() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


@pytest.fixture(name="docs")
def docs_fixture() -> list[dict]:
    return check_k8s.load_docs(K8S / "intake.yaml")


def _kinds(docs: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in docs}


def _container(docs: list[dict]) -> dict:
    (container,) = _kinds(docs)["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def test_files_parse(values: dict, docs: list[dict]) -> None:
    assert isinstance(values, dict) and values
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "ConfigMap"]


def test_every_variable_set_is_read(docs: list[dict]) -> None:
    config = (ROOT / "gtm_feedback_dagster" / "config.py").read_text()
    read_by_code = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', config))
    operations = (ROOT / "docs" / "operations.md").read_text()
    container = _container(docs)
    set_here = {var["name"] for var in container.get("env", [])}
    set_here |= set(_kinds(docs)["ConfigMap"]["data"])
    unread = sorted(set_here - read_by_code - set(OTHER_CONSUMERS))
    assert unread == [], f"set in deploy/k8s/intake.yaml but read by nothing: {unread}"
    undocumented = sorted(name for name in set_here if f"`{name}`" not in operations)
    assert undocumented == [], f"add to docs/operations.md: {undocumented}"


def test_secrets_only_by_secret_key_ref(values: dict, docs: list[dict]) -> None:
    secrets = check_k8s.secret_names()
    assert {"SLACK_BOT_TOKEN", "GTM_FEEDBACK_WEB_SECRET", "GTM_FEEDBACK_DATABASE_URL"} <= secrets
    container = _container(docs)
    assert not any("secretRef" in source for source in container.get("envFrom", []))
    by_name = {var["name"]: var for var in container["env"]}
    for name in secrets - {"DAGSTER_PG_PASSWORD"}:  # the intake never talks to Dagster's DB
        ref = by_name[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "gtm-feedback-env", "key": name}
        assert "value" not in by_name[name]
    assert not set(_kinds(docs)["ConfigMap"]["data"]) & secrets
    assert "Secret" not in _kinds(docs)
    # The Dagster side takes the same Secret whole (the chart only offers envSecrets) and no
    # password is inline: the instance database password comes from the chart's secret.
    (user_code,) = values["dagster-user-deployments"]["deployments"]
    assert user_code["envSecrets"] == [{"name": "gtm-feedback-env"}]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["envSecrets"] == [{"name": "gtm-feedback-env"}]
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    for component in ("dagsterWebserver", "dagsterDaemon"):  # chart image: no app secrets
        assert "envSecrets" not in values[component]
    text = (K8S / "values.yaml").read_text() + (K8S / "intake.yaml").read_text()
    assert not re.search(r"xox[bpa]-\w|sk-[A-Za-z0-9]{8}|postgresql\S*://\w+:\w+@", text)
    # Every secret the intake reads is in the documented `kubectl create secret` line.
    for name in secrets - {"DAGSTER_PG_PASSWORD"}:
        assert f"--from-literal={name}=" in (K8S / "values.yaml").read_text(), name


def test_probes(docs: list[dict]) -> None:
    container = _container(docs)
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    # /healthz checks the database: as a liveness probe a database outage restarts every pod.
    assert "/healthz" not in json.dumps(container.get("livenessProbe", {}))


def test_images_ports_and_users_match_the_dockerfile(values: dict, docs: list[dict]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (exposed,) = re.findall(r"^EXPOSE (\d+)$", dockerfile, re.M)
    user, group = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.M)[-1]
    container = _container(docs)
    assert [p["containerPort"] for p in container["ports"]] == [int(exposed)]
    assert container["command"][:2] == ["gtm-feedback", "serve"]
    assert container["command"][container["command"].index("--port") + 1] == exposed
    pod = _kinds(docs)["Deployment"]["spec"]["template"]["spec"]
    (user_code,) = values["dagster-user-deployments"]["deployments"]
    run_pod = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    for context in (pod["securityContext"], user_code["podSecurityContext"]):
        assert context["runAsNonRoot"] is True
    for context in (pod["securityContext"], user_code["podSecurityContext"]):
        assert (context["runAsUser"], context["runAsGroup"]) == (int(user), int(group))
    run_context = run_pod["securityContext"]
    assert (run_context["runAsUser"], run_context["runAsGroup"]) == (int(user), int(group))
    image = user_code["image"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.production.yaml").read_text())
    assert user_code["port"] == workspace["load_from"][0]["grpc_server"]["port"]
    assert user_code["dagsterApiGrpcArgs"] == ["-m", "gtm_feedback_dagster.definitions"]


def test_checker_rules_pass_on_our_files(values: dict, docs: list[dict]) -> None:
    assert check_k8s.chart_rule_errors(values) == []
    assert check_k8s.manifest_rule_errors(docs) == []


def test_run_limits_live_in_the_concurrency_block(values: dict) -> None:
    """Dagster refuses run limits in the run coordinator once `concurrency` is set; this is
    what the first version of values.yaml got wrong."""
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == 8
    old = copy.deepcopy(values)
    queued = old["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    queued["maxConcurrentRuns"] = 8
    assert any("maxConcurrentRuns" in e for e in check_k8s.chart_rule_errors(old))
    old["dagsterDaemon"]["runMonitoring"]["maxRuntime"] = 1
    assert any("runMonitoring.maxRuntime" in e for e in check_k8s.chart_rule_errors(old))


def test_runs_get_the_run_launchers_resources(values: dict) -> None:
    """With includeConfigInLaunchedRuns the code server's resources would override the run
    pods' (dagster-k8s deep-merges the code location's container context last)."""
    (user_code,) = values["dagster-user-deployments"]["deployments"]
    assert user_code["includeConfigInLaunchedRuns"] == {"enabled": False}
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["envConfigMaps"] == user_code["envConfigMaps"]  # runs still get both
    assert launcher["envSecrets"] == user_code["envSecrets"]
    old = copy.deepcopy(values)
    old["dagster-user-deployments"]["deployments"][0]["includeConfigInLaunchedRuns"] = {
        "enabled": True
    }
    assert any("includeConfigInLaunchedRuns" in e for e in check_k8s.chart_rule_errors(old))


def test_manifest_rules_catch_mistakes(docs: list[dict]) -> None:
    broken = copy.deepcopy(docs)
    container = _container(broken)
    container["env"].append({"name": "SLACK_SIGNING_SECRET", "value": "inline"})
    container["envFrom"].append({"secretRef": {"name": "gtm-feedback-env"}})
    container["readinessProbe"]["httpGet"]["path"] = "/"
    _kinds(broken)["Service"]["spec"]["selector"] = {"app": "other"}
    _kinds(broken)["ConfigMap"]["data"]["OPENAI_API_KEY"] = "inline"
    problems = " | ".join(check_k8s.manifest_rule_errors(broken))
    for expected in (
        "SLACK_SIGNING_SECRET",
        "envFrom secretRef",
        "/healthz",
        "Service spec",
        "holds",
    ):
        assert expected in problems


def test_manifests_match_the_kubernetes_models(docs: list[dict]) -> None:
    import kubernetes  # noqa: F401  (a dev dependency: this test must run in CI, not skip)

    assert check_k8s.manifest_model_errors(docs) == []
    broken = copy.deepcopy(docs)
    _container(broken)["readynessProbe"] = {}
    _kinds(broken)["Service"]["spec"]["ports"][0]["port"] = "80"
    problems = " | ".join(check_k8s.manifest_model_errors(broken))
    assert "readynessProbe: not a field of V1Container" in problems
    assert "expected int" in problems


# A small chart-like schema of our own, shaped like the generated one (a Kubernetes reference,
# an object without additionalProperties, an if/then rule), to test the schema handling.
SCHEMA = {
    "type": "object",
    "properties": {
        "launcher": {"$ref": "#/definitions/Launcher"},
        "pod": {"$ref": "#/definitions/Pod"},
    },
    "required": ["launcher", "pod"],
    "definitions": {
        "Launcher": {
            "type": "object",
            "properties": {"type": {"enum": ["A", "B"]}, "config": {"type": "object"}},
            "required": ["type", "config"],
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "A"}}},
                    "then": {"properties": {"config": {"required": ["a"]}}},
                }
            ],
        },
        "Pod": {
            "type": "object",
            "properties": {},
            "$ref": "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
            "#/definitions/io.k8s.api.core.v1.PodSecurityContext",
        },
    },
}


def test_schema_check_closes_objects_and_keeps_rules(tmp_path: Path) -> None:
    import jsonschema  # noqa: F401  (a dev dependency, as for check_k8s.py)

    def errors(values: dict) -> list[str]:
        return check_k8s.schema_errors(values, SCHEMA, True, "values")

    assert errors({"launcher": {"type": "A", "config": {"a": 1}}}) == []
    assert errors({"pod": {}}) == []  # overrides only: `required` is the chart defaults' job
    assert any("'typo' was unexpected" in e for e in errors({"launcher": {"typo": 1}}))
    assert any("'a' is a required" in e for e in errors({"launcher": {"type": "A", "config": {}}}))
    if importlib.util.find_spec("kubernetes"):
        assert any("runAsUsr" in e for e in errors({"pod": {"runAsUsr": 1}}))
    schema_file = tmp_path / "values.schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    # Our values are not of this schema's shape: the command line reports that, status 1.
    assert check_k8s.main(["--schema", str(schema_file)]) == 1


def test_helm_merge() -> None:
    defaults = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = check_k8s.helm_merge(defaults, {"a": {"c": [3]}, "d": None})
    assert merged == {"a": {"b": 1, "c": [3]}}
