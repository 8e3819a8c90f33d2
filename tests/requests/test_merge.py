"""Merging duplicate requests: one transaction, idempotent, followers de-duplicated and told once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.requests.merge import (
    duplicate_candidates,
    merge_requests,
    remove_from_serving_index,
)
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.repo import NotFoundError, add_feedback, follow, follower_ids
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    OutboxMessage,
    Request,
    RequestRelation,
    RequestVector,
)
from tests.analytics_seed import seed_report_world, user


def seed(url: str) -> dict[str, int]:
    """R2 (followed by bob; 1 entry) is a duplicate of R1 (followed by alice and bob)."""
    with session_scope(url) as session:
        ids = seed_report_world(session).ids
        carol = user(session, "carol@example.com")
        ids["carol"] = carol.id
        r1, r2, r3 = (session.get(Request, ids[k]) for k in ("r1", "r2", "r3"))
        follow(session, carol.id, r2.id)
        r3.related_request_id = r2.id
        # An entry awaiting approval on the duplicate.
        pending, _ = add_feedback(
            session, {"source": "cli", "customer_pain": "p", "status": "awaiting_approval"}
        )
        session.add(Approval(feedback_id=pending.id, request_id=r2.id, confidence=0.85))
        now = datetime.now(UTC)
        session.add_all(
            [
                RequestRelation(
                    request_id=r2.id, related_id=r1.id, similarity=0.99, rank=1, computed_at=now
                ),
                RequestRelation(
                    request_id=r1.id, related_id=r2.id, similarity=0.99, rank=1, computed_at=now
                ),
            ]
        )
    return ids


def counts(url: str, ids: dict[str, int]) -> dict[str, object]:
    with session_scope(url) as session:
        r1 = session.get(Request, ids["r1"])
        r2 = session.get(Request, ids["r2"])
        return {
            "r1_entries": session.scalar(
                select(func.count(Feedback.id)).where(Feedback.request_id == ids["r1"])
            ),
            "r2_entries": session.scalar(
                select(func.count(Feedback.id)).where(Feedback.request_id == ids["r2"])
            ),
            "r1_followers": sorted(follower_ids(session, ids["r1"])),
            "r2_followers": follower_ids(session, ids["r2"]),
            "r2": (r2.status, r2.merged_into_id),
            "r1_status": r1.status,
            "outbox": sorted(
                (m.dedupe_key, m.user_id, m.kind) for m in session.scalars(select(OutboxMessage))
            ),
            "r2_vector": session.get(RequestVector, ids["r2"]) is not None,
            "relations": sorted(
                session.execute(
                    select(RequestRelation.request_id, RequestRelation.related_id)
                ).all()
            ),
            "r3_related": session.get(Request, ids["r3"]).related_request_id,
            "approval_request": session.scalar(select(Approval.request_id)),
        }


def test_merge_moves_everything_once_and_is_idempotent(db_url: str) -> None:
    ids = seed(db_url)
    with session_scope(db_url) as session:
        result = merge_requests(session, ids["r2"], "sso-login-with-saml", "http://app")
    assert not result.already_merged
    assert (result.moved_entries, result.moved_followers, result.already_following) == (1, 1, 1)
    assert result.notified == 2 and result.vector_removed and result.moved_approvals == 1
    assert "merged #" in result.summary()

    after = counts(db_url, ids)
    assert after["r1_entries"] == 3 and after["r2_entries"] == 0
    # bob followed both: kept once; carol moved over; the duplicate has no followers left.
    assert after["r1_followers"] == sorted([ids["alice"], ids["bob"], ids["carol"]])
    assert after["r2_followers"] == []
    assert after["r2"] == ("merged", ids["r1"]) and after["r1_status"] == "open"
    assert after["outbox"] == sorted(
        [
            (f"merged:{ids['r2']}:{ids['bob']}", ids["bob"], "merged"),
            (f"merged:{ids['r2']}:{ids['carol']}", ids["carol"], "merged"),
        ]
    )
    assert after["r2_vector"] is False
    # The duplicate's own rows go; rows pointing at it stay for the graph asset to recompute.
    assert after["relations"] == [(ids["r1"], ids["r2"])]
    assert after["r3_related"] == ids["r1"]
    assert after["approval_request"] == ids["r1"]
    with session_scope(db_url) as session:
        message = session.scalars(select(OutboxMessage)).first()
        assert "http://app/requests/saml-sso-for-admins" in message.text
        assert "http://app/requests/sso-login-with-saml" in message.text

    # Merging again: "already merged", nothing changes, nobody is told twice.
    with session_scope(db_url) as session:
        again = merge_requests(session, ids["r2"], ids["r1"], "http://app")
    assert again.already_merged and "already merged" in again.summary()
    assert counts(db_url, ids) == after


def test_merge_refuses_nonsense(db_url: str) -> None:
    ids = seed(db_url)
    with session_scope(db_url) as session, pytest.raises(ValueError, match="into itself"):
        merge_requests(session, ids["r1"], ids["r1"], "http://app")
    with session_scope(db_url) as session:
        merge_requests(session, ids["r2"], ids["r1"], "http://app")
    with session_scope(db_url) as session, pytest.raises(ValueError, match="already merged into"):
        merge_requests(session, ids["r2"], ids["r3"], "http://app")
    with session_scope(db_url) as session, pytest.raises(ValueError, match="itself merged into"):
        merge_requests(session, ids["r3"], ids["r2"], "http://app")
    with session_scope(db_url) as session, pytest.raises(NotFoundError):
        merge_requests(session, "no-such-request", ids["r1"], "http://app")


def test_failed_merge_changes_nothing(sqlite_url: str) -> None:
    ids = seed(sqlite_url)
    before = counts(sqlite_url, ids)
    with pytest.raises(RuntimeError), session_scope(sqlite_url) as session:
        merge_requests(session, ids["r2"], ids["r1"], "http://app")
        raise RuntimeError("crash before commit")
    assert counts(sqlite_url, ids) == before


def test_duplicate_candidates_suggest_keeping_the_busier_request(db_url: str) -> None:
    ids = seed(db_url)
    with session_scope(db_url) as session:
        # r1 has 2 entries, r2 has 1: merge r2 into r1.
        (candidate,) = duplicate_candidates(session, "identity", threshold=0.9)
        assert (candidate.duplicate_id, candidate.target_id) == (ids["r2"], ids["r1"])
        assert candidate.merge_command == f"gtm-feedback requests merge {ids['r2']} {ids['r1']}"
        assert candidate.similarity == pytest.approx(0.99)
        assert duplicate_candidates(session, "billing", threshold=0.9) == []
        assert duplicate_candidates(session, None, threshold=0.999) == []
    with session_scope(db_url) as session:
        merge_requests(session, ids["r2"], ids["r1"], "http://app")
    with session_scope(db_url) as session:
        assert duplicate_candidates(session, None, threshold=0.5) == []


def test_upstash_removal_after_merge(monkeypatch: pytest.MonkeyPatch, upstash_standin) -> None:
    monkeypatch.setenv("GTM_FEEDBACK_VECTOR_INDEX", "upstash")
    monkeypatch.setenv("UPSTASH_VECTOR_REST_URL", upstash_standin.url)
    monkeypatch.setenv("UPSTASH_VECTOR_REST_TOKEN", "token-x")
    assert remove_from_serving_index(load_settings(), 42) is None
    deletes = [r for r in upstash_standin.requests if r.path.startswith("/delete")]
    assert [d.json for d in deletes] == [{"ids": ["42"]}]

    monkeypatch.setenv("UPSTASH_VECTOR_REST_URL", "http://127.0.0.1:9")  # nothing listens
    warning = remove_from_serving_index(load_settings(), 42)
    assert warning and "request_embeddings removes it" in warning and "token-x" not in warning

    monkeypatch.setenv("GTM_FEEDBACK_VECTOR_INDEX", "local")
    assert remove_from_serving_index(load_settings(), 42) is None


def test_merge_notice_escapes_the_titles(sqlite_url: str) -> None:
    ids = seed(sqlite_url)
    with session_scope(sqlite_url) as session:
        session.get(Request, ids["r2"]).title = "Exports <!channel> | *now* & <http://evil|x>"
    with session_scope(sqlite_url) as session:
        merge_requests(session, ids["r2"], ids["r1"], "http://app")
    with session_scope(sqlite_url) as session:
        text = session.scalars(select(OutboxMessage.text)).first()
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt;" in text
    # Each link is one <url|label>: the title's `|` cannot end the label early.
    assert text.count("|") == 2
