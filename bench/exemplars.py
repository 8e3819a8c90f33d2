"""Confirmed-entry evidence measured offline: does matching an entry against the feedback already
confirmed on a request (not only its title and description) help, and does the shipped
confidence keep its meaning when it does?

    .venv/bin/python -m bench.exemplars                 # real-style test split + generator seed 11
    .venv/bin/python -m bench.exemplars --episodes 60 --json

For every request a number of its other entries are drawn as *confirmed exemplars* (what a
person approved, or an import that named the request). A candidate's similarity becomes the best
of its own text's cosine and its exemplars' cosines — what routing does (`routing.exemplars`) —
and the calibrated scorer decides with the shipped parameters, unchanged. Exemplars never include
the entry's own text. Rows: 0 exemplars (today), 1, 3, 8 per request, and a mixed catalogue where
each request has 0-8 (a deployment a few weeks in).

Data: the real-style test split (`bench.realstyle`: concepts no fit saw, young catalogues, hard
negatives whose exemplars are in the index too, noisy texts quoting sibling requests) and the
demo generator's held-out seed 11. Both are generator vocabulary, so the lift is a hint, not a
result on third-party text.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.evaluation import LabelledSet, Retrieval, demo_set, evaluate, masked_retrieval

EXEMPLAR_COUNTS: tuple[int | str, ...] = (0, 1, 3, 8, "mixed")
MAX_MIXED = 8


def exemplar_sims(
    entry_vectors: np.ndarray,
    entry_texts: Sequence[str],
    pools: Sequence[Sequence[str]],
    pool_vectors: dict[str, np.ndarray],
    count: int | str,
    rng: random.Random,
) -> np.ndarray:
    """(entries, requests): each entry's best cosine over each request's exemplars (-inf when a
    request has none). Exemplars are drawn once per request; one equal to (or inside) the
    entry's own text is skipped for that entry."""
    n, m = len(entry_texts), len(pools)
    best = np.full((n, m), -np.inf, dtype=np.float32)
    for r, pool in enumerate(pools):
        k = rng.randint(0, MAX_MIXED) if count == "mixed" else int(count)
        picks = rng.sample(list(pool), min(k, len(pool))) if k else []
        for text in picks:
            sims = entry_vectors @ pool_vectors[text]
            own = np.fromiter((text in e for e in entry_texts), dtype=bool, count=n)
            sims = np.where(own, -np.inf, sims)
            np.maximum(best[:, r], sims, out=best[:, r])
    return best


def _combined(found: Retrieval, ex: np.ndarray, keep: np.ndarray | None) -> Retrieval:
    sims = np.maximum(found.sims, ex)
    return masked_retrieval(sims, keep if keep is not None else np.ones_like(sims, dtype=bool))


def _row(label: str, count: int | str, evaluation: Any) -> dict[str, Any]:
    d = evaluation.as_dict()
    attach = d["tiers"]["attach"]
    return {
        "data": label,
        "exemplars": count,
        "top1": d["search_top1"],
        "top1_cosine_only": d["search_top1_cosine_only"],
        "attached": attach["count"],
        "attach_precision": attach["precision"],
        "human_share": round(evaluation.human_share, 4),
        "new_precision": d["tiers"]["new"]["precision"],
        "ece_p_top": d.get("ece_p_top"),
    }


def measure(episodes: int, seed: int = 0) -> list[dict[str, Any]]:
    from bench.realstyle import _split_material, build_split, embed_unique
    from gtm_feedback_dagster.ai.local_model import LocalEmbedder
    from gtm_feedback_dagster.config import attach_precision_target
    from gtm_feedback_dagster.core.calibration import default_params
    from gtm_feedback_dagster.core.text import query_text, request_text
    from gtm_feedback_dagster.routing.decide import Thresholds

    embedder = LocalEmbedder()
    params = default_params()
    target = attach_precision_target()
    rows: list[dict[str, Any]] = []

    def run(label: str, data: LabelledSet, keep: np.ndarray | None, pools: list[list[str]]):
        req = embedder.embed(
            [request_text(t, d) for t, d in zip(data.titles, data.descriptions, strict=True)]
        )
        ent = embed_unique(embedder, [query_text(t) for t in data.entries])
        pool_texts = sorted({t for p in pools for t in p})
        pool_matrix = embed_unique(embedder, [query_text(t) for t in pool_texts])
        pool_vectors = dict(zip(pool_texts, pool_matrix, strict=True))
        found = Retrieval(np.zeros(0), np.zeros(0), ent @ req.T, 0.0, 0, 0)
        for count in EXEMPLAR_COUNTS:
            ex = exemplar_sims(
                ent, data.entries, pools, pool_vectors, count, random.Random(f"{seed}-{count}")
            )
            combined = _combined(found, ex, keep)
            evaluation = evaluate(params, data, combined, Thresholds(), attach_precision=target)
            rows.append(_row(label, count, evaluation))
            print(json.dumps(rows[-1]), flush=True)

    rs = build_split("test", episodes, seed=seed)
    requests, by_request, _ = _split_material("test")
    run("real-style test", rs.data, rs.keep, [by_request.get(r["id"], []) for r in requests])

    demo = demo_set(11, sample=1500, sample_seed=seed)
    from gtm_feedback_dagster.demo.generator import generate_demo_dataset

    raw = generate_demo_dataset(seed=11, scale=1)
    pools: list[list[str]] = [[] for _ in raw["requests"]]
    position = {r["id"]: i for i, r in enumerate(raw["requests"])}
    for row in raw["feedback"]:
        rid = (row.get("metadata") or {}).get("truthRequestId")
        if rid in position:
            pools[position[rid]].append(row["description"])
    run("generator seed 11", demo, None, pools)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| data | exemplars per request | top-1 | attached | attach precision | to a human "
        "| new tier right | ECE p_top |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.1%}"

        ece = "-" if r["ece_p_top"] is None else f"{r['ece_p_top']:.3f}"
        lines.append(
            f"| {r['data']} | {r['exemplars']} | {pct(r['top1'])} | {r['attached']} "
            f"| {pct(r['attach_precision'])} | {pct(r['human_share'])} "
            f"| {pct(r['new_precision'])} | {ece} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = measure(args.episodes, args.seed)
    print(json.dumps(rows, indent=2) if args.json else format_rows(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
