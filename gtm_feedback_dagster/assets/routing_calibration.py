"""`routing_calibration`: the calibrated confidence refitted on the deployment's own labels.

Design (the simplest honest one): the asset collects the labels (`routing.labels`), refits
and measures on held-out entries (`routing.refit`), and promotes the refit itself - writes it
to `$GTM_FEEDBACK_HOME/calibration/active.json`, which routing reads - only when that held-out
gate passed. The blocking check `held_out_attach_precision` reports the very same gate, so a
failing check always means active.json was not touched and the previous parameters stay
active; failing as an error (contradictory labels, below target) also fails the run, so the
run-failure alert reaches the ops channel, while too few labels only warn. Every fitted
candidate is also kept as `calibration/candidate.json` for a person to inspect.

No `from __future__ import annotations` here: Dagster reads the `context` annotation at
definition time and refuses a string.
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from gtm_feedback_dagster.assets.sources import feature_requests, feedback_entries
from gtm_feedback_dagster.config import attach_precision_target
from gtm_feedback_dagster.core.calibration import default_params
from gtm_feedback_dagster.resources.ai import EmbedderResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.routing.confidence import active_params_path, load_active_params
from gtm_feedback_dagster.routing.labels import collect_labels, score_labels
from gtm_feedback_dagster.routing.refit import MIN_HELD_OUT_ATTACHES, RefitOutcome, refit

CHECK_NAME = "held_out_attach_precision"
CANDIDATE_FILE = "candidate.json"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _metadata(outcome: RefitOutcome, active: str) -> dict[str, Any]:
    """The run's figures; a figure that could not be measured (no attaches) is left out."""
    counts = outcome.label_counts
    meta: dict[str, Any] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "promoted": outcome.passed,
        "active_version": active,
        "previous_version": outcome.previous.version_id,
        "candidate_version": outcome.candidate.version_id if outcome.candidate else "-",
        "positives": counts.get("positives", 0),
        "negatives": counts.get("negatives", 0),
        "conflicting_labels": counts.get("conflicts", 0),
        "held_out_attached_entries": counts.get("test_attached", 0),
        "label_counts": dg.MetadataValue.json(counts),
    }
    if outcome.test:
        meta["attach_threshold"] = outcome.test["attach_threshold"]
        meta["ece_p_top"] = outcome.test["ece_p_top"]
        for tier in ("attach", "ask"):
            figures = outcome.test["tiers"][tier]
            meta[f"{tier}_count"] = figures["count"]
            meta[f"{tier}_precision"] = figures["precision"]
            meta[f"{tier}_recall"] = figures["recall"]
        meta["held_out"] = dg.MetadataValue.json(outcome.test)
        meta["previous_on_held_out"] = dg.MetadataValue.json(outcome.before)
    return {key: value for key, value in meta.items() if value is not None}


@dg.asset(
    deps=[feedback_entries, feature_requests],
    group_name="routing",
    owners=["team:gtm-feedback"],
    kinds={"python", "sql"},
    description=(
        "The calibrated match confidence refitted on this deployment's own labels: entries a "
        "person attached (approved, triage, manual re-assignment, imports that name their "
        "request) and declined suggestions ('Not a match'), with the shipped parameters as the "
        "prior. Held out by entry id (60% fit / 20% attach curve / 20% measured). Written to "
        "$GTM_FEEDBACK_HOME/calibration/active.json - which routing uses and records on every "
        "decision - only when held-out attach precision reaches GTM_FEEDBACK_ATTACH_PRECISION "
        f"over at least {MIN_HELD_OUT_ATTACHES} attaches; otherwise the previous parameters "
        "stay and the metadata says why."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="routing_calibration",
            blocking=True,
            description=(
                "The refit's attach precision on held-out labels reaches the target "
                "(GTM_FEEDBACK_ATTACH_PRECISION, default 0.95) over at least "
                f"{MIN_HELD_OUT_ATTACHES} attaches. Fails (error) when the labels contradict "
                "each other or the features; fails as a warning while there are too few "
                "labels. Only a passing refit is written to active.json."
            ),
        )
    ],
)
def routing_calibration(
    context: dg.AssetExecutionContext, store: StoreResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    home = store.settings.home
    shipped = default_params()
    previous = load_active_params(home)
    target = attach_precision_target()
    model = embedder.get()
    with store.session() as session:
        labels = collect_labels(session)
        examples = score_labels(session, model, labels, depth=shipped.rerank_top_k)
    outcome = refit(
        examples,
        labels,
        shipped,
        previous,
        model.model_id,
        target=target,
        floor=store.settings.auto_attach_threshold,
        ask=store.settings.ask_threshold,
    )
    calibration_dir = active_params_path(home).parent
    if outcome.candidate is not None:
        _write_atomically(calibration_dir / CANDIDATE_FILE, outcome.candidate.to_json())
    if outcome.passed and outcome.candidate is not None:
        _write_atomically(active_params_path(home), outcome.candidate.to_json())
    active = load_active_params(home).version_id
    context.log.info(outcome.reason)
    check = dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=outcome.passed,
        severity=(
            dg.AssetCheckSeverity.WARN
            if outcome.status == "too_few"
            else dg.AssetCheckSeverity.ERROR
        ),
        metadata={
            key: value
            for key, value in {
                "status": outcome.status,
                "reason": outcome.reason,
                "target": target,
                "attach_precision": outcome.attach_precision,
                "held_out_attaches": outcome.test.get("tiers", {}).get("attach", {}).get("count"),
                "active_version": active,
            }.items()
            if value is not None
        },
    )
    return dg.MaterializeResult(metadata=_metadata(outcome, active), check_results=[check])
