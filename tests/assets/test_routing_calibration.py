"""`routing_calibration` materialized against a real app database: the blocking check is the
gate - too few labels warn, contradictory labels are an error, and only a passing refit is
written to `$GTM_FEEDBACK_HOME/calibration/active.json`, which routing then uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import delete

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.assets.routing_calibration import CHECK_NAME, routing_calibration
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.calibration import CalibrationParams
from gtm_feedback_dagster.definitions import defs
from gtm_feedback_dagster.resources.ai import EmbedderResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.routing.confidence import (
    CalibratedScorer,
    active_params_path,
    load_active_params,
)
from gtm_feedback_dagster.routing.engine import RoutingEnv, ensure_request_vectors, route_batch
from gtm_feedback_dagster.runtime import local_index_from_table
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback
from tests.routing.handmade import add_entry
from tests.routing.labelled import CUSTOMERS, NEEDS, attach_all, dispute, reassign, seed_world


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """GTM_FEEDBACK_HOME for the asset and for routing (both read it through config.py)."""
    home = tmp_path / "home"
    monkeypatch.setenv("GTM_FEEDBACK_HOME", str(home))
    for name in ("GTM_FEEDBACK_ATTACH_PRECISION", "GTM_FEEDBACK_AUTO_ATTACH_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    return home


def _run(url: str) -> tuple[dg.ExecuteInProcessResult, dict[str, Any], dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [routing_calibration],
        resources={"store": StoreResource(database_url=url), "embedder": EmbedderResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    (mat,) = result.asset_materializations_for_node("routing_calibration")
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_NAME
    return result, {k: v.value for k, v in mat.metadata.items()}, evaluation


def test_too_few_labels_warn_and_leave_routing_alone(
    sqlite_url: str, home: Path, local_embedder: LocalEmbedder
) -> None:
    world = seed_world(sqlite_url)
    attach_all(world, CUSTOMERS[:2])  # 64 entries: about 13 held out
    result, meta, check = _run(sqlite_url)
    assert result.success  # a warning does not fail the run
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert meta["status"] == "too_few" and meta["promoted"] is False
    assert meta["positives"] == 64 and meta["held_out_attached_entries"] < 20
    assert "too few labels" in check.metadata["reason"].value
    assert not active_params_path(home).exists()
    assert not (active_params_path(home).parent / "candidate.json").exists()
    assert meta["active_version"] == load_active_params(home).version_id
    assert load_active_params(home).source == "shipped"


def _route_one(url: str, home: Path, embedder: LocalEmbedder) -> dict[str, Any]:
    """Routes a fresh entry the way `route_feedback_job` does (a scorer built per run)."""
    entry_id = add_entry(url, "Initech needs to export dashboards to PDF for investors", None)

    def session():  # type: ignore[no-untyped-def]
        return session_scope(url)

    with session() as s:
        index = local_index_from_table(s, embedder.model_id, embedder.dim)
    ensure_request_vectors(session, embedder, index)
    settings = Settings(home=home, database_url=url)
    env = RoutingEnv(settings, session, embedder, index, CalibratedScorer(), None)
    route_batch(env, [entry_id])
    with session() as s:
        entry = s.get(Feedback, entry_id)
        assert entry is not None
        return dict(entry.meta["routing"])


def test_a_passing_refit_becomes_active_and_a_failing_one_changes_nothing(
    sqlite_url: str, home: Path, local_embedder: LocalEmbedder
) -> None:
    world = seed_world(sqlite_url)
    attached = attach_all(world)  # 256 consistent labels
    shipped = load_active_params(home)

    result, meta, check = _run(sqlite_url)
    assert result.success and check.passed, check.metadata["reason"].value
    assert meta["status"] == "passed" and meta["promoted"] is True
    assert meta["attach_count"] >= 20 and meta["attach_precision"] >= 0.95
    path = active_params_path(home)
    assert path.exists()
    active = load_active_params(home)
    assert active.source == "deployment" and active.version_id != shipped.version_id
    assert meta["active_version"] == meta["candidate_version"] == active.version_id
    assert meta["previous_version"] == shipped.version_id
    # Routing picks the new parameters up on its next run and records them on the decision.
    routed = _route_one(sqlite_url, home, local_embedder)
    assert routed["calibration"] == active.version_id
    written = path.read_bytes()

    # People now disagree on a quarter of the entries (declined, then attached there): error,
    # nothing fitted, the accepted refit stays.
    for n, entry_id in enumerate(sorted(attached)):
        if n % 4 == 0:
            dispute(world, entry_id)
    result, meta, check = _run(sqlite_url)
    assert not result.success  # a blocking check failing as an error fails the run
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert meta["status"] == "contradictory" and meta["promoted"] is False
    assert meta["conflicting_labels"] == 64
    assert path.read_bytes() == written
    assert meta["active_version"] == active.version_id

    # Without the disputes, but with every label on the wrong request: fitted, measured on the
    # held-out entries, refused; the candidate is kept for a person to look at.
    with session_scope(sqlite_url) as session:
        session.execute(delete(Approval).where(Approval.status == "rejected"))
    ids = [world.request_ids[t] for t in NEEDS]
    reassign(world, {e: ids[(ids.index(r) + 1) % len(ids)] for e, r in attached.items()})
    result, meta, check = _run(sqlite_url)
    assert not result.success
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert meta["status"] == "below_target"
    assert path.read_bytes() == written
    assert load_active_params(home).version_id == active.version_id
    candidate = CalibrationParams.from_json((path.parent / "candidate.json").read_text())
    assert meta["candidate_version"] == candidate.version_id != active.version_id


def test_the_asset_job_and_weekly_schedule_are_registered() -> None:
    job = defs.resolve_job_def("routing_calibration_job")
    assert job is not None
    schedule = defs.resolve_schedule_def("weekly_routing_calibration_schedule")
    assert schedule.job_name == "routing_calibration_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    spec = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert {d.asset_key.to_user_string() for d in spec["routing_calibration"].deps} == {
        "feedback_entries",
        "feature_requests",
    }
