"""Deterministic demo data in the shape of the reference system's seed export.

``generate_demo_dataset(seed, scale, now)`` returns::

    {"users", "areas", "sfdcAccounts", "sfdcOpportunities", "requests", "feedback"}

with the field names the ``migrate-reference`` importer reads (camelCase, ids as strings).

The point of this data is to *measure* semantic matching, so the text matters more than the
numbers: every request is a distinct, hand-written concept (``demo_vocab``), and every feedback
entry is composed from that concept's customer-facing pains and asks plus sales context, so two
entries for one request rarely share a sentence and almost never repeat the request title.
About 10% of the entries describe needs that have no request at all (hard negatives from their
own concept pool) and carry ``requestId: null``.

Ground truth rides along in ``feedback[].metadata``: ``truthRequestId`` (same as ``requestId``)
and ``truthTopic`` (the concept key, plus ``|kind=value`` for variant requests, or
``nomatch:<key>`` for entries without a request - entries sharing a no-match topic describe the
same missing need, which is what a "create new request" path should cluster together).

Everything is driven by one ``random.Random(seed)``; with the same (seed, scale, now) the output
is identical. ``now`` defaults to a fixed date so that the output is reproducible by default.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any, ClassVar

from gtm_feedback_dagster.demo import vocab

SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000001"
DEFAULT_NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)

# Sizes at scale=1. Requests are one per hand-written concept (~290), so scale N gives N x that.
BASE_ENTRIES = 3000
BASE_ACCOUNTS = 100
BASE_OPPORTUNITIES = 250
NO_MATCH_SHARE = 0.10
HISTORY_DAYS = 120

STATUS_SHARES = {"shipped": 0.12, "deprioritized": 0.08}  # the rest stays "open"
SEVERITY_WEIGHTS = {"low": 35, "medium": 40, "high": 25}

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

# Pains starting with these verbs express a wish rather than a complaint.
_WISH_VERBS = frozenset(["want", "need", "would"])
# Pains starting with these verbs are past tense and only fit the tense-neutral frames.
_PAST_VERBS = frozenset(
    [
        "had",
        "lost",
        "got",
        "broke",
        "were",
        "ran",
        "waited",
        "moved",
        "spent",
        "built",
        "found",
        "missed",
        "discovered",
        "sent",
    ]
)


# ------------------------------------------------------------------------------------------
# Vocabulary parsing
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Concept:
    """One distinct customer need: a request concept, or a need that has no request."""

    key: str
    area: str | None
    theme: str
    title: str
    description: str
    pains: tuple[str, ...]
    asks: tuple[str, ...]


def slugify(text: str) -> str:
    """URL slug like the reference: lowercase words joined by dashes ("A & B" -> "a-b")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def parse_concepts(text: str, area: str | None) -> list[Concept]:
    """Parse the line format documented in ``demo_vocab``."""
    concepts: list[Concept] = []
    theme = "General"
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is None:
            return
        if not current.get("P") or not current.get("A"):
            raise ValueError(f"concept {current['T']!r} needs pains and asks")
        concepts.append(
            Concept(
                key=slugify(current["T"]),
                area=area,
                theme=current["theme"],
                title=current["T"],
                description=current.get("D", ""),
                pains=_split(current["P"]),
                asks=_split(current["A"]),
            )
        )

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            theme = line.lstrip("#").strip()
            continue
        tag, _, value = line.partition(" ")
        if tag == "T":
            flush()
            current = {"T": value.strip(), "theme": theme}
        elif tag in ("D", "P", "A") and current is not None:
            current[tag] = value.strip()
        else:
            raise ValueError(f"unparseable vocabulary line: {raw!r}")
    flush()
    return concepts


@cache
def request_concepts() -> tuple[Concept, ...]:
    """All hand-written request concepts, area by area (titles and keys are unique)."""
    out: list[Concept] = []
    for area in vocab.AREAS:
        out.extend(parse_concepts(vocab.REQUEST_CONCEPTS[area["id"]], area["id"]))
    _check_unique(out)
    return tuple(out)


