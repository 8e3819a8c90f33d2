"""Deterministic drafting of new requests: length bounds, sentences, areas, unique slugs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_feedback_dagster.ai.llm import sentence_count
from gtm_feedback_dagster.routing.candidates import RequestInfo, ScoredCandidate
from gtm_feedback_dagster.routing.drafting import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    TITLE_MIN,
    deterministic_draft,
    draft_description,
    draft_title,
    title_problems,
    vote_areas,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope


def test_title_is_the_first_clause() -> None:
    pain = (
        "Customer says: they can't export dashboards to PDF, so the board gets screenshots. "
        "It takes hours every month."
    )
    assert draft_title(pain) == "They can't export dashboards to PDF"


def test_long_first_sentence_is_cut_at_a_word_boundary() -> None:
    pain = "word " * 80 + "end."
    title = draft_title(pain)
    assert TITLE_MIN <= len(title) <= TITLE_MAX
    assert not title.endswith(" ") and title.split()[-1] == "word"


def test_very_short_text_still_gives_a_valid_title() -> None:
    assert TITLE_MIN <= len(draft_title("SSO!")) <= TITLE_MAX
    assert draft_title("SSO!").endswith("SSO")
    assert TITLE_MIN <= len(draft_title("   ")) <= TITLE_MAX


def test_description_keeps_two_sentences_and_500_chars() -> None:
    pain = "First sentence here. Second one follows! Third is dropped. Fourth too."
    assert draft_description(pain) == "First sentence here. Second one follows!"
    long = "A " + "very " * 200 + "long sentence."
    desc = draft_description(long)
    assert len(desc) <= DESCRIPTION_MAX and desc.endswith("…")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=1500))
def test_bounds_hold_for_any_text(pain: str) -> None:
    title = draft_title(pain)
    assert TITLE_MIN <= len(title) <= TITLE_MAX
    description = draft_description(pain)
    assert len(description) <= DESCRIPTION_MAX


def test_description_of_realistic_text_has_at_most_two_sentences() -> None:
    pain = (
        "From the QBR with Acme: they need SSO with Okta. Their IT blocks tools without it. "
        "Renewal is in March. Dealbreaker."
    )
    assert sentence_count(draft_description(pain)) == 2


def _cand(areas: tuple[str, ...], sim: float) -> ScoredCandidate:
    return ScoredCandidate(RequestInfo(1, "t", "d", "s", "open", areas), sim)


def test_areas_are_the_majority_of_the_nearest_requests() -> None:
    slugs = ["access", "dashboards", "integrations"]
    cands = [
        _cand(("integrations",), 0.6),
        _cand(("dashboards",), 0.55),
        _cand(("dashboards", "integrations"), 0.5),
        _cand(("dashboards",), 0.4),
    ]
    assert vote_areas(cands, slugs) == ("dashboards",)
    # Ties go to the higher summed similarity.
    assert vote_areas(cands[:2], slugs) == ("integrations",)
    # No neighbours: the first area.
    assert vote_areas([], slugs) == ("access",)
    with pytest.raises(ValueError, match="no product areas"):
        vote_areas([], [])


def test_drafting_is_deterministic() -> None:
    pain = "They need usage alerts when a dashboard fails to refresh."
    a = deterministic_draft(pain, [], ["dashboards"])
    b = deterministic_draft(pain, [], ["dashboards"])
    assert a == b and a.method == "deterministic"


def test_same_title_twice_gets_unique_slugs(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as session:
        area, _ = repo.create_area(session, "Dashboards")
        title = draft_title("They can't export dashboards to PDF. It hurts.")
        first = repo.create_request(session, title, "d", [area], None, created_by_routing=True)
        second = repo.create_request(session, title, "d", [area], None, created_by_routing=True)
        assert first.slug == "they-can-t-export-dashboards-to-pdf"
        assert second.slug == "they-can-t-export-dashboards-to-pdf-2"


@pytest.mark.parametrize(
    ("pain", "title"),
    [
        (
            "Call notes: Today their data engineers can't automate reports from legacy systems "
            "that can only send email. Would love automatic processing of emailed CSVs. "
            "Dealbreaker for the renewal.",
            "Automatic processing of emailed CSVs",
        ),
        (
            "Discovery call with Meridian. Problem is they fail audits because of long-lived "
            "credentials. Anything on the roadmap for token lifetime policies? Nice to have.",
            "Token lifetime policies",
        ),
        (
            "Had a call with Lumen this morning. They clean up duplicate rows by hand after "
            "loads. They've asked about this before.",
            "They clean up duplicate rows by hand after loads",
        ),
    ],
)
def test_title_states_the_need_not_the_sales_note_context(pain: str, title: str) -> None:
    assert draft_title(pain) == title
    description = draft_description(pain)
    assert "Dealbreaker" not in description and "call" not in description.lower()


@pytest.mark.parametrize(
    ("pain", "names", "title"),
    [
        (
            "Folks at Bellwether find the white UI harsh on big monitors at night.",
            ("Bellwether Wireless", "Sarah Chen"),
            "Folks find the white UI harsh on big monitors at night",
        ),
        (
            "Sablewood asking about duplicate-free loads again.",
            ("Sablewood Logistics Inc", "Dan Roe"),
            "Duplicate-free loads",
        ),
        (
            "Biggest gripe is that their analysts wait hours for models to finish.",
            ("Acme",),
            "Their analysts wait hours for models to finish",
        ),
    ],
)
def test_titles_drop_the_short_name_notes_use_for_the_account(
    pain: str, names: tuple[str, ...], title: str
) -> None:
    drafted = draft_title(pain, names)
    assert drafted == title
    assert title_problems(drafted, names) == []
