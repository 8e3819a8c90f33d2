"""Loopback load on the real intake service (uvicorn in a subprocess): every request answered
2xx is in the database exactly once. CI sends 1,000 requests at 20 in flight; the full run
(`python -m tests.reliability.load --requests 20000 --concurrency 50`, or
GTM_FEEDBACK_FULL_RELIABILITY=1) 20,000 at 50, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.load import run_load
from tests.reliability.report import record
from tests.reliability.scale import FULL, scaled


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not FULL, reason="full run only (CI loads PostgreSQL elsewhere)"
                ),
            ],
        ),
    ],
)
def test_intake_under_load_loses_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_empty_url") if backend == "postgres" else None
    result = run_load(
        requests=scaled(1000, 20_000),
        concurrency=scaled(20, 50),
        max_seconds=scaled(120, 900),
        database_url=url,
        workdir=tmp_path,
    )
    record("load", **result.as_dict())
    assert result.lost == [], result.lost[:5]
    assert result.duplicated == [], result.duplicated[:5]
    assert result.requests == scaled(1000, 20_000), "the run stopped at its time bound"
    # Nothing failed either: no 5xx, no timeout (a 503 would be honest, but none is expected).
    assert result.answered_2xx == result.requests, result.statuses
