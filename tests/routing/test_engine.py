"""`route_batch` end to end on a small handmade data set with the real local model, on SQLite
and PostgreSQL: the three tiers, matching a request created earlier in the same batch, reruns,
overlapping runs and per-entry failures."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.routing.engine import RoutingEnv, route_batch
from gtm_feedback_dagster.routing.search import search_requests
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    Follower,
    OutboxMessage,
    Request,
    RequestVector,
)
from tests.routing.conftest import EnvFactory
from tests.routing.handmade import Seeded, add_entry, counts, entry, seed_requests

ATTACH_TEXT = (
    "They need to export their dashboards to PDF so they can share them in board meetings."
)
ASK_TEXT = "Their security team wants to block logins that come from outside the office network."
NEW_TEXT = "Sales reps want a mobile app that keeps working offline on planes."
FOLLOW_UP_TEXT = "Reps need the mobile app to keep working offline on planes too."


def _top_confidence(env: RoutingEnv, text: str) -> tuple[str, float]:
    with env.session() as s:
        best = search_requests(s, env.embedder, env.index, env.scorer, text, limit=1)[0]
    return best.request.title, best.confidence


def _thresholds(env: RoutingEnv) -> tuple[float, float]:
    """Thresholds that put the three handmade entries in the three tiers, from their real
    calibrated confidences (so the test survives a refit of the calibration)."""
    title_a, attach = _top_confidence(env, ATTACH_TEXT)
    title_b, ask = _top_confidence(env, ASK_TEXT)
    _, new = _top_confidence(env, NEW_TEXT)
    assert title_a == "Export dashboards to PDF"
    assert title_b == "IP allowlisting"
    assert attach > ask > new, (attach, ask, new)
    return (attach + ask) / 2, (ask + new) / 2


@pytest.fixture
def routed(db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory):  # type: ignore[no-untyped-def]
    seeded = seed_requests(db_url)
    probe = make_env(db_url, local_embedder)
    auto, ask = _thresholds(probe)
    ids = [
        add_entry(db_url, ATTACH_TEXT, seeded.alice, "high"),
        add_entry(db_url, ASK_TEXT, seeded.bob),
        add_entry(db_url, NEW_TEXT, seeded.bob, "low"),
        add_entry(db_url, FOLLOW_UP_TEXT, seeded.alice),
    ]
    env = make_env(db_url, local_embedder, auto=auto, ask=ask)
    report = route_batch(env, ids)
    return seeded, env, ids, report


def test_all_three_tiers_happen(routed) -> None:  # type: ignore[no-untyped-def]
    seeded, env, (attach_id, ask_id, new_id, follow_id), report = routed
    url = env.settings.database_url
    assert [o.tier for o in report.outcomes] == ["attach", "ask", "new", "attach"]
    assert report.counts == {
        "attach": 2,
        "ask": 1,
        "new": 1,
        "failed": 0,
        "skipped": 0,
        "waiting": 0,
    }
    assert report.methods == {"calibrated": 4}
    assert report.requests_embedded == 0  # make_env already embedded the requests

    attached = entry(url, attach_id)
    assert attached.status == "routed" and attached.match_type == "auto"
    assert attached.request_id == seeded.request_ids["Export dashboards to PDF"]
    assert attached.confidence is not None and attached.reason and attached.routed_at
    assert attached.meta["routing"]["method"] == "calibrated"

    asked = entry(url, ask_id)
    assert asked.status == "awaiting_approval" and asked.request_id is None

    created = entry(url, new_id)
    assert created.status == "routed" and created.match_type == "new_request"
    follow = entry(url, follow_id)
    # The follow-up matched the request created from the entry before it, in the same batch.
    assert follow.match_type == "auto" and follow.request_id == created.request_id

    with session_scope(url) as s:
        new_request = s.get(Request, created.request_id)
        assert new_request is not None and new_request.created_by_routing
        assert new_request.creator_id == seeded.bob
        assert 10 <= len(new_request.title) <= 200
        assert new_request.title.startswith("Sales reps want a mobile app")
        assert [a.slug for a in new_request.areas]  # an area was chosen
        # Its vector is stored with the request.
        assert s.get(RequestVector, new_request.id) is not None

        approval = s.scalars(select(Approval)).one()
        assert (approval.feedback_id, approval.status) == (ask_id, "pending")
        assert approval.request_id == seeded.request_ids["IP allowlisting"]
        assert approval.expires_at is not None

        followers = set(s.execute(select(Follower.user_id, Follower.request_id)).all())
        assert followers == {
            (seeded.alice, seeded.request_ids["Export dashboards to PDF"]),
            (seeded.bob, new_request.id),
            (seeded.alice, new_request.id),
        }
        messages = {m.dedupe_key: m for m in s.scalars(select(OutboxMessage))}
        assert set(messages) == {
            f"confirm:{attach_id}",
            f"approval:{approval.id}",
            f"new_request:{new_id}",
            f"confirm:{follow_id}",
        }
        ask_message = messages[f"approval:{approval.id}"]
        assert ask_message.user_id == seeded.bob and ask_message.approval_id == approval.id
        buttons = ask_message.blocks[-1]["elements"]  # type: ignore[index]
        assert [b["action_id"] for b in buttons] == [
            "feedback_match_approval_approve",
            "feedback_match_approval_decline",
        ]
        assert str(approval.id) in buttons[0]["value"]
        assert "/requests/ip-allowlisting" in ask_message.text


def test_rerunning_the_batch_changes_nothing(routed) -> None:  # type: ignore[no-untyped-def]
    _, env, ids, _ = routed
    url = env.settings.database_url
    before = counts(url)
    report = route_batch(env, ids)
    assert report.outcomes == []  # nothing is pending any more
    assert counts(url) == before


def test_overlapping_runs_apply_each_entry_once(
    db_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded = seed_requests(db_url)
    texts = [ATTACH_TEXT, ASK_TEXT, NEW_TEXT, FOLLOW_UP_TEXT, ATTACH_TEXT, NEW_TEXT]
    ids = [add_entry(db_url, t, seeded.alice) for t in texts]
    envs = [make_env(db_url, local_embedder), make_env(db_url, local_embedder)]
    start = threading.Barrier(2)
    reports = {}
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            reports[n] = route_batch(envs[n], ids)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    applied = [o for r in reports.values() for o in r.outcomes if o.tier != "skipped"]
    assert sorted(o.entry_id for o in applied) == sorted(ids)  # each entry exactly once
    with session_scope(db_url) as s:
        assert (
            s.scalar(select(func.count()).select_from(Feedback).where(Feedback.status == "pending"))
            == 0
        )
        per_entry = s.execute(
            select(OutboxMessage.feedback_id, func.count()).group_by(OutboxMessage.feedback_id)
        ).all()
        assert sorted(e for e, _ in per_entry) == sorted(ids)
        assert all(n == 1 for _, n in per_entry)
        approvals = s.execute(
            select(Approval.feedback_id, func.count()).group_by(Approval.feedback_id)
        ).all()
        assert all(n == 1 for _, n in approvals)
        routed_new = s.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.match_type == "new_request")
        )
        created = s.scalar(
            select(func.count()).select_from(Request).where(Request.created_by_routing)
        )
        assert created == routed_new  # no request created without its entry


def test_a_permanent_problem_fails_only_that_entry(
    sqlite_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded: Seeded = seed_requests(sqlite_url)
    good = add_entry(sqlite_url, ATTACH_TEXT, seeded.alice)
    empty = add_entry(sqlite_url, " \n\t ", seeded.bob)
    also_good = add_entry(sqlite_url, NEW_TEXT, seeded.bob)
    report = route_batch(make_env(sqlite_url, local_embedder), [good, empty, also_good])
    assert report.counts["failed"] == 1
    failed = entry(sqlite_url, empty)
    assert failed.status == "failed" and "empty" in (failed.error or "")
    assert failed.attempts == 0  # refused before any try
    assert entry(sqlite_url, good).status != "pending"
    assert entry(sqlite_url, also_good).status != "pending"


def test_entries_are_given_up_after_too_many_runs(
    sqlite_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    seeded = seed_requests(sqlite_url)
    stuck = add_entry(sqlite_url, ATTACH_TEXT, seeded.alice)
    with session_scope(sqlite_url) as s:
        row = s.get(Feedback, stuck)
        assert row is not None
        row.attempts = 5  # five runs tried to decide it and none finished
    report = route_batch(make_env(sqlite_url, local_embedder), [stuck])
    assert report.counts["failed"] == 1
    assert "did not finish after 5 runs" in (entry(sqlite_url, stuck).error or "")


def test_one_new_need_in_one_batch_becomes_one_request(
    sqlite_url: str, local_embedder: LocalEmbedder, make_env: EnvFactory
) -> None:
    """Issue 11 item 4: entries of one batch describing the same new need become one request
    (a later entry is matched through the earlier entries too), and a rerun changes nothing."""
    seeded = seed_requests(sqlite_url)
    texts = [
        "Sales reps want a mobile app that keeps working offline on planes.",
        "Our field reps need an offline mode in a phone app for when they travel.",
        "Reps on flights can't use the product: a mobile app that works offline, please.",
    ]
    db_url = sqlite_url
    ids = [add_entry(db_url, t, seeded.bob) for t in texts]
    env = make_env(db_url, local_embedder)
    report = route_batch(env, ids)
    with session_scope(db_url) as s:
        created = s.scalar(
            select(func.count()).select_from(Request).where(Request.created_by_routing)
        )
    assert created == 1, [(o.tier, o.request_id, o.confidence) for o in report.outcomes]
    again = route_batch(env, ids)
    assert again.outcomes == []


def test_an_attach_through_another_entry_needs_the_text_too() -> None:
    from gtm_feedback_dagster.routing.batch_state import rests_on_members as _rests_on_members
    from gtm_feedback_dagster.routing.decide import Decision
    from gtm_feedback_dagster.vectors.base import VectorHit

    attach = Decision("attach", 7, 0.95, "r", "calibrated")
    merged = [VectorHit(7, 0.81), VectorHit(3, 0.6)]
    # Request 7 scored 0.81 through an entry of this batch, 0.55 through its own text.
    assert _rests_on_members(attach, merged, [VectorHit(7, 0.81)])
    assert not _rests_on_members(attach, merged, [VectorHit(7, 0.50)])  # its text was better
    assert not _rests_on_members(attach, merged, [])
    ask = Decision("ask", 7, 0.6, "r", "calibrated")
    assert not _rests_on_members(ask, merged, [VectorHit(7, 0.81)])
