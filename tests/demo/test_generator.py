"""Tests for the deterministic demo data generator (no embedding model involved)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gtm_feedback_dagster.demo import vocab as demo_vocab
from gtm_feedback_dagster.demo.generator import (
    DEFAULT_NOW,
    SYSTEM_USER_ID,
    generate_demo_dataset,
    nomatch_concepts,
    request_concepts,
    write_demo_dataset,
)

AREA_IDS = [
    "dashboards",
    "data-ingestion",
    "transformations",
    "integrations",
    "reporting",
    "access-management",
    "performance",
    "ai-insights",
]
AREA_NAMES = [
    "Dashboards",
    "Data Ingestion",
    "Transformation Modeling",
    "Integrations",
    "Reporting & Exports",
    "Access Management",
    "Performance & SLAs",
    "AI Insights",
]


@pytest.fixture(scope="module")
def data() -> dict:
    return generate_demo_dataset()


@pytest.fixture(scope="module")
def data_scale2() -> dict:
    return generate_demo_dataset(scale=2)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def _entries_by_request(data: dict) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for entry in data["feedback"]:
        if entry["requestId"]:
            grouped[entry["requestId"]].append(entry["description"])
    return grouped


# --- vocabulary ---------------------------------------------------------------------------


def test_vocabulary_has_distinct_concepts_per_area() -> None:
    concepts = request_concepts()
    assert 280 <= len(concepts) <= 320
    per_area = Counter(c.area for c in concepts)
    assert set(per_area) == set(AREA_IDS)
    assert all(30 <= n <= 40 for n in per_area.values()), per_area
    for concept in [*concepts, *nomatch_concepts()]:
        assert len(concept.pains) >= 3 and len(concept.asks) >= 3, concept.title
    for concept in concepts:
        # Entries are built from pains/asks, so those must never quote the request title.
        for phrase in concept.pains + concept.asks:
            assert concept.title.lower() not in phrase.lower(), concept.title
    titles = [c.title.lower() for c in [*concepts, *nomatch_concepts()]]
    assert len(titles) == len(set(titles))
    assert len(nomatch_concepts()) >= 25


def test_variant_exclusions_name_real_concepts() -> None:
    titles = {c.title for c in request_concepts()}
    assert set(demo_vocab.VARIANT_EXCLUSIONS) <= titles


# --- shape, determinism and sizes -----------------------------------------------------------


def test_deterministic_for_same_seed_and_different_for_other_seed(data: dict) -> None:
    again = generate_demo_dataset(seed=7)
    assert json.dumps(again, sort_keys=True) == json.dumps(data, sort_keys=True)
    other = generate_demo_dataset(seed=8)
    assert json.dumps(other, sort_keys=True) != json.dumps(data, sort_keys=True)
    assert {e["description"] for e in other["feedback"]} != {
        e["description"] for e in data["feedback"]
    }


# sha256 of the JSON `write_demo_dataset` writes, recorded before the vocabulary became a data
# file and the generator was split: the data set must stay byte-identical for a seed.
DATASET_SHA256 = {
    (7, 1): "97418a2f92882ab08536d5ca1111540a4f1b2aac73304f9ad22fab112af22274",
    (7, 2): "734a0054faa436ab1da7dc9c07c1c76b5279f3a79a32724cf0f02e8b8fd82c74",
}


def _sha256(dataset: dict) -> str:
    return hashlib.sha256(json.dumps(dataset, ensure_ascii=False).encode("utf-8")).hexdigest()


def test_dataset_is_byte_identical_to_the_recorded_one(data: dict, data_scale2: dict) -> None:
    assert _sha256(data) == DATASET_SHA256[(7, 1)]
    assert _sha256(data_scale2) == DATASET_SHA256[(7, 2)]


def test_default_now_is_fixed_and_now_shifts_dates(data: dict) -> None:
    latest = max(_ts(e["createdAt"]) for e in data["feedback"])
    assert latest <= DEFAULT_NOW
    later = DEFAULT_NOW + timedelta(days=30)
    shifted = generate_demo_dataset(now=later.replace(tzinfo=None))  # naive means UTC
    assert max(_ts(e["createdAt"]) for e in shifted["feedback"]) > DEFAULT_NOW
    assert max(_ts(e["createdAt"]) for e in shifted["feedback"]) <= later


def test_counts_at_scale_1(data: dict) -> None:
    n_concepts = len(request_concepts())
    assert len(data["users"]) == len(demo_vocab.DEMO_PEOPLE) + 1
    assert 10 <= len(data["users"]) <= 14
    assert len(data["areas"]) == 8
    assert len(data["sfdcAccounts"]) == 100
    assert len(data["sfdcOpportunities"]) == 250
    assert len(data["requests"]) == n_concepts
    assert len(data["feedback"]) == 3000


def test_counts_at_scale_2(data_scale2: dict) -> None:
    n_concepts = len(request_concepts())
    assert len(data_scale2["requests"]) == 2 * n_concepts
    assert len(data_scale2["feedback"]) == 6000
    assert len(data_scale2["sfdcAccounts"]) == round(100 * 2**0.5)
    assert len(data_scale2["sfdcOpportunities"]) == round(250 * 2**0.5)


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError):
        generate_demo_dataset(scale=0)


def test_reference_shape(data: dict) -> None:
    assert set(data) == {
        "users",
        "areas",
        "sfdcAccounts",
        "sfdcOpportunities",
        "requests",
        "feedback",
    }
    expected_keys = {
        "users": {"id", "name", "email", "isAdmin"},
        "areas": {"id", "name", "slug", "description", "firehoseChannel"},
        "sfdcAccounts": {
            "id",
            "name",
            "type",
            "regionName",
            "arr",
            "isEnterprise",
            "website",
            "industry",
            "territory",
            "segment",
            "subSegment",
        },
        "sfdcOpportunities": {"id", "accountId", "name", "arr", "stage", "closeDate"},
        "requests": {
            "id",
            "title",
            "description",
            "status",
            "creator",
            "slug",
            "areaIds",
            "followers",
            "createdAt",
            "metadata",
        },
        "feedback": {
            "id",
            "requestId",
            "accountId",
            "opportunityId",
            "severity",
            "description",
            "creator",
            "externalLinks",
            "createdAt",
            "metadata",
        },
    }
    for collection, keys in expected_keys.items():
        for row in data[collection]:
            assert set(row) == keys, collection
            assert isinstance(row["id"], str)


def test_users_and_areas(data: dict) -> None:
    users = data["users"]
    assert users[0]["id"] == SYSTEM_USER_ID and users[0]["isAdmin"] is True
    assert all(u["email"].endswith("@example.com") for u in users)
    assert len({u["email"] for u in users}) == len(users)
    assert [a["id"] for a in data["areas"]] == AREA_IDS
    assert [a["slug"] for a in data["areas"]] == AREA_IDS
    assert [a["name"] for a in data["areas"]] == AREA_NAMES
    assert all(a["firehoseChannel"] == f"firehose-{a['id']}" for a in data["areas"])


def test_accounts_and_opportunities_are_plausible(data: dict) -> None:
    accounts = data["sfdcAccounts"]
    enterprise_share = sum(a["isEnterprise"] for a in accounts) / len(accounts)
    assert 0.2 <= enterprise_share <= 0.4
    assert len({a["name"] for a in accounts}) == len(accounts)
    for account in accounts:
        assert account["type"] in ("Customer", "Prospect")
        assert account["regionName"] in ("North America", "EMEA", "APAC", "LATAM")
        assert account["segment"] in ("Enterprise", "Mid-Market", "SMB")
        assert account["isEnterprise"] == (account["segment"] == "Enterprise")
        if account["type"] == "Customer":
            assert 10_000 <= account["arr"] <= 1_500_000
        else:
            assert account["arr"] == 0
    assert sum(a["type"] == "Customer" for a in accounts) > len(accounts) / 2
    stages = {"Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost"}
    account_ids = {a["id"] for a in accounts}
    for opp in data["sfdcOpportunities"]:
        assert opp["accountId"] in account_ids
        assert opp["stage"] in stages
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", opp["closeDate"])
        assert opp["arr"] >= 0


# --- uniqueness and integrity -----------------------------------------------------------------


def test_ids_titles_and_slugs_are_unique(data: dict, data_scale2: dict) -> None:
    for dataset in (data, data_scale2):
        all_ids = [row["id"] for rows in dataset.values() for row in rows]
        assert len(all_ids) == len(set(all_ids))
        titles = [r["title"] for r in dataset["requests"]]
        slugs = [r["slug"] for r in dataset["requests"]]
        assert len(set(titles)) == len(titles)
        assert len(set(slugs)) == len(slugs)
        assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s) for s in slugs)


def test_referential_integrity(data: dict) -> None:
    users = {u["id"] for u in data["users"]}
    accounts = {a["id"] for a in data["sfdcAccounts"]}
    opp_account = {o["id"]: o["accountId"] for o in data["sfdcOpportunities"]}
    requests = {r["id"] for r in data["requests"]}
    areas = {a["id"] for a in data["areas"]}
    for entry in data["feedback"]:
        assert entry["accountId"] in accounts
        assert entry["creator"] in users and entry["creator"] != SYSTEM_USER_ID
        assert entry["requestId"] is None or entry["requestId"] in requests
        if entry["opportunityId"] is not None:
            assert opp_account[entry["opportunityId"]] == entry["accountId"]
        assert entry["severity"] in ("low", "medium", "high")
        assert entry["externalLinks"] == []
        assert entry["metadata"]["demo"] is True
        assert entry["metadata"]["truthRequestId"] == entry["requestId"]
        assert entry["metadata"]["source"]
    for request in data["requests"]:
        assert request["creator"] in users
        assert 1 <= len(request["areaIds"]) <= 2
        assert set(request["areaIds"]) <= areas
        assert len(set(request["areaIds"])) == len(request["areaIds"])
        assert request["followers"][0] == request["creator"]
        assert len(set(request["followers"])) == len(request["followers"])
        assert set(request["followers"]) <= users
        assert request["metadata"]["theme"]


def test_every_request_has_feedback_and_followers_are_submitters(data: dict) -> None:
    submitters: dict[str, set[str]] = defaultdict(set)
    for entry in data["feedback"]:
        if entry["requestId"]:
            submitters[entry["requestId"]].add(entry["creator"])
    for request in data["requests"]:
        assert request["id"] in submitters
        assert set(request["followers"]) == submitters[request["id"]]


def test_statuses_and_opportunity_share(data: dict) -> None:
    statuses = Counter(r["status"] for r in data["requests"])
    n = len(data["requests"])
    assert set(statuses) == {"open", "shipped", "deprioritized"}
    assert 0.09 <= statuses["shipped"] / n <= 0.15
    assert 0.05 <= statuses["deprioritized"] / n <= 0.11
    with_opp = sum(e["opportunityId"] is not None for e in data["feedback"])
    assert 0.3 <= with_opp / len(data["feedback"]) <= 0.7


def test_no_match_share_is_about_ten_percent(data: dict) -> None:
    unmatched = [e for e in data["feedback"] if e["requestId"] is None]
    assert 0.08 <= len(unmatched) / len(data["feedback"]) <= 0.12
    # They come from their own concept pool, spread over many needs.
    topics = Counter(e["metadata"]["truthTopic"] for e in unmatched)
    assert all(t.startswith("nomatch:") for t in topics)
    assert len(topics) >= 20


# --- time ---------------------------------------------------------------------------------


def test_created_at_ordering(data: dict) -> None:
    requests = {r["id"]: _ts(r["createdAt"]) for r in data["requests"]}
    earliest = DEFAULT_NOW - timedelta(days=121)
    for entry in data["feedback"]:
        created = _ts(entry["createdAt"])
        assert entry["createdAt"].endswith("Z")
        assert earliest <= created <= DEFAULT_NOW
        if entry["requestId"]:
            assert created >= requests[entry["requestId"]]
    assert all(earliest <= ts <= DEFAULT_NOW for ts in requests.values())
    # Shipping takes time: nothing shipped was created in the last 30 days.
    for request in data["requests"]:
        if request["status"] == "shipped":
            assert _ts(request["createdAt"]) < DEFAULT_NOW - timedelta(days=30)
    feedback_times = [e["createdAt"] for e in data["feedback"]]
    assert feedback_times == sorted(feedback_times)


# --- text realism ---------------------------------------------------------------------------


def test_entries_do_not_quote_their_request_title(data: dict) -> None:
    titles = {r["id"]: r["title"].lower() for r in data["requests"]}
    matched = [e for e in data["feedback"] if e["requestId"]]
    quoting = sum(titles[e["requestId"]] in e["description"].lower() for e in matched)
    assert quoting / len(matched) < 0.02
    assert not any(e["description"].lower() == titles[e["requestId"]] for e in matched)


def test_entries_of_one_request_are_distinct(data: dict) -> None:
    jaccards: list[float] = []
    duplicates = 0
    total = 0
    for texts in _entries_by_request(data).values():
        total += len(texts)
        duplicates += len(texts) - len(set(texts))
        if len(texts) < 5:
            continue
        pairs = list(itertools.combinations(texts[:30], 2))
        jaccards.append(
            statistics.mean(
                len(_tokens(a) & _tokens(b)) / len(_tokens(a) | _tokens(b)) for a, b in pairs
            )
        )
    assert len(jaccards) > 50
    assert statistics.mean(jaccards) < 0.3
    assert max(jaccards) < 0.5
    assert duplicates / total < 0.01


def test_entries_vary_in_length(data: dict) -> None:
    lengths = sorted(len(e["description"].split()) for e in data["feedback"])
    assert lengths[len(lengths) // 10] <= 12  # a good share of terse one-liners
    assert lengths[len(lengths) * 9 // 10] >= 35  # and multi-sentence notes
    assert statistics.median(lengths) >= 15


def test_severity_correlates_with_wording(data: dict) -> None:
    words = ("blocker", "dealbreaker", "must-have", "hard requirement", "at risk", "churn risk")
    by_severity: dict[str, list[bool]] = defaultdict(list)
    for entry in data["feedback"]:
        text = entry["description"].lower()
        by_severity[entry["severity"]].append(any(w in text for w in words))
    high = statistics.mean(by_severity["high"])
    low = statistics.mean(by_severity["low"])
    assert high > low + 0.3
    assert 0.15 <= len(by_severity["high"]) / len(data["feedback"]) <= 0.4


def test_variant_requests_are_meaningful_and_mentioned(data_scale2: dict) -> None:
    variants = [r for r in data_scale2["requests"] if " - " in r["title"]]
    assert len(variants) == len(request_concepts())
    base_titles = {c.title for c in request_concepts()}
    for request in variants:
        base = request["title"].split(" - ")[0]
        assert base in base_titles
    # Most entries for a variant request mention its context ("They run on Snowflake.").
    by_id = {r["id"]: r for r in variants}
    topics = [
        e
        for e in data_scale2["feedback"]
        if e["requestId"] in by_id and "|" in e["metadata"]["truthTopic"]
    ]
    mentioned = sum(
        e["metadata"]["truthTopic"].split("|")[1].split("=", 1)[1].lower()
        in e["description"].lower()
        for e in topics
    )
    assert mentioned / len(topics) > 0.7


def test_scale_10_is_fast_and_unique() -> None:
    started = time.perf_counter()
    big = generate_demo_dataset(scale=10)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0
    assert len(big["feedback"]) == 30_000
    assert len(big["requests"]) == 10 * len(request_concepts())
    assert len({r["title"] for r in big["requests"]}) == len(big["requests"])
    assert len({r["slug"] for r in big["requests"]}) == len(big["requests"])
    assert len({e["id"] for e in big["feedback"]}) == len(big["feedback"])


# --- writing ----------------------------------------------------------------------------------


def test_write_demo_dataset_round_trips(tmp_path: Path, data: dict) -> None:
    target = tmp_path / "nested" / "demo.json"
    summary = write_demo_dataset(target, seed=7, scale=1)
    assert summary["requests"] == len(data["requests"])
    assert summary["feedback"] == 3000
    assert summary["feedbackWithoutRequest"] == sum(
        e["requestId"] is None for e in data["feedback"]
    )
    assert json.loads(target.read_text(encoding="utf-8")) == data