@cache
def nomatch_concepts() -> tuple[Concept, ...]:
    """Needs that deliberately have no request in the dataset."""
    out = parse_concepts(vocab.NOMATCH_CONCEPTS, None)
    _check_unique(out + list(request_concepts()))
    return tuple(out)


def _check_unique(concepts: Sequence[Concept]) -> None:
    seen: set[str] = set()
    for c in concepts:
        if c.key in seen:
            raise ValueError(f"duplicate concept {c.title!r}")
        seen.add(c.key)


# ------------------------------------------------------------------------------------------
# Small deterministic helpers
# ------------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_SF_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _sfdc_id(rng: random.Random, prefix: str, used: set[str]) -> str:
    """Salesforce-looking 18-character id (001... accounts, 006... opportunities)."""
    while True:
        candidate = prefix + "".join(rng.choices(_SF_ALPHABET, k=18 - len(prefix)))
        if candidate not in used:
            used.add(candidate)
            return candidate


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# ------------------------------------------------------------------------------------------
# Users, areas, accounts, opportunities
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Account:
    row: dict[str, Any]
    short: str  # how a rep refers to the company in notes ("Northwind")
    weight: float
    opp_ids: list[str] = field(default_factory=list)
    open_opp_ids: list[str] = field(default_factory=list)


