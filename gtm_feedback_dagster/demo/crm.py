"""Users, product areas, CRM accounts and opportunities of the demo data."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.demo import vocab
from gtm_feedback_dagster.demo.common import SYSTEM_USER_ID, make_uuid, sfdc_id, weighted_choice

# ------------------------------------------------------------------------------------------
# Users, areas, accounts, opportunities
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DemoAccount:
    row: dict[str, Any]
    short: str  # how a rep refers to the company in notes ("Northwind")
    weight: float
    opp_ids: list[str] = field(default_factory=list)
    open_opp_ids: list[str] = field(default_factory=list)


def make_users(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
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
        user_id = make_uuid(rng)
        local = re.sub(r"[^a-z.]", "", name.lower().replace(" ", "."))
        # One rep is an admin too, like the reference seed (admins gate area management).
        users.append(
            {"id": user_id, "name": name, "email": f"{local}@example.com", "isAdmin": index == 0}
        )
        for region in regions:
            by_region[region].append(user_id)
    return users, by_region


def make_areas() -> list[dict[str, Any]]:
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


def make_accounts(rng: random.Random, count: int) -> list[DemoAccount]:
    used_names: set[str] = set()
    used_ids: set[str] = set()
    accounts: list[DemoAccount] = []
    while len(accounts) < count:
        industry = weighted_choice(rng, vocab.INDUSTRY_WEIGHTS)
        prefix = rng.choice(vocab.COMPANY_PREFIXES)
        name = f"{prefix} {rng.choice(vocab.INDUSTRY_SUFFIXES[industry])}"
        if name in used_names:
            continue  # the name space (~150 x 60) is far larger than 1,000 accounts
        used_names.add(name)
        segment = weighted_choice(rng, {"Enterprise": 30, "Mid-Market": 40, "SMB": 30})
        region = weighted_choice(rng, vocab.REGION_WEIGHTS)
        is_customer = rng.random() < 0.78
        # Prospects have no recurring revenue yet; their potential lives on opportunities.
        arr = _segment_arr(rng, segment) if is_customer else 0.0
        row = {
            "id": sfdc_id(rng, "001", used_ids),
            "name": name,
            "type": "Customer" if is_customer else "Prospect",
            "regionName": region,
            "arr": arr,
            "isEnterprise": segment == "Enterprise",
            "website": f"https://{slugify(name, max_len=None)}.example.com",
            "industry": industry,
            "territory": rng.choice(vocab.TERRITORIES[region]),
            "segment": segment,
            "subSegment": rng.choice(vocab.SUB_SEGMENTS[segment]),
        }
        # Bigger accounts talk to us more, so they produce more feedback.
        weight = {"Enterprise": 3.0, "Mid-Market": 2.0, "SMB": 1.0}[segment]
        accounts.append(DemoAccount(row=row, short=prefix, weight=weight))
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


def make_opportunities(
    rng: random.Random, accounts: list[DemoAccount], count: int, now: datetime
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
        opp_id = sfdc_id(rng, "006", used_ids)
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
