"""Duplicate detection measured on the demo generator's truth.

    .venv/bin/python -m bench.duplicates              # seed 7, the demo's 3,000 entries
    .venv/bin/python -m bench.duplicates --seed 11

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

The finders were not fitted on this: the title graph's 0.75 and the feedback-text 0.35 are the
shipped defaults; the other thresholds are shown to state the trade-off.
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
EVIDENCE_THRESHOLDS = (0.25, 0.30, 0.35, 0.45)


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


def run(seed: int, cfg: BenchConfig) -> dict[str, Any]:
    from gtm_feedback_dagster.requests.evidence_duplicates import evidence_duplicate_candidates
    from gtm_feedback_dagster.requests.merge import duplicate_candidates
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import Request

    home = cfg.work_dir / f"duplicates-s{seed}"
    db_file = home / "app.db"
    if db_file.exists():
        db_file.unlink()
    url = f"sqlite:///{db_file}"
    with offline_env(home, GTM_FEEDBACK_DATABASE_URL=url):
        counts = _route_demo(url, seed, cfg.say)
        started = time.perf_counter()
        build_full_graph(url)
        cfg.say(f"built the related-request graph in {time.perf_counter() - started:.1f} s")
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
            for t in GRAPH_THRESHOLDS:
                found = duplicate_candidates(session, None, t, 100_000)
                finders[f"title graph >= {t}"] = {
                    frozenset((c.duplicate_id, c.target_id)) for c in found
                }
            for t in EVIDENCE_THRESHOLDS:
                found = evidence_duplicate_candidates(session, None, threshold=t, limit=100_000)
                finders[f"feedback text >= {t}"] = {
                    frozenset((c.duplicate_id, c.target_id)) for c in found
                }
        finders["shipped: graph >= 0.75 or text >= 0.35"] = (
            finders["title graph >= 0.75"] | finders["feedback text >= 0.35"]
        )
        results = {name: _score(pairs, need, created) for name, pairs in finders.items()}
        shipped = finders["shipped: graph >= 0.75 or text >= 0.35"]
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
        "missed_examples": missed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cfg = BenchConfig(scale=1, smoke=False, seed=args.seed)
    result = run(args.seed, cfg)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-duplicates-s{args.seed}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