def _make_users(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    users: list[dict[str, Any]] = [
        {
            "id": SYSTEM_USER_ID,
            "name": "System User",
            "email": "system@example.com",
            "isAdmin": True,
        }
    ]
    by_region: dict[str, list[str]] = {region: [] for region in vocab.REGION_WEIGHTS}
    for index, (name, _role, regions) in enumerate(vocab.DEMO_PEOPLE):
        user_id = _uuid(rng)
        local = re.sub(r"[^a-z.]", "", name.lower().replace(" ", "."))
        # One rep is an admin too, like the reference seed (admins gate area management).
        users.append(
            {"id": user_id, "name": name, "email": f"{local}@example.com", "isAdmin": index == 0}
        )
        for region in regions:
            by_region[region].append(user_id)
    return users, by_region


def _make_areas() -> list[dict[str, Any]]:
    return [
        {
            "id": area["id"],
            "name": area["name"],
            "slug": area["id"],
            "description": area["description"],
            "firehoseChannel": f"firehose-{area['id']}",
        }
        for area in vocab.AREAS
    ]


def _segment_arr(rng: random.Random, segment: str) -> float:
    """Log-normal ARR inside the segment's band: ~$10k (SMB) to ~$1.5M (Enterprise)."""
    median, low, high = {
        "Enterprise": (420_000, 200_000, 1_500_000),
        "Mid-Market": (95_000, 50_000, 199_000),
        "SMB": (24_000, 10_000, 49_000),
    }[segment]
    value = median * math.exp(rng.gauss(0, 0.55))
    return float(round(min(max(value, low), high), -2))


def _make_accounts(rng: random.Random, count: int) -> list[_Account]:
    used_names: set[str] = set()
    used_ids: set[str] = set()
    accounts: list[_Account] = []
    while len(accounts) < count:
        industry = _weighted(rng, vocab.INDUSTRY_WEIGHTS)
        prefix = rng.choice(vocab.COMPANY_PREFIXES)
        name = f"{prefix} {rng.choice(vocab.INDUSTRY_SUFFIXES[industry])}"
        if name in used_names:
            continue  # the name space (~150 x 60) is far larger than 1,000 accounts
        used_names.add(name)
        segment = _weighted(rng, {"Enterprise": 30, "Mid-Market": 40, "SMB": 30})
        region = _weighted(rng, vocab.REGION_WEIGHTS)
        is_customer = rng.random() < 0.78
        # Prospects have no recurring revenue yet; their potential lives on opportunities.
        arr = _segment_arr(rng, segment) if is_customer else 0.0
        row = {
            "id": _sfdc_id(rng, "001", used_ids),
            "name": name,
            "type": "Customer" if is_customer else "Prospect",
            "regionName": region,
            "arr": arr,
            "isEnterprise": segment == "Enterprise",
            "website": f"https://{slugify(name)}.example.com",
            "industry": industry,
            "territory": rng.choice(vocab.TERRITORIES[region]),
            "segment": segment,
            "subSegment": rng.choice(vocab.SUB_SEGMENTS[segment]),
        }
        # Bigger accounts talk to us more, so they produce more feedback.
        weight = {"Enterprise": 3.0, "Mid-Market": 2.0, "SMB": 1.0}[segment]
        accounts.append(_Account(row=row, short=prefix, weight=weight))
    return accounts


_CUSTOMER_OPP_KINDS = [
    "Expansion",
    "Add-on Seats",
    "Upsell - AI Insights",
    "Upsell - Embedded Analytics",
    "Upsell - Enterprise Security",
    "Multi-year Renewal",
]
_PROSPECT_OPP_KINDS = ["Pilot", "Platform Evaluation", "New Business - Phase 2"]


def _make_opportunities(
    rng: random.Random, accounts: list[_Account], count: int, now: datetime
) -> list[dict[str, Any]]:
    used_ids: set[str] = set()
    opps: list[dict[str, Any]] = []
    # Every account gets its main opportunity (renewal or new business); the rest go to bigger
    # accounts more often, as expansions or follow-on deals.
    plan = [(acct, True) for acct in accounts]
    extra = max(0, count - len(accounts))
    picks = rng.choices(accounts, weights=[a.weight for a in accounts], k=extra)
    plan.extend((acct, False) for acct in picks)
    for acct, is_main in plan:
        row = acct.row
        customer = row["type"] == "Customer"
        close = now + timedelta(days=rng.uniform(-150, 180))
        if customer:
            kind = "Renewal" if is_main else rng.choice(_CUSTOMER_OPP_KINDS)
            base = row["arr"]
            arr = (
                base if kind in ("Renewal", "Multi-year Renewal") else base * rng.uniform(0.05, 0.5)
            )
        else:
            kind = "New Business" if is_main else rng.choice(_PROSPECT_OPP_KINDS)
            arr = _segment_arr(rng, row["segment"]) * rng.uniform(0.6, 1.2)
            if close < now and rng.random() < 0.5:
                close = now + timedelta(days=rng.uniform(10, 180))  # still being worked
        if close < now:
            won = customer and rng.random() < 0.75
            stage = "Closed Won" if won else "Closed Lost"
        else:
            days_left = (close - now).days
            stage = rng.choices(
                ["Discovery", "Proposal", "Negotiation"],
                weights=[3, 2, 1] if days_left > 60 else [1, 2, 3],
            )[0]
        fiscal_year = (close.year + (1 if close.month >= 2 else 0)) % 100
        opp_id = _sfdc_id(rng, "006", used_ids)
        opps.append(
            {
                "id": opp_id,
                "accountId": row["id"],
                "name": f"{row['name']} - {kind} FY{fiscal_year:02d}",
                "arr": float(round(arr, -2)),
                "stage": stage,
                "closeDate": close.strftime("%Y-%m-%d"),
            }
        )
        acct.opp_ids.append(opp_id)
        if not stage.startswith("Closed"):
            acct.open_opp_ids.append(opp_id)
    return opps


# ------------------------------------------------------------------------------------------
# Requests (concepts x variants)
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Request:
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


def _make_requests(rng: random.Random, scale: int, now_ts: float) -> list[_Request]:
    requests: list[_Request] = []
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
            slug = slugify(title)
            while slug in used_slugs:  # titles are unique; this only guards slugify collisions
                slug += "-x"
            used_slugs.add(slug)
            requests.append(
                _Request(
                    id=_uuid(rng),
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


def _assign_statuses(rng: random.Random, requests: list[_Request], now_ts: float) -> None:
    # Shipped work takes time: only requests older than 30 days can be shipped.
    old = [r for r in requests if r.created_ts < now_ts - 30 * 86400]
    n_shipped = min(len(old), round(STATUS_SHARES["shipped"] * len(requests)))
    for r in rng.sample(old, n_shipped):
        r.status = "shipped"
    remaining = [r for r in requests if r.status == "open"]
    n_depri = min(len(remaining), round(STATUS_SHARES["deprioritized"] * len(requests)))
    for r in rng.sample(remaining, n_depri):
        r.status = "deprioritized"


# ------------------------------------------------------------------------------------------
# Feedback text
# ------------------------------------------------------------------------------------------


class _Slots(dict):  # type: ignore[type-arg]
    """Lazily invented values for context placeholders ({comp}, {n}, {role}, ...)."""

    def __init__(self, rng: random.Random, acct: str) -> None:
        super().__init__(acct=acct)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng = self.rng
        if key == "comp":
            value = rng.choice(vocab.COMPETITORS)
        elif key == "role":
            value = rng.choice(vocab.ROLES)
        elif key == "n":
            value = str(rng.choice([25, 40, 60, 80, 120, 150, 200, 300, 450, 800, 1200]))
        elif key == "team":
            value = str(rng.choice([20, 50, 75, 100, 250, 400]))
        elif key == "months":
            value = str(rng.randint(2, 9))
        elif key == "k":
            value = str(rng.choice([30, 45, 60, 80, 120, 150, 200, 250, 400]))
        elif key == "few":
            value = str(rng.randint(2, 3))
        elif key == "more":
            value = str(rng.randint(4, 6))
        else:
            raise KeyError(key)
        self[key] = value
        return value


def _fill(template: str, slots: _Slots) -> str:
    return template.format_map(slots) if "{" in template else template


class FeedbackWriter:
    """Composes the free text a salesperson would type after hearing a need.

    Entries are assembled from a concept's pains and asks wrapped in varied frames, a subject
    (they / a persona / folks at the account), optional opener by source, variant mentions,
    workaround, business context and severity wording - so the same request yields many
    different sentences and the request title is (almost) never quoted.

    The probabilities below were tuned against all-MiniLM-L6-v2 so that nearest-request
    matching lands in a realistic band (roughly 70-90% top-1): pains alone are too indirect to
    match reliably, asks alone are too easy, and generic deal context dilutes everything.
    """

    TERSE_SHARE = 0.14  # one-liners
    LONG_SHARE = 0.30  # 3-6 sentences with opener, context, severity
    P_ASK: ClassVar[dict[str, float]] = {"terse": 0.8, "normal": 0.85, "long": 0.92}
    P_OPENER: ClassVar[dict[str, float]] = {"normal": 0.35, "long": 0.55}
    P_CONTEXT: ClassVar[dict[str, float]] = {"normal": 0.35, "long": 0.6, "long_second": 0.15}

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._frames_any = vocab.PAIN_FRAMES_ANY
        self._frames_present = vocab.PAIN_FRAMES_ANY + vocab.PAIN_FRAMES_PRESENT
        self._frames_wish = vocab.PAIN_FRAMES_WISH

    # -- pieces --------------------------------------------------------------------------
    def _subject(self, personas: Sequence[str], acct: str) -> str:
        r = self.rng.random()
        if r < 0.55:
            return "they"
        if r < 0.9:
            return self.rng.choice(personas)
        return f"folks at {acct}"

    def _pain(self, pain: str, personas: Sequence[str], acct: str) -> str:
        first = pain.split(" ", 1)[0]
        if first in _WISH_VERBS:  # "want ...", "need ...": a wish, not a complaint
            frames = self._frames_wish
        elif first in _PAST_VERBS:  # "had two outages ...": no "Right now they had"
            frames = self._frames_any
        else:
            frames = self._frames_present
        subject = self._subject(personas, acct)
        return self.rng.choice(frames).format(S=_cap(subject), s=subject, p=pain)

    def _ask(self, ask: str) -> str:
        return self.rng.choice(vocab.ASK_FRAMES).format(a=ask, A=_cap(ask))

    def _mention(self, kind: str, value: str) -> str:
        mentions: list[str] = vocab.VARIANT_KINDS[kind]["mentions"]  # type: ignore[assignment]
        return self.rng.choice(mentions).format(x=value)

    # -- assembly ------------------------------------------------------------------------
    def write(
        self,
        concept: Concept,
        variants: Sequence[tuple[str, str]],
        acct: str,
        severity: str,
        source: str,
    ) -> str:
        rng = self.rng
        slots = _Slots(rng, acct)
        personas = vocab.AREA_PERSONAS[concept.area or "_nomatch"]
        pains = list(concept.pains)
        rng.shuffle(pains)
        mode = rng.random()
        opener: str | None = None
        body: list[str] = []

        if mode < self.TERSE_SHARE:
            if rng.random() < self.P_ASK["terse"]:
                body.append(self._terse(concept, slots))
            else:
                subject = self._subject(personas, acct)
                body.append(f"{_cap(subject)} {pains[0]}.")
            if severity == "high" and rng.random() < 0.5:
                body.append(rng.choice(["Blocker.", "Dealbreaker for them.", "Renewal risk."]))
        else:
            form = "long" if mode >= 1 - self.LONG_SHARE else "normal"
            if rng.random() < self.P_OPENER[form]:
                opener = _fill(rng.choice(vocab.SOURCE_OPENERS[source]), slots)
            body.append(self._pain(pains[0], personas, acct))
            if rng.random() < self.P_ASK[form]:
                ask = self._ask(rng.choice(concept.asks))
                body.insert(0 if rng.random() < 0.25 else len(body), ask)
            elif rng.random() < 0.3:
                body.append(self._pain(pains[1], personas, acct))
            if form == "long":
                if rng.random() < 0.45:
                    body.append(self._pain(pains[-1], personas, acct))
                if rng.random() < 0.2:
                    workaround = rng.choice(vocab.GENERIC_WORKAROUNDS)
                    body.append(rng.choice(vocab.WORKAROUND_FRAMES).format(w=workaround))
                n_context = int(rng.random() < self.P_CONTEXT["long"]) + int(
                    rng.random() < self.P_CONTEXT["long_second"]
                )
            else:
                n_context = int(rng.random() < self.P_CONTEXT["normal"])
            for template in rng.sample(vocab.CONTEXT_SENTENCES, n_context):
                body.append(_fill(template, slots))
            if rng.random() < _severity_mention_probability(severity, form):
                body.append(_fill(rng.choice(vocab.SEVERITY_SENTENCES[severity]), slots))

        # Variant requests only differ by their context, so entries usually say it.
        for kind, value in variants:
            if rng.random() < 0.85:
                body.insert(rng.randint(1, len(body)), self._mention(kind, value))

        if opener and opener.endswith(":") and ":" in body[0][:25]:
            opener = opener[:-1] + "."  # avoid "Call notes: Main complaint: ..."
        text = " ".join(([opener] if opener else []) + body)
        return self._roughen(text)

    def _terse(self, concept: Concept, slots: _Slots) -> str:
        ask = self.rng.choice(concept.asks)
        frame = self.rng.choice(vocab.TERSE_FRAMES)
        return frame.format(a=ask, A=_cap(ask), acct=slots["acct"])

    def _roughen(self, text: str) -> str:
        """Notes typed in a hurry: occasional lowercase start, missing period, shorthand."""
        rng = self.rng
        if rng.random() < 0.06:
            text = text.replace(" with ", " w/ ")
        if rng.random() < 0.04:
            text = text.replace(" and ", " & ")
        if rng.random() < 0.08:
            text = text[:1].lower() + text[1:]
        if rng.random() < 0.08 and text.endswith("."):
            text = text[:-1]
        return text


# ------------------------------------------------------------------------------------------
# Feedback rows
# ------------------------------------------------------------------------------------------


def _severity_mention_probability(severity: str, form: str) -> float:
    # Dealbreakers are usually called out as such; milder needs often go unqualified.
    if severity == "high":
        return 0.8 if form == "long" else 0.65
    return 0.5 if form == "long" else 0.35


def _choose_opportunity(rng: random.Random, acct: _Account) -> str | None:
    if not acct.opp_ids or rng.random() >= 0.55:
        return None
    if acct.open_opp_ids and rng.random() < 0.7:
        return rng.choice(acct.open_opp_ids)
    return rng.choice(acct.opp_ids)


def _severity(rng: random.Random, acct: _Account) -> str:
    weights = dict(SEVERITY_WEIGHTS)
    if acct.row["isEnterprise"]:
        weights["high"] += 7  # enterprise deals attach more hard requirements
    return _weighted(rng, weights)


def _entries_per_request(rng: random.Random, requests: list[_Request], total: int) -> list[int]:
    """At least one entry per request (requests are born from feedback), rest by popularity."""
    counts = [1] * len(requests)
    remaining = max(0, total - len(requests))
    cum = list(accumulate(r.weight for r in requests))
    for index in (bisect_right(cum, rng.random() * cum[-1]) for _ in range(remaining)):
        counts[min(index, len(requests) - 1)] += 1
    return counts


def _feedback_row(
    ctx: _FeedbackContext,
    concept: Concept,
    variants: Sequence[tuple[str, str]],
    request_id: str | None,
    acct: _Account,
    creator: str,
    created_ts: float,
    topic: str,
) -> dict[str, Any]:
    rng = ctx.rng
    source = _weighted(rng, vocab.SOURCE_WEIGHTS)
    severity = _severity(rng, acct)
    return {
        "id": _uuid(rng),
        "requestId": request_id,
        "accountId": acct.row["id"],
        "opportunityId": _choose_opportunity(rng, acct),
        "severity": severity,
        "description": ctx.writer.write(concept, variants, acct.short, severity, source),
        "creator": creator,
        "externalLinks": [],
        "createdAt": created_ts,  # epoch seconds; formatted once everything is sorted
        "metadata": {
            "demo": True,
            "truthRequestId": request_id,
            "truthTopic": topic,
            "source": source,
            "segment": acct.row["segment"],
        },
    }


# ------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------


def _normalize_now(now: datetime | None) -> datetime:
    if now is None:
        return DEFAULT_NOW
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def generate_demo_dataset(seed: int = 7, scale: int = 1, now: datetime | None = None) -> dict:
    """Build the demo dataset (reference seed-export shape); deterministic in (seed, scale, now).

    scale=N multiplies requests and feedback entries by N and accounts/opportunities by sqrt(N).
    """
    if scale < 1:
        raise ValueError("scale must be >= 1")
    now_dt = _normalize_now(now)
    now_ts = now_dt.timestamp()
    rng = random.Random(seed)

    users, users_by_region = _make_users(rng)
    areas = _make_areas()
    accounts = _make_accounts(rng, round(BASE_ACCOUNTS * math.sqrt(scale)))
    opportunities = _make_opportunities(
        rng, accounts, round(BASE_OPPORTUNITIES * math.sqrt(scale)), now_dt
    )
    requests = _make_requests(rng, scale, now_ts)
    _assign_statuses(rng, requests, now_ts)
    feedback = _make_feedback(
        _FeedbackContext(
            rng=rng,
            writer=FeedbackWriter(rng),
            accounts=accounts,
            users_by_region=users_by_region,
            reps=[u["id"] for u in users[1:]],
            now_ts=now_ts,
        ),
        requests,
        BASE_ENTRIES * scale,
    )
    _set_followers(requests, feedback)
    for row in feedback:
        row["createdAt"] = _iso(row["createdAt"])
    requests.sort(key=lambda r: r.created_ts)
    return {
        "users": users,
        "areas": areas,
        "sfdcAccounts": [a.row for a in accounts],
        "sfdcOpportunities": opportunities,
        "requests": [_request_row(r) for r in requests],
        "feedback": feedback,
    }


@dataclass(slots=True)
class _FeedbackContext:
    """What every feedback row needs besides its own concept and request."""

    rng: random.Random
    writer: FeedbackWriter
    accounts: list[_Account]
    users_by_region: dict[str, list[str]]
    reps: list[str]
    now_ts: float
    account_cum: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.account_cum = list(accumulate(a.weight for a in self.accounts))

    def pick_account(self) -> _Account:
        point = self.rng.random() * self.account_cum[-1]
        return self.accounts[bisect_right(self.account_cum, point)]

    def pick_creator(self, acct: _Account) -> str:
        # Reps log feedback for accounts in their own regions.
        return self.rng.choice(self.users_by_region.get(acct.row["regionName"]) or self.reps)


def _make_feedback(
    ctx: _FeedbackContext, requests: list[_Request], total: int
) -> list[dict[str, Any]]:
    """All entries, sorted by time: ~90% for existing requests, ~10% matching no request."""
    n_nomatch = round(total * NO_MATCH_SHARE)
    feedback = _matched_feedback(ctx, requests, total - n_nomatch)
    feedback.extend(_unmatched_feedback(ctx, n_nomatch))
    feedback.sort(key=lambda row: row["createdAt"])
    return feedback


def _matched_feedback(
    ctx: _FeedbackContext, requests: list[_Request], total: int
) -> list[dict[str, Any]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    counts = _entries_per_request(rng, requests, total)
    for req, count in zip(requests, counts, strict=True):
        span = ctx.now_ts - req.created_ts
        topic = req.concept.key + "".join(f"|{k}={v}" for k, v in req.variants)
        for index in range(count):
            acct = ctx.pick_account()
            creator = ctx.pick_creator(acct)
            if index == 0:
                # The request was created from this entry, moments before it was attached.
                created = min(req.created_ts + rng.uniform(60, 45 * 60), ctx.now_ts)
                req.creator = creator
            else:
                created = req.created_ts + rng.random() * span
            rows.append(
                _feedback_row(ctx, req.concept, req.variants, req.id, acct, creator, created, topic)
            )
    return rows


def _unmatched_feedback(ctx: _FeedbackContext, count: int) -> list[dict[str, Any]]:
    rng = ctx.rng
    pool = nomatch_concepts()
    pool_cum = list(accumulate(math.exp(rng.gauss(0, 0.7)) for _ in pool))
    start_ts = ctx.now_ts - HISTORY_DAYS * 86400
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        concept = pool[bisect_right(pool_cum, rng.random() * pool_cum[-1])]
        acct = ctx.pick_account()
        created = rng.uniform(start_ts, ctx.now_ts)
        topic = "nomatch:" + concept.key
        rows.append(
            _feedback_row(ctx, concept, (), None, acct, ctx.pick_creator(acct), created, topic)
        )
    return rows


def _set_followers(requests: list[_Request], feedback: list[dict[str, Any]]) -> None:
    """Submitters follow the requests they add feedback to (creator first, then by time)."""
    by_id = {r.id: r for r in requests}
    for r in requests:
        r.followers = [r.creator]
    for row in feedback:
        req = by_id.get(row["requestId"]) if row["requestId"] else None
        if req is not None and row["creator"] not in req.followers:
            req.followers.append(row["creator"])


def _request_row(r: _Request) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "description": r.description,
        "status": r.status,
        "creator": r.creator,
        "slug": r.slug,
        "areaIds": r.area_ids,
        "followers": r.followers,
        "createdAt": _iso(r.created_ts),
        "metadata": {"theme": r.concept.theme},
    }


def summarize_dataset(data: dict) -> dict[str, int]:
    """Row counts per collection, plus the number of entries that match no request."""
    summary = {name: len(rows) for name, rows in data.items() if isinstance(rows, list)}
    summary["feedbackWithoutRequest"] = sum(1 for f in data["feedback"] if f["requestId"] is None)
    return summary


def write_demo_dataset(
    path: Path, seed: int = 7, scale: int = 1, now: datetime | None = None
) -> dict:
    """Generate the dataset, write it as JSON to ``path`` and return the row counts."""
    data = generate_demo_dataset(seed=seed, scale=scale, now=now)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    return summarize_dataset(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the deterministic demo dataset as JSON.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    summary = write_demo_dataset(args.path, seed=args.seed, scale=args.scale)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
