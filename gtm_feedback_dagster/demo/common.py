"""Small deterministic helpers of the demo generator: ids, weighted picks, timestamps."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000001"
HISTORY_DAYS = 120

# ------------------------------------------------------------------------------------------
# Small deterministic helpers
# ------------------------------------------------------------------------------------------


def make_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_SF_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sfdc_id(rng: random.Random, prefix: str, used: set[str]) -> str:
    """Salesforce-looking 18-character id (001... accounts, 006... opportunities)."""
    while True:
        candidate = prefix + "".join(rng.choices(_SF_ALPHABET, k=18 - len(prefix)))
        if candidate not in used:
            used.add(candidate)
            return candidate


def weighted_choice(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]
