"""Deterministic demo data in the shape of the reference system's seed export.

``generate_demo_dataset(seed, scale, now)`` returns::

    {"users", "areas", "sfdcAccounts", "sfdcOpportunities", "requests", "feedback"}

with the field names the ``migrate-reference`` importer reads (camelCase, ids as strings).

The point of this data is to *measure* semantic matching, so the text matters more than the
numbers: every request is a distinct, hand-written concept (``demo.vocab``), and every feedback
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
import sys
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

from gtm_feedback_dagster.demo import vocab
from gtm_feedback_dagster.demo.common import (
    HISTORY_DAYS,
    SYSTEM_USER_ID,
    iso_utc,
    make_uuid,
    weighted_choice,
)
from gtm_feedback_dagster.demo.concepts import Concept, nomatch_concepts, request_concepts
from gtm_feedback_dagster.demo.crm import (
    DemoAccount,
    make_accounts,
    make_areas,
    make_opportunities,
    make_users,
)
from gtm_feedback_dagster.demo.requests import DemoRequest, assign_statuses, make_requests
from gtm_feedback_dagster.demo.writer import FeedbackWriter

__all__ = [
    "DEFAULT_NOW",
    "SYSTEM_USER_ID",
    "generate_demo_dataset",
    "nomatch_concepts",
    "request_concepts",
    "summarize_dataset",
    "write_demo_dataset",
]

DEFAULT_NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)

# Sizes at scale=1. Requests are one per hand-written concept (~290), so scale N gives N x that.
BASE_ENTRIES = 3000
BASE_ACCOUNTS = 100
BASE_OPPORTUNITIES = 250
NO_MATCH_SHARE = 0.10

SEVERITY_WEIGHTS = {"low": 35, "medium": 40, "high": 25}


# ------------------------------------------------------------------------------------------
# Feedback rows
# ------------------------------------------------------------------------------------------


def _choose_opportunity(rng: random.Random, acct: DemoAccount) -> str | None:
    if not acct.opp_ids or rng.random() >= 0.55:
        return None
    if acct.open_opp_ids and rng.random() < 0.7:
        return rng.choice(acct.open_opp_ids)
    return rng.choice(acct.opp_ids)


def _severity(rng: random.Random, acct: DemoAccount) -> str:
    weights = dict(SEVERITY_WEIGHTS)
    if acct.row["isEnterprise"]:
        weights["high"] += 7  # enterprise deals attach more hard requirements
    return weighted_choice(rng, weights)


def _entries_per_request(rng: random.Random, requests: list[DemoRequest], total: int) -> list[int]:
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
    acct: DemoAccount,
    creator: str,
    created_ts: float,
    topic: str,
) -> dict[str, Any]:
    rng = ctx.rng
    source = weighted_choice(rng, vocab.SOURCE_WEIGHTS)
    severity = _severity(rng, acct)
    return {
        "id": make_uuid(rng),
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

    users, users_by_region = make_users(rng)
    areas = make_areas()
    accounts = make_accounts(rng, round(BASE_ACCOUNTS * math.sqrt(scale)))
    opportunities = make_opportunities(
        rng, accounts, round(BASE_OPPORTUNITIES * math.sqrt(scale)), now_dt
    )
    requests = make_requests(rng, scale, now_ts)
    assign_statuses(rng, requests, now_ts)
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
        row["createdAt"] = iso_utc(row["createdAt"])
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
    accounts: list[DemoAccount]
    users_by_region: dict[str, list[str]]
    reps: list[str]
    now_ts: float
    account_cum: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.account_cum = list(accumulate(a.weight for a in self.accounts))

    def pick_account(self) -> DemoAccount:
        point = self.rng.random() * self.account_cum[-1]
        return self.accounts[bisect_right(self.account_cum, point)]

    def pick_creator(self, acct: DemoAccount) -> str:
        # Reps log feedback for accounts in their own regions.
        return self.rng.choice(self.users_by_region.get(acct.row["regionName"]) or self.reps)


def _make_feedback(
    ctx: _FeedbackContext, requests: list[DemoRequest], total: int
) -> list[dict[str, Any]]:
    """All entries, sorted by time: ~90% for existing requests, ~10% matching no request."""
    n_nomatch = round(total * NO_MATCH_SHARE)
    feedback = _matched_feedback(ctx, requests, total - n_nomatch)
    feedback.extend(_unmatched_feedback(ctx, n_nomatch))
    feedback.sort(key=lambda row: row["createdAt"])
    return feedback


def _matched_feedback(
    ctx: _FeedbackContext, requests: list[DemoRequest], total: int
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


def _set_followers(requests: list[DemoRequest], feedback: list[dict[str, Any]]) -> None:
    """Submitters follow the requests they add feedback to (creator first, then by time)."""
    by_id = {r.id: r for r in requests}
    for r in requests:
        r.followers = [r.creator]
    for row in feedback:
        req = by_id.get(row["requestId"]) if row["requestId"] else None
        if req is not None and row["creator"] not in req.followers:
            req.followers.append(row["creator"])


def _request_row(r: DemoRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "description": r.description,
        "status": r.status,
        "creator": r.creator,
        "slug": r.slug,
        "areaIds": r.area_ids,
        "followers": r.followers,
        "createdAt": iso_utc(r.created_ts),
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
