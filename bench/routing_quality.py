"""Routing quality on the labelled demo data set.

    python -m bench.routing_quality              # seed 11, all 3,000 entries, local model
    python -m bench.routing_quality --smoke      # 150 entries of seed 11 (CI runs this in a test)
    python -m bench.routing_quality --json       # machine-readable
    python -m bench.routing_quality --throughput 200   # route_batch timings on SQLite

Reports, per tier, count / share / precision / recall, search top-1 and top-3 accuracy and the
share of entries sent to a human (the ask tier), for the local model — and for OpenAI
`text-embedding-3-small` (384 dimensions) as well when OPENAI_API_KEY is set. The calibrated
confidence was fitted on the local model's signals (seed 7); with OpenAI embeddings its tiers are
shown for comparison but are not calibrated for that model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from bench.evaluation import demo_set, evaluate, format_table, retrieve
from gtm_feedback_dagster.ai.embedders import Embedder, LocalEmbedder, OpenAIEmbedder
from gtm_feedback_dagster.core.calibration import CalibrationParams, default_params
from gtm_feedback_dagster.routing.decide import Thresholds

SMOKE_SEED = 11
SMOKE_SAMPLE = 150


def measure(
    embedder: Embedder,
    seed: int,
    sample: int | None,
    scale: int = 1,
    params: CalibrationParams | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    params = params or default_params()
    data = demo_set(seed, scale=scale, sample=sample)
    found = retrieve(embedder, data)
    evaluation = evaluate(params, data, found, thresholds or Thresholds())
    return {
        "model": embedder.model_id,
        "calibrated_for": params.model_id,
        "seed": seed,
        "sample": sample,
        "requests": len(data.titles),
        "texts_embedded": found.texts_embedded,
        "embed_seconds": round(found.embed_seconds, 2),
        "embedding_tokens": found.tokens,
        **evaluation.as_dict(),
        "_table": format_table(
            evaluation, f"{embedder.model_id} — seed {seed}, {len(data.entries)} entries"
        ),
    }


def throughput(entries: int, seed: int = SMOKE_SEED, batch: int | None = None) -> dict[str, Any]:
    """Seed a fresh SQLite app database with the demo requests, then time `route_batch` on
    `entries` demo entries (calibrated path, local model, faiss), in batches of `batch`."""
    import tempfile
    import time
    from pathlib import Path

    from gtm_feedback_dagster.config import Settings
    from gtm_feedback_dagster.demo.generator import generate_demo_dataset
    from gtm_feedback_dagster.routing.confidence import CalibratedScorer
    from gtm_feedback_dagster.routing.engine import RoutingEnv, ensure_request_vectors, route_batch
    from gtm_feedback_dagster.runtime import local_index_from_table
    from gtm_feedback_dagster.store import db, repo

    data = generate_demo_dataset(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'app.db'}"
        db.upgrade(url)
        with db.session_scope(url) as session:
            areas = {
                a["id"]: repo.create_area(session, a["name"], a["description"], a["slug"])[0]
                for a in data["areas"]
            }
            user = repo.get_or_create_user(session, "bench@example.com", "Bench")
            for r in data["requests"]:
                repo.create_request(
                    session, r["title"], r["description"], [areas[a] for a in r["areaIds"]], None
                )
            ids = [
                repo.add_feedback(
                    session,
                    {"source": "api", "customer_pain": f["description"], "submitter_id": user.id},
                )[0].id
                for f in data["feedback"][:entries]
            ]
        embedder = LocalEmbedder()
        embedder.load()

        def session_factory():  # type: ignore[no-untyped-def]
            return db.session_scope(url)

        with session_factory() as session:
            index = local_index_from_table(session, embedder.model_id, embedder.dim)
        started = time.perf_counter()
        embedded = ensure_request_vectors(session_factory, embedder, index)
        embed_requests = time.perf_counter() - started
        env = RoutingEnv(
            settings=Settings(home=Path(tmp), database_url=url),
            session=session_factory,
            embedder=embedder,
            index=index,
            scorer=CalibratedScorer(),
        )
        size = batch or len(ids)
        timings: dict[str, float] = {}
        counts: dict[str, int] = {}
        started = time.perf_counter()
        for start in range(0, len(ids), size):
            report = route_batch(env, ids[start : start + size])
            for key, value in report.timings.items():
                timings[key] = timings.get(key, 0.0) + value
            for key, value in report.counts.items():
                counts[key] = counts.get(key, 0) + value
        seconds = time.perf_counter() - started
    return {
        "entries": len(ids),
        "batch_size": size,
        "requests_embedded_first": embedded,
        "embed_requests_seconds": round(embed_requests, 2),
        "route_seconds": round(seconds, 2),
        "entries_per_second": round(len(ids) / seconds, 1) if seconds else None,
        "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
        "counts": counts,
    }


def embedders() -> list[Embedder]:
    found: list[Embedder] = [LocalEmbedder()]
    key = (os.environ.get("OPENAI_API_KEY") or "").strip()
    if key:
        found.append(
            OpenAIEmbedder(
                api_key=key,
                base_url=os.environ.get("OPENAI_BASE_URL") or None,
                model=os.environ.get(
                    "GTM_FEEDBACK_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small"
                ),
            )
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SMOKE_SEED)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--sample", type=int, default=None, help="entries drawn at random")
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_SAMPLE} entries of seed {SMOKE_SEED}"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--throughput", type=int, metavar="N", help="time routing N entries instead"
    )
    parser.add_argument("--batch", type=int, default=None, help="batch size for --throughput")
    args = parser.parse_args(argv)
    if args.throughput:
        print(json.dumps(throughput(args.throughput, args.seed, args.batch), indent=2))
        return 0
    seed, sample = (SMOKE_SEED, SMOKE_SAMPLE) if args.smoke else (args.seed, args.sample)

    results = [measure(e, seed, sample, args.scale) for e in embedders()]
    if args.json:
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        json.dump(clean, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for result in results:
        print(result["_table"])
        if result["model"] != result["calibrated_for"]:
            print(f"(confidence calibrated for {result['calibrated_for']}, not this model)")
        print(
            f"embedded {result['texts_embedded']} texts in {result['embed_seconds']} s"
            + (f", {result['embedding_tokens']} tokens" if result["embedding_tokens"] else "")
        )
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
