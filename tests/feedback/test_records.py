from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gtm_feedback_dagster.core.validation import ValidationError
from gtm_feedback_dagster.feedback.records import (
    canonical_feedback,
    normalize_key,
    parse_amount,
    parse_bool,
    parse_datetime,
    split_list,
    stable_hash,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("accountId", "account_id"),
        ("Account ID", "account_id"),
        ("account-id", "account_id"),
        ("\ufeffaccount_id", "account_id"),
        ("isEnterprise", "is_enterprise"),
        ("subSegment", "sub_segment"),
    ],
)
def test_normalize_key_accepts_any_naming_style(given: str, expected: str) -> None:
    assert normalize_key(given) == expected


def test_canonical_feedback_maps_aliases_of_other_systems() -> None:
    record = canonical_feedback(
        {"description": "slow", "accountId": "001", "creator": "u1", "externalLinks": ["x"]}
    )
    assert record == {
        "customer_pain": "slow",
        "account": "001",
        "submitter": "u1",
        "links": ["x"],
    }


def test_parse_amount_and_bool() -> None:
    assert parse_amount("$420,000.50", "arr") == 420000.5
    assert parse_amount("120k", "arr") == 120000.0
    assert parse_amount("", "arr") == 0.0
    assert parse_bool("Yes", "x") is True
    assert parse_bool("0", "x") is False
    with pytest.raises(ValidationError, match="arr must be a number"):
        parse_amount("lots", "arr")
    with pytest.raises(ValidationError, match="non-negative"):
        parse_amount("-5", "arr")
    with pytest.raises(ValidationError, match="true or false"):
        parse_bool("maybe", "is_enterprise")


def test_parse_datetime_takes_naive_values_as_utc() -> None:
    assert parse_datetime("2026-01-02") == datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_datetime("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_datetime("2026-01-02 03:04") == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert parse_datetime(" ") is None
    with pytest.raises(ValidationError, match="ISO date"):
        parse_datetime("yesterday")


def test_split_list_and_stable_hash() -> None:
    assert split_list("a; b|c, d") == ["a", "b", "c", "d"]
    assert split_list(["a", " ", "b"]) == ["a", "b"]
    assert stable_hash({"a": " x ", "b": 1}) == stable_hash({"b": 1, "a": "x"})
    assert stable_hash({"a": "x"}) != stable_hash({"a": "y"})
