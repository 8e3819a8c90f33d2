"""Run keys for the Slack sensors: stable for the same work, new when the work changes.

A key is derived from what a run would do (ids and their attempt counts) plus a coarse time
bucket. Within a bucket, a tick that sees the same work again (the run is still queued) is
deduplicated by Dagster; a run that died before touching its rows is relaunched in the next
bucket. The per-row claims make a second run harmless either way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def digest(items: Iterable[Any]) -> str:
    return hashlib.sha1(json.dumps(list(items), default=str).encode()).hexdigest()[:16]


def time_bucket(now: datetime, minutes: int) -> str:
    return str(int(now.timestamp()) // (minutes * 60))


def run_key(prefix: str, items: Sequence[Any], now: datetime, bucket_minutes: int = 10) -> str:
    return f"{prefix}:{len(items)}:{digest(items)}:{time_bucket(now, bucket_minutes)}"


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
