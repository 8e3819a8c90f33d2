"""The benchmark suite still runs: `python -m bench.run --smoke` in-process, at tiny sizes (the
figures themselves are for docs/benchmarks.md, not asserted here), plus the checks the
benchmarks rely on to call two results identical."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from bench.graph import compare_neighbours, faiss_knn
from bench.run import BENCHMARKS, main, parse_only
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.core.request_graph import knn_edges
from gtm_feedback_dagster.definitions import defs


@pytest.mark.model
def test_smoke_run_measures_every_benchmark(tmp_path: Path, local_embedder: LocalEmbedder) -> None:
    out = tmp_path / "results"
    code = main(["--smoke", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert code == 0
    (path,) = out.glob("*.json")
    results = json.loads(path.read_text())
    assert results["mode"] == "smoke"
    assert results["machine"]["cores"] >= 1
    bench = results["benchmarks"]
    assert list(bench) == list(BENCHMARKS)

    routing = bench["routing"]
    assert routing["entries"] == 20
    (run,) = routing["runs"]
    assert run["runs"] >= 2 and run["ticks"] >= 2  # several batches through sensor and job
    assert sum(run["tiers"].values()) == 20
    assert routing["ratio"]["median"] > 0

    graph = bench["graph"]
    assert graph["knn"]["identical"] and graph["knn"]["edges"] > 0
    assert graph["knn"]["wide_block"]["identical"]
    assert graph["stored_graph_identical"] and graph["stored_rows_bit_equal"]
    assert graph["changed_per_update"] >= 1

    reports = bench["reports"]
    assert reports["areas"] == 2
    assert reports["rows_loaded"]["feedback"] == reports["plain_sql_rows"] > 0

    sensors = bench["sensors"]["sensors"]
    data_sensors = {s.name for s in defs.sensors if not isinstance(s, dg.RunStatusSensorDefinition)}
    assert set(sensors) == data_sensors
    # merge_proposal_sensor reads only Dagster's event log (graph materializations): no app SQL.
    event_log_only = {"merge_proposal_sensor"}
    for name, sensor in sensors.items():
        assert len(sensor["tick_seconds"]["runs"]) == 3, name
        if name in event_log_only:
            assert sensor["statements"] == 0, name
        else:
            assert sensor["plans"], f"{name} sent no SQL that could be explained"
    assert sensors["new_feedback_sensor"]["outcomes"][0].endswith("run request(s)")
    indexed = sensors["firehose_sensor"]["with_proposed_indexes"]
    assert not any(p["full_scans"] for p in indexed["plans"])

    memory = bench["memory"]["jobs"]["deliver_outbox_job"]
    assert memory["success"]
    assert memory["peak_rss_mib"] >= memory["baseline_rss_mib"] > 50
    assert bench["memory"]["slack_standin_calls"]["chat.postMessage"] == 50

    intake = bench["intake"]
    assert intake["all_accepted_stored"]
    assert intake["accepted"] == [{"slack": 10, "api": 10}] == intake["stored"]


def test_neighbour_comparison_notices_a_wrong_neighbour() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((40, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = list(range(100, 140))
    scores, positions = faiss_knn(matrix, 3)
    edges = knn_edges(ids, matrix, ids, matrix, k=3, min_similarity=-1.0)
    same = compare_neighbours(ids, scores, positions, edges, 3, -1.0)
    assert same == {"queries": 40, "differing_queries": 0, "tie_only_queries": 0}

    wrong = edges[0].__class__(
        edges[0].request_id, 139 if edges[0].related_id != 139 else 138, 0.0, 1
    )
    changed = compare_neighbours(ids, scores, positions, [wrong, *edges[1:]], 3, -1.0)
    assert changed["differing_queries"] == 1


def test_only_accepts_known_benchmarks() -> None:
    assert parse_only("graph, intake") == ["graph", "intake"]
    assert parse_only(None) == list(BENCHMARKS)
    assert "cli" not in BENCHMARKS and parse_only("cli") == ["cli"]  # only when named
    with pytest.raises(argparse.ArgumentTypeError, match="unknown benchmark"):
        parse_only("graph,speed")
