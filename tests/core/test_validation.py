"""The shared rules and parsers (issue 15: parsing that says no instead of guessing)."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import (
    MAX_DB_INT,
    ValidationError,
    as_db_id,
    clean_text,
    json_safe,
    parse_amount,
    parse_date,
    parse_limit,
    strip_controls,
)


@pytest.mark.parametrize("value", ["€1.200,50", "1,5", "1.200,5", "12,34,56", "1,2000"])
def test_amounts_with_an_ambiguous_decimal_separator_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="ambiguous decimal separator"):
        parse_amount(value, "arr")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$420,000.50", 420000.5),
        ("1,200", 1200.0),
        ("1,200,000", 1_200_000.0),
        ("€1200.50", 1200.5),
    ],
)
def test_thousands_separators_and_currency_signs_still_parse(value: str, expected: float) -> None:
    assert parse_amount(value, "arr") == expected


def test_an_integer_beyond_any_float_is_refused_not_raised() -> None:
    with pytest.raises(ValidationError, match="non-negative number"):
        parse_amount(10**400, "arr")


def test_parse_date_refuses_trailing_garbage() -> None:
    with pytest.raises(ValidationError, match="ISO date"):
        parse_date("2024-03-01garbage", "closeDate")
    assert parse_date("2024-03-01", "d") == date(2024, 3, 1)
    assert parse_date("2024-03-01T10:00:00Z", "d") == date(2024, 3, 1)
    assert parse_date("2024-03-01 10:00", "d") == date(2024, 3, 1)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("API & Developer Tools", "api-developer-tools"),  # ASCII: unchanged rule
        ("Café Réservation", "cafe-reservation"),
        ("Straße Übersicht", "strasse-ubersicht"),
        ("日本語", "ri-ben-yu"),
        ("Москва", "moskva"),
        ("Ελληνικά", "ellenika"),
        ("🚀", "item"),
    ],
)
def test_slugs_transliterate_non_latin_names(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_ids_beyond_64_bits_are_no_ids() -> None:
    assert as_db_id("99999999999999999999") is None
    assert as_db_id(2**63) is None
    assert as_db_id(str(MAX_DB_INT)) == MAX_DB_INT
    assert as_db_id(" 42 ") == 42
    assert as_db_id("١٢") is None  # digits, but not ASCII ones
    assert as_db_id(True) is None
    assert as_db_id("9" * 5000) is None  # never converted


def test_parse_limit_refuses_5000_digits_without_converting_them() -> None:
    with pytest.raises(ValidationError, match="from 1 to 50"):
        parse_limit("9" * 5000, default=10, maximum=50)
    for bad in ("0", "51", "-1", "1.5", "ten", "١"):
        with pytest.raises(ValidationError):
            parse_limit(bad, default=10, maximum=50)
    assert parse_limit(None, default=10, maximum=50) == 10
    assert parse_limit(" 7 ", default=10, maximum=50) == 7


def test_control_characters_and_bidi_overrides_are_cleaned() -> None:
    assert strip_controls("in\u202evoice\x07 paid\u2066\u2069") == "invoice paid"
    assert strip_controls("tab\tand\nlines\r\n") == "tab\tand\nlines\r\n"
    assert clean_text(" \u202e\x1b[31mred ") == "[31mred"
    with pytest.raises(ValidationError, match="is empty"):
        clean_text("\u202e\x00")


def test_json_safe_makes_standard_json() -> None:
    value = {"text": math.nan, "n": [math.inf, -math.inf, 1.5], "ok": None}
    assert json.dumps(json_safe(value), allow_nan=False) == (
        '{"text": "NaN", "n": ["Infinity", "-Infinity", 1.5], "ok": null}'
    )


# ---------------------------------------------------------------------------- properties

edge_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(10**400),
)
edge_text = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"[-+$€]?[0-9.,]{0,30}[kKmM]?", fullmatch=True),
    st.integers().map(str),
    st.integers(min_value=2**63 - 2, max_value=2**70).map(str),
    st.floats().map(str),
)


@given(st.one_of(edge_numbers, edge_text))
def test_parsers_answer_or_raise_validation_errors_only(value: object) -> None:
    for parse in (
        lambda v: parse_amount(v, "arr"),
        lambda v: parse_date(v, "d"),
        lambda v: parse_limit(v, default=10, maximum=100),
        as_db_id,
    ):
        try:
            result = parse(value)
        except ValidationError:
            continue
        if parse is as_db_id and result is not None:
            assert -MAX_DB_INT - 1 <= result <= MAX_DB_INT
    try:
        amount = parse_amount(value, "arr")
    except ValidationError:
        return
    assert math.isfinite(amount) and amount >= 0


@given(st.text(max_size=200))
def test_slugs_are_always_url_safe(text: str) -> None:
    slug = slugify(text)
    assert slug and len(slug) <= 80
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert slug == slug.lower() and not slug.startswith("-") and not slug.endswith("-")
