"""Check the Kubernetes deployment files without a cluster, helm or kubectl.

    .venv/bin/python deploy/check_k8s.py                      # manifests and our own rules
    .venv/bin/python deploy/check_k8s.py --schema dagster/values.schema.json \
        [--chart-values dagster/values.yaml] \
        [--user-deployments-schema dagster/charts/dagster-user-deployments/values.schema.json]

The chart files come from `helm pull dagster/dagster --version 1.13.27 --untar` (they are the
chart's, so they are never copied into this repository). Checks:

- `deploy/k8s/values.yaml` against the chart's `values.schema.json` with `jsonschema`: our
  overrides with `required` dropped (the chart's defaults fill those) and every object with
  listed properties closed, so a key the chart does not know is an error even where the
  generated schema would let it through and the chart would silently ignore it; with
  `--chart-values` also the merged values as `helm` validates them (`required` kept, open
  objects). The schema's references to Kubernetes types (kubernetesjsonschema.dev) are checked
  offline against the `kubernetes` client's models.
- What the schema cannot see (no chart files needed): keys of the chart's free-form blocks
  (`runMonitoring`, `runRetries`, `runK8sConfig`) against what its templates read and the
  Kubernetes models; no run limits in `queuedRunCoordinator` next to a `concurrency` block
  (Dagster refuses that instance); no `includeConfigInLaunchedRuns` on a code server with
  `resources` when the runs have their own (dagster-k8s would give the runs the server's).
- `deploy/k8s/intake.yaml`: every field against the `kubernetes` client's models (unknown keys,
  types, required fields), plus our rules: labels and selectors agree, probes and the Service
  name a container port, readiness on /healthz, secrets only through `secretKeyRef`.

Exit status 1 and one line per problem if anything is wrong. `tests/deploy/test_k8s_files.py`
runs the parts that need no chart files in CI.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "k8s" / "values.yaml"
MANIFEST = ROOT / "deploy" / "k8s" / "intake.yaml"
K8S_REF = re.compile(r"^https?://kubernetesjsonschema\.dev/[^#]*#/definitions/([\w.]+)$")
MODELS = {"Deployment": "V1Deployment", "Service": "V1Service", "ConfigMap": "V1ConfigMap"}
# Keys the chart's configmap-instance template reads from the blocks its schema leaves untyped.
RUN_MONITORING_KEYS = {
    *("enabled", "startTimeoutSeconds", "cancelTimeoutSeconds", "maxRuntimeSeconds"),
    *("maxResumeRunAttempts", "pollIntervalSeconds", "freeSlotsAfterRunEndSeconds"),
}
RUN_RETRIES_KEYS = {"enabled", "maxRetries", "retryOnAssetOrOpFailure"}
RUN_K8S_CONFIG_MODELS = {
    "containerConfig": "V1Container",
    "podSpecConfig": "V1PodSpec",
    "podTemplateSpecMetadata": "V1ObjectMeta",
    "jobSpecConfig": "V1JobSpec",
    "jobMetadata": "V1ObjectMeta",
}


# --- Kubernetes objects, checked against the client's models -------------------------------


def k8s_errors(value: Any, type_name: str, path: str) -> Iterator[str]:
    """Unknown keys and wrong types in `value` read as the OpenAPI type `type_name` (e.g.
    `V1Deployment`, `list[V1EnvVar]`, `dict(str, str)`), recursively."""
    import kubernetes.client

    if value is None:
        return
    # kubernetes < 37 writes `list[X]` / `dict(str, X)`, 37 and later `List[X]` / `Dict[str, X]`.
    if type_name.startswith(("List[", "Dict[")):
        type_name = type_name[0].lower() + type_name[1:]
    if type_name.startswith("list["):
        if not isinstance(value, list):
            yield f"{path}: expected a list, got {type(value).__name__}"
            return
        for i, item in enumerate(value):
            yield from k8s_errors(item, type_name[5:-1], f"{path}[{i}]")
        return
    if type_name.startswith(("dict(", "dict[")):  # `dict(str, X)` or `dict[str, X]`
        if not isinstance(value, dict):
            yield f"{path}: expected a mapping, got {type(value).__name__}"
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            yield from k8s_errors(item, inner, f"{path}.{key}")
        return
    scalars = {
        "str": (str,),
        "int": (int,),
        "bool": (bool,),
        "float": (int, float),
        "bytes": (str, bytes),
    }
    if type_name in scalars:
        ok = isinstance(value, scalars[type_name])
        if ok and type_name in ("int", "float") and isinstance(value, bool):
            ok = False
        if not ok:
            yield f"{path}: expected {type_name}, got {value!r}"
        return
    if type_name in ("object", "datetime", "date"):
        return
    model = getattr(kubernetes.client, type_name, None)
    if model is None:
        yield f"{path}: unknown Kubernetes type {type_name}"
        return
    if not isinstance(value, dict):
        yield f"{path}: expected a {type_name} mapping, got {value!r}"
        return
    by_json_key = {json_key: attr for attr, json_key in model.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json_key:
            yield f"{path}.{key}: not a field of {type_name}"
            continue
        yield from k8s_errors(item, model.openapi_types[by_json_key[key]], f"{path}.{key}")


def k8s_required_errors(value: dict, type_name: str, path: str) -> Iterator[str]:
    """Missing required fields (and the client's other value checks), by building the model
    the way the client deserialises an API answer."""
    from kubernetes.client import ApiClient

    try:
        ApiClient()._ApiClient__deserialize(value, type_name)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:
        yield f"{path}: {exc}"


def kubernetes_available() -> bool:
    try:
        import kubernetes.client  # noqa: F401
    except ImportError:
        return False
    return True


# --- Helm values against the chart's schema --------------------------------------------------


def offline_schema(
    schema: dict, drop_required: bool, close_top: bool = True, close: bool = True
) -> dict:
    """The chart schema with its kubernetesjsonschema.dev references replaced by an
    `x-k8s-type` keyword (checked against the client's models), `required` dropped when only
    overrides are validated, and every object with listed properties closed (the top level
    too unless `close_top` is false: a subchart also receives its parent's switches)."""
    schema = copy.deepcopy(schema)
    top = schema

    def walk(node: Any, conditional: bool = False) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, conditional)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            node.pop("$ref")
            match = K8S_REF.match(ref)
            # `.../PodSpec/properties/tolerations` and the like keep their inline type only.
            if match and match.group(1).startswith("io.k8s.") and "/properties/" not in ref:
                node["x-k8s-type"] = "V1" + match.group(1).rsplit(".", 1)[1]
        if drop_required and not conditional:  # `then: required` is a rule, no default
            node.pop("required", None)
        props = node.get("properties")
        closable = props and not ({"additionalProperties", "patternProperties"} & set(node))
        if not close or (node is top and not close_top) or conditional:  # `if`/`then`: rules
            closable = False
        if closable and "x-k8s-type" not in node and "$ref" not in node:
            node["additionalProperties"] = False
        for key, child in node.items():
            if key not in ("enum", "const", "default", "required"):
                walk(child, conditional or key in ("if", "then", "else"))

    walk(schema)
    return schema


def schema_errors(
    values: dict,
    schema: dict,
    drop_required: bool,
    where: str,
    close_top: bool = True,
    close: bool = True,
) -> list[str]:
    import jsonschema

    validator_cls = jsonschema.validators.extend(
        jsonschema.Draft7Validator, {"x-k8s-type": _k8s_type_keyword}
    )
    validator = validator_cls(offline_schema(schema, drop_required, close_top, close))
    found = []
    for error in sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        found.append(f"{where}: {path}: {error.message}")
    return found


def _k8s_type_keyword(validator: Any, type_name: str, instance: Any, schema: dict) -> Iterator:
    import jsonschema

    if not kubernetes_available() or not isinstance(instance, dict):
        return
    # Keys the chart adds to a Kubernetes type (e.g. `enabled` on probes) are listed beside it.
    extra = set(schema.get("properties", {}))
    stripped = {k: v for k, v in instance.items() if k not in extra}
    for problem in k8s_errors(stripped, type_name, type_name):
        yield jsonschema.ValidationError(problem)


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """Helm's values merge: mappings recursively, anything else replaced, null deletes."""
    if not (isinstance(defaults, dict) and isinstance(overrides, dict)):
        return copy.deepcopy(overrides)
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(merged.get(key), value)
    return merged


def chart_rule_errors(values: dict) -> list[str]:
    """What the chart's templates need beyond its schema (no chart files needed)."""
    found = []
    daemon = values.get("dagsterDaemon", {})
    for block, known in (("runMonitoring", RUN_MONITORING_KEYS), ("runRetries", RUN_RETRIES_KEYS)):
        for key in sorted(set(daemon.get(block) or {}) - known):
            found.append(f"values: dagsterDaemon.{block}.{key}: not read by the chart")
    launcher = values.get("runLauncher", {}).get("config", {}).get("k8sRunLauncher") or {}
    run_k8s = launcher.get("runK8sConfig") or {}
    for key in sorted(set(run_k8s) - set(RUN_K8S_CONFIG_MODELS)):
        found.append(f"values: runLauncher.config.k8sRunLauncher.runK8sConfig.{key}: unknown")
    if kubernetes_available():
        for key, model in RUN_K8S_CONFIG_MODELS.items():
            where = f"values: runLauncher.config.k8sRunLauncher.runK8sConfig.{key}"
            found.extend(k8s_errors(run_k8s.get(key), model, where))
    # includeConfigInLaunchedRuns (on unless disabled) hands a code server's container context,
    # its `resources` included, to its runs, where dagster-k8s deep-merges it over the launcher's.
    run_resources = launcher.get("resources") or (run_k8s.get("containerConfig") or {}).get(
        "resources"
    )
    for deployment in values.get("dagster-user-deployments", {}).get("deployments") or []:
        include = (deployment.get("includeConfigInLaunchedRuns") or {}).get("enabled", True)
        if include and deployment.get("resources") and run_resources:
            found.append(
                f"values: user deployment {deployment.get('name')}: includeConfigInLaunchedRuns "
                "gives its runs the code server's resources, not the run launcher's"
            )
    # With a `concurrency` block (pools or runs) Dagster's instance refuses run limits in the run
    # coordinator: every process would fail to load dagster.yaml.
    concurrency = values.get("concurrency") or {}
    coordinator = daemon.get("runCoordinator", {}).get("config", {})
    queued = coordinator.get("queuedRunCoordinator") or {}
    block_op = queued.get("blockOpConcurrencyLimitedRuns") or {}
    if concurrency.get("enabled") and (concurrency.get("pools") or concurrency.get("runs")):
        for key, value in (
            ("maxConcurrentRuns", queued.get("maxConcurrentRuns")),
            ("tagConcurrencyLimits", queued.get("tagConcurrencyLimits")),
            ("blockOpConcurrencyLimitedRuns", block_op.get("opConcurrencySlotBuffer")),
        ):
            if value is not None and value != []:
                found.append(
                    f"values: queuedRunCoordinator.{key} with a `concurrency` block: Dagster "
                    "refuses the instance; set it in concurrency.runs / concurrency.pools"
                )
    return found


# --- Our rules for the intake manifest --------------------------------------------------------


def secret_names() -> set[str]:
    """Variables that hold secrets: config.py's secret constants, the app database URL (it
    carries a password) and the instance database password."""
    text = (ROOT / "gtm_feedback_dagster" / "config.py").read_text()
    block = text.split("# Names of the secret variables", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r'= "([A-Z_]+)"', block)) | {
        "GTM_FEEDBACK_DATABASE_URL",
        "DAGSTER_PG_PASSWORD",
    }


def manifest_rule_errors(docs: list[dict]) -> list[str]:
    found = []
    by_kind = {doc.get("kind"): doc for doc in docs}
    deployment, service = by_kind.get("Deployment"), by_kind.get("Service")
    if not deployment or not service:
        return ["intake.yaml: needs a Deployment and a Service"]
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"].get("labels", {})
    for where, selector in (
        ("Deployment spec.selector.matchLabels", spec["selector"].get("matchLabels", {})),
        ("Service spec.selector", service["spec"].get("selector", {})),
    ):
        if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
            found.append(f"intake.yaml: {where} does not select the pod labels {pod_labels}")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 2:
        found.append("intake.yaml: the intake Deployment needs at least 2 replicas")
    containers = spec["template"]["spec"]["containers"]
    port_names = {p.get("name") for c in containers for p in c.get("ports", [])}
    port_numbers = {p["containerPort"] for c in containers for p in c.get("ports", [])}
    for port in service["spec"].get("ports", []):
        target = port.get("targetPort", port.get("port"))
        if target not in port_names | port_numbers:
            found.append(f"intake.yaml: Service targetPort {target!r} is no container port")
    secrets = secret_names()
    for container in containers:
        name = container.get("name")
        probe = container.get("readinessProbe", {}).get("httpGet", {})
        if probe.get("path") != "/healthz":
            found.append(f"intake.yaml: container {name}: readiness probe must GET /healthz")
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            check = container.get(kind) or {}
            port = (check.get("httpGet") or check.get("tcpSocket") or {}).get("port")
            if port is not None and port not in port_names | port_numbers:
                found.append(f"intake.yaml: container {name}: {kind} port {port!r} unknown")
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                found.append(
                    f"intake.yaml: container {name}: envFrom secretRef; name each secret "
                    "with valueFrom.secretKeyRef"
                )
        for var in container.get("env", []):
            from_secret = "secretKeyRef" in (var.get("valueFrom") or {})
            if var["name"] in secrets and not from_secret:
                found.append(f"intake.yaml: {var['name']} must come from a secretKeyRef")
    for doc in docs:
        if doc.get("kind") == "ConfigMap":
            for key in sorted(set(doc.get("data") or {}) & secrets):
                found.append(f"intake.yaml: ConfigMap {doc['metadata']['name']} holds {key}")
        if doc.get("kind") == "Secret":
            found.append("intake.yaml: no Secret objects here (secret values stay out of git)")
    return found


def manifest_model_errors(docs: list[dict]) -> list[str]:
    found = []
    for i, doc in enumerate(docs):
        model = MODELS.get(doc.get("kind"))
        where = f"intake.yaml[{i}] {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        if model is None:
            found.append(f"{where}: no model for this kind in the checker")
            continue
        found.extend(k8s_errors(doc, model, where))
        found.extend(k8s_required_errors(doc, model, where))
    return found


def load_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", type=Path, help="the chart's values.schema.json")
    parser.add_argument("--chart-values", type=Path, help="the chart's values.yaml (defaults)")
    parser.add_argument(
        "--user-deployments-schema",
        type=Path,
        help="charts/dagster-user-deployments/values.schema.json of the same chart",
    )
    parser.add_argument("--values", type=Path, default=VALUES)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args(argv)

    values = yaml.safe_load(args.values.read_text())
    docs = load_docs(args.manifest)
    problems = []
    for rules, data in ((chart_rule_errors, values), (manifest_rule_errors, docs)):
        try:
            problems += rules(data)
        except (KeyError, TypeError, AttributeError, IndexError) as exc:  # malformed input
            problems.append(f"{rules.__name__}: cannot read the files ({exc!r})")
    notes = []
    if kubernetes_available():
        problems += manifest_model_errors(docs)
    else:
        notes.append("kubernetes models: skipped (pip install kubernetes)")
    if args.schema:
        schema = json.loads(args.schema.read_text())
        # Unknown keys: in our overrides only (the chart's own defaults are its business).
        problems += schema_errors(values, schema, True, "values")
        if args.chart_values:  # what helm validates: the merged values, `required` included
            merged = helm_merge(yaml.safe_load(args.chart_values.read_text()), values)
            problems += schema_errors(merged, schema, False, "merged values", close=False)
        notes.append(f"values.yaml: validated against {args.schema}")
    else:
        notes.append("values.yaml: chart schema not checked (give --schema)")
    if args.user_deployments_schema:
        sub = json.loads(args.user_deployments_schema.read_text())
        sub_values = values.get("dagster-user-deployments", {})
        where = "values: dagster-user-deployments"
        problems += schema_errors(sub_values, sub, True, where, close_top=False)
    for line in problems:
        print(line)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
