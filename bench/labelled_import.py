"""Day one after moving over from the reference system: does importing a labelled history
improve matching at once?

    .venv/bin/python -m bench.labelled_import              # demo seed 7, half labelled
    .venv/bin/python -m bench.labelled_import --seed 11 --labelled 0.3

The demo data set is imported as `migrate-reference --route` would; then a random share of the
entries that have a true request are put on it as an import that names the request does
(`routed`, match type `manual`). The rest is routed by `route_batch` with the local model in
batches of GTM_FEEDBACK_ROUTE_BATCH_SIZE, twice on fresh copies of the same database:

- **without evidence**: the labelled rows are stored as automatic attachments (`auto`), which
  routing never uses as evidence — the catalogue, the entry counts and everything else equal;
- **with evidence**: the labelled rows are confirmed (`manual`), so routing also matches against
  them (`routing.exemplars`);
- **with evidence + refit**: as above, after the `routing_calibration` refit on those labels
  (routing with the refit only when its held-out gate passed, as the asset would promote it).

Scored against the generator's truth (`metadata.truthRequestId`): attach precision, the share
asked, whether an ask's suggestion is the true request, and how many new requests were created
for an entry whose need already had one. The first two arms use the shipped calibration; the
demo generator wrote this data, so the figures are a hint, not a result on third-party text.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update


def _prepare(path: Path, seed: int, labelled: float) -> list[int]:
    """The imported database at `path`; returns the ids of the entries left to route."""
    from gtm_feedback_dagster.demo.generator import generate_demo_dataset
    from gtm_feedback_dagster.feedback.reference_import import import_reference
    from gtm_feedback_dagster.store import db
    from gtm_feedback_dagster.store.schema import Feedback, Request

    url = f"sqlite:///{path}"
    db.upgrade(url)
    import_reference(url, generate_demo_dataset(seed=seed), route=True)
    rng = random.Random(f"labelled-{seed}-{labelled}")
    with db.session_scope(url) as s:
        by_external = dict(s.execute(select(Request.external_id, Request.id)).all())
        rows = s.execute(select(Feedback.id, Feedback.meta).order_by(Feedback.id)).all()
        rest: list[int] = []
        for fid, meta in rows:
            truth = (meta or {}).get("truthRequestId")
            if truth in by_external and rng.random() < labelled:
                s.execute(
                    update(Feedback)
                    .where(Feedback.id == fid)
                    .values(request_id=by_external[truth], status="routed", match_type="manual")
                )
            else:
                rest.append(int(fid))
    return rest


def _refit_params(url: str) -> tuple[Any, dict[str, Any]]:
    """The `routing_calibration` refit on the database's labels: (params to route with — the
    refit when its gate passed, else the shipped ones — and what the gate said)."""
    from gtm_feedback_dagster.ai.local_model import LocalEmbedder
    from gtm_feedback_dagster.config import attach_precision_target, load_settings
    from gtm_feedback_dagster.core.calibration import default_params
    from gtm_feedback_dagster.routing.labels import collect_labels, score_labels
    from gtm_feedback_dagster.routing.refit import refit
    from gtm_feedback_dagster.store import db

    settings, shipped, embedder = load_settings(), default_params(), LocalEmbedder()
    with db.session_scope(url) as session:
        labels = collect_labels(session)
        examples = score_labels(session, embedder, labels, depth=shipped.rerank_top_k)
    outcome = refit(
        examples,
        labels,
        shipped,
        shipped,
        embedder.model_id,
        target=attach_precision_target(),
        floor=settings.auto_attach_threshold,
        ask=settings.ask_threshold,
    )
    chosen = outcome.candidate if outcome.passed and outcome.candidate else shipped
    return chosen, {"status": outcome.status, "reason": outcome.reason}


def _route(url: str, entry_ids: list[int], params: Any = None) -> float:
    from gtm_feedback_dagster.ai.local_model import LocalEmbedder
    from gtm_feedback_dagster.config import load_settings
    from gtm_feedback_dagster.routing.confidence import CalibratedScorer
    from gtm_feedback_dagster.routing.engine import RoutingEnv, route_batch
    from gtm_feedback_dagster.runtime import local_index_from_table
    from gtm_feedback_dagster.store import db

    settings = load_settings()
    embedder = LocalEmbedder()

    def session_factory():  # type: ignore[no-untyped-def]
        return db.session_scope(url)

    with session_factory() as session:
        index = local_index_from_table(session, embedder.model_id, embedder.dim)
    env = RoutingEnv(settings, session_factory, embedder, index, CalibratedScorer(params))
    started = time.perf_counter()
    size = settings.route_batch_size
    for start in range(0, len(entry_ids), size):
        route_batch(env, entry_ids[start : start + size])
    return time.perf_counter() - started


def _need(meta: dict[str, Any] | None) -> str | None:
    meta = meta or {}
    if meta.get("truthRequestId"):
        return f"request:{meta['truthRequestId']}"
    return f"topic:{meta['truthTopic']}" if meta.get("truthTopic") else None


def _score(url: str, entry_ids: list[int]) -> dict[str, Any]:
    """Each routed entry against its need: a catalogue request is right for its own entries, a
    request routing created is right for entries of the need it was created for."""
    from gtm_feedback_dagster.store import db
    from gtm_feedback_dagster.store.schema import Approval, Feedback, Request

    with db.session_scope(url) as s:
        requests = s.execute(select(Request.id, Request.external_id, Request.meta)).all()
        origins = {
            int(meta["from_feedback_id"]): rid
            for rid, ext, meta in requests
            if ext is None and isinstance(meta, dict) and meta.get("from_feedback_id")
        }
        origin_meta = dict(
            s.execute(select(Feedback.id, Feedback.meta).where(Feedback.id.in_(origins))).all()
        )
        need_of_request = {rid: f"request:{ext}" for rid, ext, _ in requests if ext is not None}
        for fid, rid in origins.items():
            need_of_request[rid] = _need(origin_meta.get(fid)) or f"unknown:{rid}"
        asked = dict(
            s.execute(
                select(Approval.feedback_id, Approval.request_id).where(
                    Approval.feedback_id.in_(entry_ids)
                )
            ).all()
        )
        rows = s.execute(
            select(Feedback.id, Feedback.request_id, Feedback.meta).where(
                Feedback.id.in_(entry_ids)
            )
        ).all()
    counts = {"attach": 0, "attach_right": 0, "ask": 0, "ask_right": 0, "new": 0}
    counts |= {"new_with_request": 0, "through_feedback": 0}
    for fid, request_id, meta in rows:
        routing = (meta or {}).get("routing") or {}
        need = _need(meta)
        tier = routing.get("tier")
        counts["through_feedback"] += int(routing.get("matched_through") == "confirmed feedback")
        if tier == "attach":
            counts["attach"] += 1
            counts["attach_right"] += int(
                need is not None and need_of_request.get(request_id) == need
            )
        elif tier == "ask":
            counts["ask"] += 1
            suggested = asked.get(fid)
            counts["ask_right"] += int(need is not None and need_of_request.get(suggested) == need)
        elif tier == "new":
            counts["new"] += 1
            # Created for a need that already had a request before this entry came.
            counts["new_with_request"] += int(
                bool(meta and meta.get("truthRequestId"))
                and f"request:{meta['truthRequestId']}" in need_of_request.values()
            )
    n = len(entry_ids)
    return {
        **counts,
        "routed": n,
        "attach_precision": round(counts["attach_right"] / max(1, counts["attach"]), 4),
        "human_share": round(counts["ask"] / max(1, n), 4),
        "ask_suggestion_right": round(counts["ask_right"] / max(1, counts["ask"]), 4),
        "new_share_duplicating": round(counts["new_with_request"] / max(1, counts["new"]), 4),
    }


def measure(seed: int, labelled: float, say: Any = print) -> dict[str, Any]:
    from gtm_feedback_dagster.store import db
    from gtm_feedback_dagster.store.schema import Feedback

    work = Path(tempfile.mkdtemp(prefix="gtm-labelled-"))
    try:
        base = work / "base.db"
        rest = _prepare(base, seed, labelled)
        say(f"seed {seed}: {len(rest)} entries to route, {labelled:.0%} of the matched labelled")
        result: dict[str, Any] = {"seed": seed, "labelled_share": labelled}
        arms = (
            ("without evidence", "auto", False),
            ("with evidence", "manual", False),
            ("with evidence + refit on the labels", "manual", True),
        )
        for n, (arm, match_type, refitted) in enumerate(arms):
            path = work / f"arm{n}.db"
            shutil.copy(base, path)
            url = f"sqlite:///{path}"
            with db.session_scope(url) as s:
                s.execute(
                    update(Feedback)
                    .where(Feedback.match_type == "manual")
                    .values(match_type=match_type)
                )
            params, gate = _refit_params(url) if refitted else (None, None)
            seconds = _route(url, rest, params)
            result[arm] = {**_score(url, rest), "seconds": round(seconds, 1)}
            if gate:
                result[arm]["refit"] = gate
            say(f"{arm}: {json.dumps(result[arm])}")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--labelled", type=float, default=0.5)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.seed, args.labelled), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
