"""Figures of a reliability run: printed, and appended as JSON lines to the file named by
GTM_FEEDBACK_RELIABILITY_REPORT (how docs/reliability.md's tables were filled)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from tests.reliability.scale import FULL, SEED


def record(section: str, **figures: Any) -> None:
    line = {"section": section, "full": FULL, "seed": SEED, "at": time.time(), **figures}
    text = json.dumps(line, default=str, sort_keys=True)
    print(f"\n[reliability] {text}")
    path = os.environ.get("GTM_FEEDBACK_RELIABILITY_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text + "\n")
