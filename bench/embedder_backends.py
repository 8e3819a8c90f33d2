"""Local embedder backends: all-MiniLM-L6-v2 on ONNX Runtime against sentence-transformers/torch,
same weights, same texts, same run.

    python -m bench.embedder_backends                 # 1,000 demo texts, 3 repeats
    python -m bench.embedder_backends --smoke         # 50 texts, 1 repeat (seconds)

Texts: the 1,000 first of the seed-7 demo data set's texts as they are embedded — every
request's `request_text` (291 at scale 1), then entries' `query_text`. Set-up (timed apart,
not in the figures): the ONNX export into a fresh home folder, as the first use does.

- throughput: `LocalEmbedder(backend=...).embed(texts)` (batch 64) on all texts, the two
  backends interleaved per repeat so a busy neighbour slows both alike; texts/s, median of
  `--repeats`;
- cold start: a fresh interpreter that imports the embedder, loads the model and embeds one
  text (what a CLI call or a Dagster run process pays), median of `--repeats`, with its peak RSS;
- agreement: cosine of the ONNX vector with the torch vector, min over every text.

Target (issue 14): ONNX throughput >= 1.8x torch's, cosine >= 0.9999 on every text.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    DEFAULT_CACHE_DIR,
    RESULTS_DIR,
    BenchConfig,
    demo_dataset,
    machine_info,
    median,
    offline_env,
    summary,
    timed,
    write_results,
)
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.ai.onnx_export import load_onnx_model
from gtm_feedback_dagster.core.text import query_text, request_text

TARGET_SPEEDUP = 1.8
TARGET_COSINE = 0.9999
TEXTS = 1000

COLD = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
embedder = LocalEmbedder(backend=sys.argv[1], home=Path(sys.argv[2]))
embedder.embed(["warm up the model"])
seconds = time.perf_counter() - started
assert embedder.active_backend == sys.argv[1], embedder.active_backend
# VmHWM, not ru_maxrss: Linux carries the forking parent's peak across exec into ru_maxrss.
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
peak = int(status) / 1024
print(seconds, peak, "torch" in sys.modules)
"""


def demo_texts(cfg: BenchConfig, n: int) -> list[str]:
    data = demo_dataset(cfg, scale=1)
    texts = [request_text(r["title"], r.get("description") or "") for r in data["requests"]]
    texts += [query_text(f["description"]) for f in data["feedback"] if f["description"].strip()]
    return texts[:n]


def cold_start(backend: str, home: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", COLD, backend, str(home)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    seconds, peak, torch_loaded = out.stdout.split()
    return {"seconds": float(seconds), "peak_rss_mib": float(peak), "torch": torch_loaded == "True"}


def run(cfg: BenchConfig, n_texts: int = TEXTS) -> dict[str, Any]:
    texts = demo_texts(cfg, 50 if cfg.smoke else n_texts)
    with tempfile.TemporaryDirectory(prefix="gtm-bench-onnx-") as tmp:
        home = Path(tmp)
        with offline_env(home):
            torch_embedder = LocalEmbedder(backend="torch")
            torch_load, _ = timed(torch_embedder.load)
            export_seconds, (_, info) = timed(lambda: load_onnx_model(home))
            onnx_embedder = LocalEmbedder(backend="onnx", home=home)
            onnx_embedder.load()
            assert onnx_embedder.active_backend == "onnx"
            cfg.say(f"export {export_seconds:.1f} s (torch load {torch_load:.1f} s before it)")
            for embedder in (onnx_embedder, torch_embedder):  # first-call allocations
                embedder.embed(texts[:64])
            rates: dict[str, list[float]] = {"onnx": [], "torch": []}
            vectors: dict[str, np.ndarray] = {}
            for repeat in range(cfg.repeats):
                for name, embedder in (("onnx", onnx_embedder), ("torch", torch_embedder)):
                    seconds, mat = timed(lambda e=embedder: e.embed(texts))
                    rates[name].append(len(texts) / seconds)
                    vectors[name] = mat
                cfg.say(
                    f"repeat {repeat + 1}: onnx {rates['onnx'][-1]:.0f}/s, "
                    f"torch {rates['torch'][-1]:.0f}/s"
                )
            cosines = np.sum(vectors["onnx"] * vectors["torch"], axis=1)
            cold: dict[str, list[dict[str, Any]]] = {"onnx": [], "torch": []}
            for _ in range(cfg.repeats):
                for name in ("onnx", "torch"):
                    cold[name].append(cold_start(name, home))
    ratios = [o / t for o, t in zip(rates["onnx"], rates["torch"], strict=True)]
    speedup = median(rates["onnx"]) / median(rates["torch"])
    return {
        "texts": len(texts),
        "batch_size": onnx_embedder.batch_size,
        "onnx_texts_per_second": summary(rates["onnx"], 1),
        "torch_texts_per_second": summary(rates["torch"], 1),
        "speedup": round(speedup, 3),
        "paired_speedups": [round(r, 3) for r in ratios],
        "target_speedup": TARGET_SPEEDUP,
        "cosine_min": round(float(cosines.min()), 7),
        "cosine_median": round(float(np.median(cosines)), 7),
        "target_cosine": TARGET_COSINE,
        "cold_start_seconds": {n: summary([c["seconds"] for c in cold[n]], 3) for n in cold},
        "cold_peak_rss_mib": {n: round(median([c["peak_rss_mib"] for c in cold[n]])) for n in cold},
        "cold_onnx_imported_torch": any(c["torch"] for c in cold["onnx"]),
        "export_seconds": round(export_seconds, 2),
        "export_verified_cosine": round(info.cosine_min, 7),
        "met": speedup >= TARGET_SPEEDUP and float(cosines.min()) >= TARGET_COSINE,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embedder_backends")
    parser.add_argument("--smoke", action="store_true", help="50 texts, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=TEXTS)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    cfg = BenchConfig(
        scale=1,
        smoke=args.smoke,
        repeats=1 if args.smoke else args.repeats,
        cache_dir=args.cache_dir.resolve(),
    )
    started = time.perf_counter()
    outcome = run(cfg, args.texts)
    outcome["wall_seconds"] = round(time.perf_counter() - started, 1)
    results = {
        "command": "python -m " + " ".join(["bench.embedder_backends", *sys.argv[1:]]),
        "machine": machine_info(),
        "benchmarks": {"embedder_backends": outcome},
    }
    path = write_results(results, args.out, "embedder-backends")
    print(json.dumps(outcome, indent=2))
    print(f"results: {path}")
    return 0 if outcome["met"] or args.smoke else 1


if __name__ == "__main__":
    raise SystemExit(main())
