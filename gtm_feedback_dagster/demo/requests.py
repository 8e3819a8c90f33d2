"""Feature requests of the demo data: one per concept, plus variants at scale > 1."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.demo import vocab
from gtm_feedback_dagster.demo.common import HISTORY_DAYS, SYSTEM_USER_ID, make_uuid
from gtm_feedback_dagster.demo.concepts import Concept, request_concepts

STATUS_SHARES = {"shipped": 0.12, "deprioritized": 0.08}  # the rest stays "open"

# A request may belong to a second area; these pairs are the plausible overlaps.
RELATED_AREAS: dict[str, list[str]] = {
    "dashboards": ["reporting", "performance", "ai-insights"],
    "data-ingestion": ["integrations", "performance", "transformations"],
    "transformations": ["data-ingestion", "dashboards"],
    "integrations": ["data-ingestion", "reporting", "access-management"],
    "reporting": ["dashboards", "integrations"],
    "access-management": ["integrations", "reporting"],
    "performance": ["dashboards", "data-ingestion"],
    "ai-insights": ["dashboards", "integrations"],
}

# ------------------------------------------------------------------------------------------
# Requests (concepts x variants)
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DemoRequest:
    id: str
    concept: Concept
    variants: tuple[tuple[str, str], ...]  # (kind, value)
    title: str
    description: str
    area_ids: list[str]
    created_ts: float
    weight: float
    slug: str
    status: str = "open"
    creator: str = SYSTEM_USER_ID
    followers: list[str] = field(default_factory=list)


def _variant_sequence(
    rng: random.Random, concept: Concept, needed: int
) -> list[tuple[tuple[str, str], ...]]:
    """``needed`` distinct variant combinations for one concept: singles first, then pairs."""
    assert concept.area is not None
    excluded = vocab.VARIANT_EXCLUSIONS.get(concept.title, [])
    singles = [
        ((kind, value),)
        for kind in vocab.AREA_VARIANT_KINDS[concept.area]
        if kind not in excluded
        for value in vocab.VARIANT_KINDS[kind]["values"]  # type: ignore[union-attr]
    ]
    rng.shuffle(singles)
    out: list[tuple[tuple[str, str], ...]] = singles[:needed]
    seen = set(out)
    attempts = 0
    while len(out) < needed:
        (a,), (b,) = rng.sample(singles, 2)
        attempts += 1
        if a[0] == b[0]:
            continue  # "on Snowflake, on BigQuery" would be a contradiction
        pair = tuple(sorted((a, b)))
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
        if attempts > needed * 200:
            raise RuntimeError(f"cannot derive {needed} variants for {concept.title!r}")
    return out


def _variant_label(kind: str, value: str) -> str:
    return str(vocab.VARIANT_KINDS[kind]["label"]).format(x=value)


def _variant_desc(kind: str, value: str) -> str:
    return str(vocab.VARIANT_KINDS[kind]["desc"]).format(x=value)


def make_requests(rng: random.Random, scale: int, now_ts: float) -> list[DemoRequest]:
    requests: list[DemoRequest] = []
    used_slugs: set[str] = set()
    start_ts = now_ts - HISTORY_DAYS * 86400
    for concept in request_concepts():
        assert concept.area is not None
        combos: list[tuple[tuple[str, str], ...]] = [()]
        if scale > 1:
            combos += _variant_sequence(rng, concept, scale - 1)
        # Some needs are simply more common than others: a heavy-tailed popularity per concept.
        popularity = math.exp(rng.gauss(0, 1.0))
        for combo in combos:
            title = concept.title
            description = concept.description
            if combo:
                title += " - " + ", ".join(_variant_label(k, v) for k, v in combo)
                description += " " + " ".join(_variant_desc(k, v) for k, v in combo)
            area_ids = [concept.area]
            if rng.random() < 0.2:
                area_ids.append(rng.choice(RELATED_AREAS[concept.area]))
            slug = slugify(title, max_len=None)
            while slug in used_slugs:  # titles are unique; this only guards slugify collisions
                slug += "-x"
            used_slugs.add(slug)
            requests.append(
                DemoRequest(
                    id=make_uuid(rng),
                    concept=concept,
                    variants=combo,
                    title=title,
                    description=description,
                    area_ids=area_ids,
                    created_ts=rng.uniform(start_ts, now_ts - 6 * 3600),
                    # Variants are narrower than the base need, so each draws less feedback.
                    weight=popularity * (1.0 if not combo else rng.uniform(0.2, 0.8)),
                    slug=slug,
                )
            )
    return requests


def assign_statuses(rng: random.Random, requests: list[DemoRequest], now_ts: float) -> None:
    # Shipped work takes time: only requests older than 30 days can be shipped.
    old = [r for r in requests if r.created_ts < now_ts - 30 * 86400]
    n_shipped = min(len(old), round(STATUS_SHARES["shipped"] * len(requests)))
    for r in rng.sample(old, n_shipped):
        r.status = "shipped"
    remaining = [r for r in requests if r.status == "open"]
    n_depri = min(len(remaining), round(STATUS_SHARES["deprioritized"] * len(requests)))
    for r in rng.sample(remaining, n_depri):
        r.status = "deprioritized"
