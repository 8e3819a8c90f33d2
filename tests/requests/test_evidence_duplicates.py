"""The evidence duplicate finder (`requests/evidence_duplicates.py`): pairs across areas, a pair
whose kept request has no entries, several duplicates of one request, the bar for two curated
requests, the stored model's space, and proposals to the owner of the request that is kept."""

from __future__ import annotations

from sqlalchemy import select

from gtm_feedback_dagster.requests.evidence_duplicates import evidence_duplicate_candidates
from gtm_feedback_dagster.requests.merge_proposals import propose_merges
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import OutboxMessage, Request, User
from tests.requests.duplicates_support import Catalogue, WordEmbedder, seed_catalogue
from tests.slack.support import settings_for


def found(url: str, cat: Catalogue, **kwargs: object) -> dict[tuple[str, str], str]:
    """(duplicate, kept) short names -> evidence."""
    names = {v: k for k, v in cat.ids.items()}
    with session_scope(url) as session:
        return {
            (names[c.duplicate_id], names[c.target_id]): c.evidence
            for c in evidence_duplicate_candidates(session, **kwargs)  # type: ignore[arg-type]
        }


def test_pairs_across_areas_and_without_entries_are_found(sqlite_url: str) -> None:
    cat = seed_catalogue(sqlite_url)
    pairs = found(sqlite_url, cat)
    # Kept: the request a person created, even with fewer entries (dedup 2 vs upsert 3) or none
    # at all (drivers); between two of routing's, the one with more entries.
    assert set(pairs) == {
        ("upsert", "dedup"),
        ("merge-on-key", "dedup"),
        ("merge-on-key", "upsert"),
        ("kpi", "drivers"),
    }
    assert "areas performance / data-ingestion" in pairs[("upsert", "dedup")]
    assert (
        "feedback text" in pairs[("upsert", "dedup")] and "duplicate" in pairs[("upsert", "dedup")]
    )
    assert "2 + 0 entries" in pairs[("kpi", "drivers")]
    assert "titles" not in pairs[("kpi", "drivers")]  # no stored vectors: text alone


def test_two_curated_neighbours_need_the_higher_bar(sqlite_url: str) -> None:
    cat = seed_catalogue(sqlite_url)
    assert ("jira-tickets", "jira-connector") not in found(sqlite_url, cat)
    assert ("jira-tickets", "jira-connector") in found(sqlite_url, cat, curated_threshold=0.3)


def test_an_area_lists_its_pairs_with_other_areas(sqlite_url: str) -> None:
    cat = seed_catalogue(sqlite_url)
    assert set(found(sqlite_url, cat, area_ref="performance")) == {
        ("upsert", "dedup"),
        ("merge-on-key", "upsert"),
    }
    assert set(found(sqlite_url, cat, area_ref=["ai-insights", "mobile"])) == {("kpi", "drivers")}


def test_entries_are_embedded_in_one_call_with_the_stored_model_only(sqlite_url: str) -> None:
    embedder = WordEmbedder()
    cat = seed_catalogue(sqlite_url, embedder)
    with_entries = found(sqlite_url, cat, embedder=embedder)
    assert len(embedder.calls) == 1 and embedder.calls[0] <= 5 * len(cat.ids)
    assert "best entry vs the other's title" in with_entries[("upsert", "dedup")]
    assert "titles" in with_entries[("upsert", "dedup")]

    other = WordEmbedder()
    other.model_id = "test:another-model"
    assert set(found(sqlite_url, cat, embedder=other)) == set(found(sqlite_url, cat))
    assert other.calls == []  # its vectors would live in another space


def test_merged_and_closed_requests_are_left_out(sqlite_url: str) -> None:
    cat = seed_catalogue(sqlite_url)
    with session_scope(sqlite_url) as session:
        session.get(Request, cat.ids["merge-on-key"]).status = "shipped"  # type: ignore[union-attr]
    assert set(found(sqlite_url, cat)) == {("upsert", "dedup"), ("kpi", "drivers")}


def test_a_pair_across_areas_is_proposed_once_to_the_owner_of_the_kept_request(
    sqlite_url: str,
) -> None:
    cat = seed_catalogue(sqlite_url)
    settings = settings_for(
        sqlite_url,
        area_owners="data-ingestion=ana@example.com,performance=bob@example.com,*=carol@example.com",
    )
    with session_scope(sqlite_url) as session:
        for email in ("ana@example.com", "bob@example.com"):
            repo.get_or_create_user(session, email, email)
    with session_scope(sqlite_url) as session:
        first = propose_merges(session, settings, embedder=WordEmbedder())
    assert (cat.ids["upsert"], cat.ids["dedup"]) in first.proposed
    assert (cat.ids["kpi"], cat.ids["drivers"]) in first.proposed
    with session_scope(sqlite_url) as session:
        again = propose_merges(session, settings, embedder=WordEmbedder())
        to = dict(
            session.execute(
                select(OutboxMessage.dedupe_key, User.email).join(
                    User, User.id == OutboxMessage.user_id
                )
            ).all()
        )
    assert again.proposed == [] and again.already_proposed == len(first.proposed)
    low, high = sorted((cat.ids["upsert"], cat.ids["dedup"]))
    assert to[f"merge-proposal:{low}:{high}"] == "ana@example.com"  # dedup's area decides
    low, high = sorted((cat.ids["kpi"], cat.ids["drivers"]))
    assert to[f"merge-proposal:{low}:{high}"] == "carol@example.com"  # ai-insights: the * owner
    assert len(to) == len(first.proposed)  # one message per pair
