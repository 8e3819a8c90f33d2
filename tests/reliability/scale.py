"""How big the reliability runs are: reduced in CI, full with GTM_FEEDBACK_FULL_RELIABILITY=1.

Every random choice comes from a seeded RNG (GTM_FEEDBACK_RELIABILITY_SEED, fixed by default), so
a failing run can be replayed exactly; the seed is printed with each result.
"""

from __future__ import annotations

import os
import random

FULL = os.environ.get("GTM_FEEDBACK_FULL_RELIABILITY", "") not in ("", "0", "false")
SEED = int(os.environ.get("GTM_FEEDBACK_RELIABILITY_SEED", "20261125"))


def scaled(ci: int, full: int) -> int:
    """`ci` in the reduced run, `full` in the full one."""
    return full if FULL else ci


def rng(label: str) -> random.Random:
    """An RNG per test, derived from the run's seed and the test's label (stable across runs,
    independent of test order)."""
    return random.Random(f"{SEED}:{label}")
