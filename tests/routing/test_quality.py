"""Routing quality floor: `bench.routing_quality --smoke` (150 entries of demo seed 11, real
local model) must stay above these numbers, so a regression in matching or calibration fails.

Measured when written (two models fitted on seed 7, thresholds 0.90/0.80): search top-1 81%,
top-3 90%; attach 62 entries at 95.2%; ask 40.7% of the entries, 91.8% of them had a request;
new 27 entries at 40.7% precision (T2), 64.7% of the no-request entries. With p_top alone the new
tier was ~20% pure: the T2 floor below fails if routing goes back to creating a duplicate request
for every entry whose top candidate is uncertain. The floors leave room for small changes of the
demo generator, not for a broken matcher.
"""

from __future__ import annotations

import json

import pytest

from bench import routing_quality
from gtm_feedback_dagster.ai.local_model import LocalEmbedder


def test_smoke_benchmark_stays_above_the_floor(
    local_embedder: LocalEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert routing_quality.main(["--smoke", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["entries"] == 150 and result["model"] == "local:all-MiniLM-L6-v2"
    tiers = result["tiers"]

    assert result["search_top1"] >= 0.72
    assert result["search_top3"] >= 0.84
    # The calibrated re-ranking must not be worse than cosine alone.
    assert result["search_top1"] >= result["search_top1_cosine_only"]
    assert tiers["attach"]["count"] >= 40  # a useful share is attached without a human...
    assert tiers["attach"]["precision"] >= 0.90  # ...and it is right
    # T2: below the ask threshold mostly really new needs (p_top alone: ~20%)...
    assert tiers["new"]["precision"] >= 0.33
    assert tiers["new"]["recall"] >= 0.50  # ...and most no-request entries still get one
    # The ask tier's promise: the entry very likely belongs to an existing request.
    assert tiers["ask"]["had_a_request"] >= 0.85
    assert result["human_share"] <= 0.50  # the price of fewer duplicates, bounded
