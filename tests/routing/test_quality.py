"""Routing quality floor: `bench.routing_quality --smoke` (150 entries of demo seed 11, real
local model) must stay above these numbers, so a regression in matching or calibration fails.

Measured when written (fit on seed 7): search top-1 81%, top-3 90%, attach precision 95% on 41%
of the entries, no-request entries sent to a new request 94%. The floors leave room for small
changes of the demo generator, not for a broken matcher.
"""

from __future__ import annotations

import json

import pytest

from bench import routing_quality
from gtm_feedback_dagster.ai.embedders import LocalEmbedder


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
    assert tiers["new"]["recall"] >= 0.85  # entries with no request get a new one
    assert result["human_share"] <= 0.20
