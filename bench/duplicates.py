"""Duplicate detection measured on the demo generator's truth.

    .venv/bin/python -m bench.duplicates              # seed 7, the demo's 3,000 entries
    .venv/bin/python -m bench.duplicates --seed 11
    .venv/bin/python -m bench.duplicates --reuse      # score again, on the last routed database

Does what `make demo` does to the app database (the demo data set imported as
`migrate-reference --route` would, every entry routed by `route_batch` with the local model in
batches of GTM_FEEDBACK_ROUTE_BATCH_SIZE, then the related-request graph of every area), and
then measures `gtm-feedback requests duplicates`' two finders against the truth the generator
records on every entry (`metadata.truthRequestId` / `truthTopic`):

- a *need* is a catalogue request, or a missing need (`nomatch:` topic); every open request that
  routing created is assigned the need of the entry it was created for;
- a *true pair* is two open requests of the same need (a created copy of a catalogue request, or
  two created copies of one need); a *duplicate request* is a created request whose need has
  another open request;
- for each finder and threshold: candidate pairs, precision (true pairs among them), pair
  recall, and the share of duplicate requests that at least one candidate links to another
  request of their need (what a PM needs: one merge proposal per duplicate).

The title graph's 0.75 is the shipped default, not fitted here. The evidence finder's method
and threshold were chosen on seed 7 (the demo: the lowest threshold of the grid with precision
>= 0.8) and checked on seed 11; "feedback text only" is the same finder without the stored
title vectors. "shipped" is exactly what `requests duplicates` lists (`likely_duplicates`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.common import BenchConfig, offline_env
from bench.databases import build_full_graph

GRAPH_THRESHOLDS = (0.65, 0.70, 0.75, 0.80)
EVIDENCE_THRESHOLDS = (0.24, 0.26, 0.28, 0.30, 0.32, 0.34, 0.40)


def _route_demo(url: str, seed: int, say: Any) -> dict[str, Any]:
    from gtm_feedback_dagster.ai.local_model import LocalEmbedder
    from gtm_feedback_dagster.config import load_settings
    from gtm_feedback_dagster.demo.generator import generate_demo_dataset
    from gtm_feedback_dagster.feedback.reference_import import import_reference
    from gtm_feedback_dagster.routing.confidence import CalibratedScorer
    from gtm_feedback_dagster.routing.engine import RoutingEnv, route_batch
    from gtm_feedback_dagster.runtime import local_index_from_table
    from gtm_feedback_dagster.store import db
    from gtm_feedback_dagster.store.schema import Feedback

    db.upgrade(url)
    import_reference(url, generate_demo_dataset(seed=seed), route=True)
    settings = load_settings()
    embedder = LocalEmbedder()
    embedder.load()

    def session_factory():  # type: ignore[no-untyped-def]
        return db.session_scope(url)

    with session_factory() as session:
        index = local_index_from_table(session, embedder.model_id, embedder.dim)
        pending = list(
            session.scalars(
                select(Feedback.id).where(Feedback.status == "pending").order_by(Feedback.id)
            )
        )
    env = RoutingEnv(
        settings=settings,
        session=session_factory,
        embedder=embedder,
        index=index,
        scorer=CalibratedScorer(),
    )
    counts: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    size = settings.route_batch_size
    for start in range(0, len(pending), size):
        report = route_batch(env, pending[start : start + size])
        for key, value in report.counts.items():
            counts[key] += value
    say(f"routed {len(pending)} entries in {time.perf_counter() - started:.1f} s: {dict(counts)}")
    return dict(counts)


def _truth(url: str) -> tuple[dict[int, str], dict[int, str]]:
    """Open requests -> their need, and the titles."""
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import Feedback, Request

    with session_scope(url) as session:
        requests = session.execute(
            select(Request.id, Request.title, Request.external_id, Request.meta).where(
                Request.status == "open"
            )
        ).all()
        origins = {
            int(meta["from_feedback_id"])
            for _, _, ext, meta in requests
            if ext is None and isinstance(meta, dict) and meta.get("from_feedback_id")
        }
        truth_of_entry = {
            fid: meta or {}
            for fid, meta in session.execute(
                select(Feedback.id, Feedback.meta).where(Feedback.id.in_(origins))
            )
        }
    need: dict[int, str] = {}
    for rid, _, ext, meta in requests:
        if ext is not None:
            need[rid] = f"request:{ext}"
            continue
        origin = truth_of_entry.get(int((meta or {}).get("from_feedback_id") or 0), {})
        if origin.get("truthRequestId"):
            need[rid] = f"request:{origin['truthRequestId']}"
        elif origin.get("truthTopic"):
            need[rid] = f"topic:{origin['truthTopic']}"
    return need, {rid: title for rid, title, _, _ in requests}


def _score(
    candidates: set[frozenset[int]], need: dict[int, str], created: set[int]
) -> dict[str, Any]:
    by_need: dict[str, list[int]] = defaultdict(list)
    for rid, key in need.items():
        by_need[key].append(rid)
    true_pairs = {
        frozenset(p) for members in by_need.values() for p in combinations(sorted(members), 2)
    }
    duplicates = {r for r in created if r in need and len(by_need[need[r]]) > 1}
    right = {p for p in candidates if p in true_pairs}
    linked = {r for p in right for r in p if r in duplicates}
    return {
        "candidates": len(candidates),
        "true_pairs_found": len(right),
        "precision": round(len(right) / len(candidates), 3) if candidates else None,
        "pair_recall": round(len(right) / len(true_pairs), 3) if true_pairs else None,
        "duplicate_requests_linked": f"{len(linked)} of {len(duplicates)}",
        "duplicate_recall": round(len(linked) / len(duplicates), 3) if duplicates else None,
    }


class _CachedEmbedder:
    """The local model, each text embedded once across the finders' runs (every threshold
    embeds the same block of entries; the first run pays, as the CLI would)."""

    def __init__(self) -> None:
        from gtm_feedback_dagster.ai.local_model import LocalEmbedder

        self.inner = LocalEmbedder()
        self.model_id = self.inner.model_id
        self.dim = self.inner.dim
        self.cache: dict[str, Any] = {}
        self.texts = 0

    def embed(self, texts: list[str]) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.texts += len(missing)
            self.cache.update(zip(missing, self.inner.embed(missing), strict=True))
        return np.stack([self.cache[t] for t in texts])


def run(seed: int, cfg: BenchConfig, reuse: bool = False) -> dict[str, Any]:
    from gtm_feedback_dagster.requests.evidence_duplicates import (
        EVIDENCE_THRESHOLD,
        evidence_duplicate_candidates,
    )
    from gtm_feedback_dagster.requests.merge import duplicate_candidates
    from gtm_feedback_dagster.requests.merge_proposals import likely_duplicates
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import Request

    home = cfg.work_dir / f"duplicates-s{seed}"
    db_file = home / "app.db"
    counts_file = home / "routing.json"
    reuse = reuse and db_file.exists() and counts_file.exists()
    if db_file.exists() and not reuse:
        db_file.unlink()
    url = f"sqlite:///{db_file}"
    with offline_env(home, GTM_FEEDBACK_DATABASE_URL=url):
        if reuse:
            counts = json.loads(counts_file.read_text(encoding="utf-8"))
            cfg.say(f"reusing the routed database {db_file}: {counts}")
        else:
            counts = _route_demo(url, seed, cfg.say)
            started = time.perf_counter()
            build_full_graph(url)
            cfg.say(f"built the related-request graph in {time.perf_counter() - started:.1f} s")
            counts_file.write_text(json.dumps(counts), encoding="utf-8")
        need, titles = _truth(url)
        with session_scope(url) as session:
            created = set(
                session.scalars(
                    select(Request.id).where(
                        Request.created_by_routing.is_(True), Request.status == "open"
                    )
                )
            )
            finders: dict[str, set[frozenset[int]]] = {}
            seconds: dict[str, float] = {}
            for t in GRAPH_THRESHOLDS:
                found = duplicate_candidates(session, None, t, 100_000)
                finders[f"title graph >= {t}"] = {
                    frozenset((c.duplicate_id, c.target_id)) for c in found
                }
            embedder = _CachedEmbedder()
            variants: tuple[tuple[str, dict[str, Any]], ...] = (
                ("evidence", {"embedder": embedder}),
                ("evidence without entry vectors", {}),
                ("feedback text only", {"text_weight": 1.0}),
            )
            for label, extra in variants:
                for t in EVIDENCE_THRESHOLDS:
                    started = time.perf_counter()
                    found = evidence_duplicate_candidates(
                        session, None, threshold=t, limit=100_000, **extra
                    )
                    seconds[f"{label} >= {t}"] = round(time.perf_counter() - started, 2)
                    finders[f"{label} >= {t}"] = {
                        frozenset((c.duplicate_id, c.target_id)) for c in found
                    }
            shipped_name = f"shipped: graph >= 0.75 or evidence >= {EVIDENCE_THRESHOLD}"
            finders[shipped_name] = {
                frozenset((c.duplicate_id, c.target_id))
                for c in likely_duplicates(session, None, limit=100_000, embedder=embedder)
            }
            cross = {
                frozenset((c.duplicate_id, c.target_id))
                for c in evidence_duplicate_candidates(
                    session, None, limit=100_000, embedder=embedder
                )
                if "; areas " in c.evidence
            }
            cfg.say(f"embedded {embedder.texts} entries (once, across the finders)")
        results = {name: _score(pairs, need, created) for name, pairs in finders.items()}
        results["shipped evidence pairs across areas"] = _score(cross, need, created)
        shipped = finders[shipped_name]
        missed = sorted(
            (titles[r], titles[o])
            for r in created
            if r in need
            for o, key in need.items()
            if o != r and key == need[r] and frozenset((r, o)) not in shipped and o < r
        )[:10]
    for name, figures in results.items():
        cfg.say(f"{name}: {figures}")
    return {
        "benchmark": "duplicates",
        "seed": seed,
        "routing": counts,
        "open_requests": len(need),
        "created_open_requests": len(created),
        "finders": results,
        "finder_seconds": seconds,
        "missed_examples": missed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse", action="store_true", help="score the last routed database of this seed again"
    )
    args = parser.parse_args()
    cfg = BenchConfig(scale=1, smoke=False, seed=args.seed)
    result = run(args.seed, cfg, reuse=args.reuse)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-duplicates-s{args.seed}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
