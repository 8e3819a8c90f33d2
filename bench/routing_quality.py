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
from gtm_feedback_dagster.ai.embedders import Embedder, OpenAIEmbedder
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.config import attach_precision_target
from gtm_feedback_dagster.core.calibration import CalibrationParams, default_params
from gtm_feedback_dagster.core.text import query_text
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
    evaluation = evaluate(
        params, data, found, thresholds or Thresholds(), attach_precision=attach_precision_target()
    )
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


# --------------------------------------------------------------------------- new needs (issue 11)


def new_needs(
    embedder: Embedder,
    seed: int = SMOKE_SEED,
    removed: int = 15,
    others: int = 150,
    member_evidence: bool = True,
    member_attach: bool = False,
    params: CalibrationParams | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """One need, one request: `removed` requests (with >= 3 entries each) are taken out of the
    catalogue and their entries routed, in id order, as one batch together with `others` entries
    of the rest — the way `route_batch` does it: decided against the catalogue as of the batch
    start plus the requests created earlier in the batch. Reports requests created per removed
    need, entries of a removed need attached to an existing (wrong) request, and what the other
    entries did. `member_evidence`: a request created in the batch is also matched through the
    entries already on it (best of its text and their vectors), as the engine does;
    `member_attach`: such a match may auto-attach (else it is asked about, as the engine does —
    entry-to-entry cosine runs higher than entry-to-request, so the calibration over-trusts it)."""
    from dataclasses import replace

    import numpy as np

    from bench.evaluation import retrieve as _retrieve
    from gtm_feedback_dagster.core.text import request_text
    from gtm_feedback_dagster.routing.candidates import RequestInfo, ScoredCandidate
    from gtm_feedback_dagster.routing.confidence import CalibratedScorer
    from gtm_feedback_dagster.routing.decide import decide_calibrated
    from gtm_feedback_dagster.routing.drafting import deterministic_draft

    params = params or default_params()
    thresholds = thresholds or Thresholds()
    scorer = CalibratedScorer(params)
    data = demo_set(seed)
    found = _retrieve(embedder, data)
    entry_vectors = embedder.embed([query_text(t) for t in data.entries])
    rng = np.random.default_rng(0)
    counts = np.bincount(data.truth[data.truth >= 0], minlength=len(data.titles))
    eligible = np.flatnonzero(counts >= 3)
    gone = set(int(i) for i in rng.choice(eligible, removed, replace=False))
    need_rows = [i for i, t in enumerate(data.truth) if int(t) in gone]
    rest = [i for i, t in enumerate(data.truth) if int(t) not in gone]
    batch = sorted(need_rows + [int(i) for i in rng.choice(rest, others, replace=False)])
    keep = np.array([i not in gone for i in range(len(data.titles))])
    infos = {
        i: RequestInfo(i, data.titles[i], data.descriptions[i], f"r{i}", "open", ("a",))
        for i in range(len(data.titles))
    }
    created: list[int] = []  # ids of requests created in the batch (>= len(titles))
    owner: dict[int, int | None] = {}  # created id -> the removed need it was created for
    member_ids: list[int] = []
    member_vecs: list[np.ndarray] = []
    created_vecs: list[np.ndarray] = []
    outcome: dict[int, tuple[str, int | None]] = {}
    for row in batch:
        q = entry_vectors[row]
        sims = found.sims[row].copy()
        sims[~keep] = -1.0
        top = np.argsort(-sims, kind="stable")[:50]
        best = {int(i): float(sims[i]) for i in top}
        for rid, vec in zip(created, created_vecs, strict=True):
            best[rid] = max(best.get(rid, -1.0), float(vec @ q))
        via_member: set[int] = set()
        if member_evidence:
            for rid, vec in zip(member_ids, member_vecs, strict=True):
                score = float(vec @ q)
                if score > best.get(rid, -1.0):
                    best[rid] = score
                    via_member.add(rid)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
        candidates = [ScoredCandidate(infos[i], s) for i, s in ranked]
        decision = decide_calibrated(scorer.assess(data.entries[row], candidates), thresholds)
        if decision.tier == "attach" and decision.request_id in via_member and not member_attach:
            text_best = {int(i): float(sims[i]) for i in top}
            for rid, vec in zip(created, created_vecs, strict=True):
                text_best[rid] = max(text_best.get(rid, -1.0), float(vec @ q))
            ranked = sorted(text_best.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
            alone = decide_calibrated(
                scorer.assess(data.entries[row], [ScoredCandidate(infos[i], s) for i, s in ranked]),
                thresholds,
            )
            if (alone.tier, alone.request_id) != ("attach", decision.request_id):
                decision = replace(decision, tier="ask")
        if decision.tier == "new":
            draft = deterministic_draft(data.entries[row], candidates, ["a"])
            rid = len(data.titles) + len(created)
            infos[rid] = RequestInfo(rid, draft.title, draft.description, f"n{rid}", "open", ("a",))
            created.append(rid)
            created_vecs.append(embedder.embed([request_text(draft.title, draft.description)])[0])
            truth = int(data.truth[row])
            owner[rid] = truth if truth in gone else None
            member_ids.append(rid)
            member_vecs.append(q)
            outcome[row] = ("new", rid)
        else:
            outcome[row] = (decision.tier, decision.request_id)
            if decision.request_id in owner:  # joins (or is proposed to) a batch-created request
                member_ids.append(int(decision.request_id))
                member_vecs.append(q)

    def right(row: int, rid: int | None) -> bool:
        truth = int(data.truth[row])
        if rid is None:
            return False
        if rid < len(data.titles):
            return rid == truth
        return owner.get(rid) == truth and truth in gone

    needs_created = {t: sum(1 for o in owner.values() if o == t) for t in gone}
    need_attach_wrong = sum(
        1 for r in need_rows if outcome[r][0] == "attach" and not right(r, outcome[r][1])
    )
    need_joined = sum(
        1 for r in need_rows if outcome[r][0] in ("attach", "ask") and right(r, outcome[r][1])
    )
    other_rows = [r for r in batch if r not in set(need_rows)]
    other_attach = [r for r in other_rows if outcome[r][0] == "attach"]
    return {
        "seed": seed,
        "removed_needs": removed,
        "need_entries": len(need_rows),
        "other_entries": len(other_rows),
        "member_evidence": member_evidence,
        "member_attach": member_attach,
        "requests_created_for_removed_needs": sum(needs_created.values()),
        "requests_per_need": round(sum(needs_created.values()) / removed, 3),
        "needs_without_a_request": sum(1 for v in needs_created.values() if v == 0),
        "need_entries_joined_their_new_request": need_joined,
        "need_entries_attached_wrong": need_attach_wrong,
        "need_entries_asked": sum(1 for r in need_rows if outcome[r][0] == "ask"),
        "other_attach": len(other_attach),
        "other_attach_precision": round(
            sum(right(r, outcome[r][1]) for r in other_attach) / max(1, len(other_attach)), 4
        ),
        "other_new": sum(1 for r in other_rows if outcome[r][0] == "new"),
        "requests_created": len(created),
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


def measure_real_style(
    embedder: Embedder, episodes: int, params: CalibrationParams | None = None
) -> dict[str, Any]:
    """The real-style test concepts (bench.realstyle: young catalogues, hard negatives, noisy
    texts, ~50% without a request), which neither the fit nor the threshold choice saw."""
    from bench.realstyle import build_split, retrieve_split

    params = params or default_params()
    rs = build_split("test", episodes)
    found = retrieve_split(embedder, rs)
    evaluation = evaluate(
        params, rs.data, found, Thresholds(), attach_precision=attach_precision_target()
    )
    return {
        "model": embedder.model_id,
        "data": rs.describe(),
        "embed_seconds": round(found.embed_seconds, 2),
        **evaluation.as_dict(),
        "_table": format_table(evaluation, f"real-style test split, {episodes} episodes"),
    }


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
    parser.add_argument(
        "--new-needs",
        type=int,
        metavar="K",
        help="one need, one request: remove K requests and route their entries as one batch",
    )
    parser.add_argument(
        "--real-style",
        type=int,
        metavar="EPISODES",
        help="the real-style held-out test split (bench.realstyle), EPISODES x 12 entries",
    )
    args = parser.parse_args(argv)
    if args.real_style:
        result = measure_real_style(LocalEmbedder(), args.real_style)
        if args.json:
            print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}))
        else:
            print(result["_table"])
            print(
                f"attach threshold {result['auto_threshold']:.2f}; ECE p_top "
                f"{result['ece_p_top']:.3f}, p_match {result['ece_p_match']:.3f}; should-be-new "
                f"auto-attached {result['should_be_new_attached']} of {result['should_be_new']}"
            )
        return 0
    if args.new_needs:
        embedder = LocalEmbedder()
        for evidence, attach in ((False, False), (True, True), (True, False)):
            print(json.dumps(new_needs(embedder, args.seed, args.new_needs, 150, evidence, attach)))
        return 0
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
