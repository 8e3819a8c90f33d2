"""The package's layers, checked: imports point down only, no two packages import each other
(directly or through others), and only `config.py` reads the environment.

Layers, top to bottom (docs/design.md has the picture in words):
  commands, cli                      the CLI (may run the Dagster jobs, so it sits over definitions)
  definitions                        the one Definitions object
  assets jobs sensors schedules resources partitions retry instance   the Dagster shell
  intake slack web                   the other adapters: HTTP app, Slack transport, request pages
  catalog feedback routing requests notifications analytics demo      use cases, one per feature
  runtime                            the clients of one process
  messaging                          outbox, Block Kit builders, the Slack Web API client
  store ai vectors                   persistence and providers
  config core                        settings; plain maths and text
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import gtm_feedback_dagster

PACKAGE = "gtm_feedback_dagster"
ROOT = Path(gtm_feedback_dagster.__file__).parent

DAGSTER_SHELL = [
    *("assets", "jobs", "sensors", "schedules", "resources"),
    *("partitions", "retry", "instance"),
]
ADAPTERS = ["intake", "slack", "web"]

RANKS: dict[str, int] = {
    "config": 0,
    "core": 0,
    "store": 1,
    "ai": 1,
    "vectors": 1,
    "messaging": 2,
    "runtime": 3,
    **dict.fromkeys(
        ["catalog", "feedback", "routing", "requests", "notifications", "analytics", "demo"], 4
    ),
    **dict.fromkeys(DAGSTER_SHELL + ADAPTERS, 5),
    "definitions": 6,
    "commands": 7,
    "cli": 7,
}


def _unit(path: Path) -> str:
    """The top-level package (or root module) a file belongs to."""
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != PACKAGE:
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # `from gtm_feedback_dagster import x`
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
    return found


def _sources() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if "migrations" not in p.parts]


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        unit = _unit(path)
        if unit == "__init__":
            continue
        graph[unit] |= {target for target in _imports(path) if target != unit}
    return graph


def test_every_package_has_a_layer() -> None:
    units = {_unit(p) for p in _sources()} - {"__init__"}
    assert units <= set(RANKS), f"give these a layer in RANKS: {sorted(units - set(RANKS))}"


def test_imports_point_down_only() -> None:
    upward = sorted(
        f"{source} (layer {RANKS[source]}) imports {target} (layer {RANKS[target]})"
        for source, targets in package_graph().items()
        for target in targets
        if RANKS.get(target, -1) > RANKS.get(source, -1)
    )
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_packages_import_each_other() -> None:
    assert _cycles(package_graph()) == []


def test_cycle_detection_finds_an_indirect_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _environment_reads(path: Path) -> list[int]:
    lines: list[int] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        # os.environ.get(...), os.getenv(...), os.environ[...] (read), "X" in os.environ
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if (
                node.func.attr in {"get", "copy", "items", "keys", "values"}
                and isinstance(target, ast.Attribute)
                and target.attr == "environ"
            ):
                lines.append(node.lineno)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "environ"
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Attribute) and c.attr == "environ" for c in node.comparators
        ):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_only_config_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT)): lines
        for path in _sources()
        if path.name != "config.py" or path.parent != ROOT
        for lines in [_environment_reads(path)]
        if lines
    }
    assert readers == {}, f"read settings through config.py instead: {readers}"


def test_environment_read_detection(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "a = os.environ.get('A')\n"
        "b = os.getenv('B')\n"
        "c = os.environ['C']\n"
        "d = 'D' in os.environ\n"
        "os.environ['E'] = '1'\n"  # a write is not a read
    )
    assert _environment_reads(sample) == [2, 3, 4, 5]


# Generated modules that may be long: the first migration is Alembic's output.
LONG_MODULES_ALLOWED = {"store/migrations/versions/0001_initial_schema.py"}
MAX_MODULE_LINES = 420  # "about 400": one concern per module


def test_no_module_is_too_long() -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in ROOT.rglob("*.py")
        if str(path.relative_to(ROOT)) not in LONG_MODULES_ALLOWED
        for n in [len(path.read_text().splitlines())]
        if n > MAX_MODULE_LINES
    }
    assert too_long == {}, f"split these by concern: {too_long}"
