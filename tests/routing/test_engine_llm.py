"""`route_batch` with the LLM judge through the real openai client and the local stand-in: an
unavailable judge (429 after the client's retries) never lets the calibrated scorer decide in its
place; the entry waits for a later run, then a person is asked. Judge calls run concurrently
and under a per-run token budget, recorded in the run's report."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.ai.llm import ChatLLM
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.routing.engine import route_batch
from gtm_feedback_dagster.routing.judging import LLM_WAIT_RUNS
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, Request
from tests.routing.conftest import EnvFactory
from tests.routing.handmade import NEW_NEEDS, CountingEmbedder, add_entry, entry, seed_requests
from tests.standins.openai_standin import OpenAIStandin, openai_error

ATTACH_TEXT = (
    "They need to export their dashboards to PDF so they can share them in board meetings."
)
OTHER_TEXTS = [
    "Their security team wants to block logins that come from outside the office network.",
    "Email the weekly report to the leadership list every Monday morning.",
    "Okta SAML sign-in for the whole company, please.",
]


def _llm(server: OpenAIStandin) -> ChatLLM:
    return ChatLLM("sk-test-0123456789", "gpt-4o-mini", base_url=server.base_url, max_retries=1)


def _rate_limited(server: OpenAIStandin) -> None:
    server.fail_next(
        429,
        openai_error("Rate limit reached for gpt-4o-mini", 429, "requests", "rate_limit_exceeded"),
        path="/v1/chat/completions",
        times=None,
    )


def _pain(body: dict) -> str:
    user = body["messages"][1]["content"]
    match = re.fullmatch(r"<data>\n(.*)\n</data>", user, re.DOTALL)
    assert match
    return str(json.loads(match.group(1))["pain"])


def test_a_rate_limited_judge_never_attaches_by_fallback(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    make_env: EnvFactory,
    openai_standin: OpenAIStandin,
) -> None:
    seeded = seed_requests(sqlite_url)
    # Thresholds low enough that the calibrated scorer alone would attach the entry.
    env = make_env(sqlite_url, local_embedder, auto=0.05, ask=0.01, llm=_llm(openai_standin))
    entry_id = add_entry(sqlite_url, ATTACH_TEXT, seeded.alice)
    _rate_limited(openai_standin)

    for run in range(1, LLM_WAIT_RUNS):
        report = route_batch(env, [entry_id])
        assert [o.tier for o in report.outcomes] == ["waiting"]
        assert report.llm_unavailable and "429" in report.llm_unavailable
        assert report.as_metadata()["llm"]["unavailable"]
        row = entry(sqlite_url, entry_id)
        assert (row.status, row.request_id, row.attempts) == ("pending", None, run)
    # The client retried (max_retries=1): two requests per run, all answered 429.
    assert {r.status for r in openai_standin.chat_requests} == {429}

    # The last allowed run: a person is asked; never an automatic attach.
    report = route_batch(env, [entry_id])
    assert [o.tier for o in report.outcomes] == ["ask"]
    assert report.counts_by_note("llm unavailable; asked") == 1
    row = entry(sqlite_url, entry_id)
    assert row.status == "awaiting_approval" and row.match_type is None
    assert "LLM judge was unavailable" in (row.reason or "")
    with session_scope(sqlite_url) as s:
        approval = s.query(Approval).filter_by(feedback_id=entry_id).one()
        assert approval.request_id == seeded.request_ids["Export dashboards to PDF"]


def test_after_the_first_failure_the_run_stops_calling(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    make_env: EnvFactory,
    openai_standin: OpenAIStandin,
) -> None:
    seeded = seed_requests(sqlite_url)
    env = make_env(sqlite_url, local_embedder, llm=_llm(openai_standin))
    ids = [add_entry(sqlite_url, t, seeded.bob) for t in [ATTACH_TEXT, *OTHER_TEXTS]]
    _rate_limited(openai_standin)
    report = route_batch(replace(env, settings=replace(env.settings, llm_concurrency=1)), ids)
    assert report.counts["waiting"] == 4
    # One entry's call and its one retry; the breaker answers the others without a call.
    assert len(openai_standin.chat_requests) == 2
    with session_scope(sqlite_url) as s:
        assert {f.status for f in s.query(Feedback).filter(Feedback.id.in_(ids))} == {"pending"}


def test_judge_calls_are_concurrent_and_reused_by_the_decisions(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    make_env: EnvFactory,
    openai_standin: OpenAIStandin,
) -> None:
    seeded = seed_requests(sqlite_url)
    env = make_env(sqlite_url, local_embedder, llm=_llm(openai_standin))
    pdf = seeded.request_ids["Export dashboards to PDF"]

    def judge(body: dict) -> dict:
        pain = _pain(body)
        if "PDF" in pain:
            return {"request_id": pdf, "confidence": 0.95, "reason": "Same need."}
        return {"request_id": None, "confidence": 0.1, "reason": "Different."}

    openai_standin.chat_handler = judge
    ids = [add_entry(sqlite_url, t, seeded.alice) for t in [ATTACH_TEXT, *OTHER_TEXTS]]
    report = route_batch(env, ids)
    judged = [o for o in report.outcomes if o.method == "llm"]
    assert len(judged) == 4
    assert entry(sqlite_url, ids[0]).request_id == pdf
    # One judge call per entry whose candidates did not change in the batch, plus at most one
    # per entry that met a request created earlier in the batch (re-judged); drafting calls too.
    judge_calls = [
        r for r in openai_standin.chat_requests if "candidates" in r.json["messages"][1]["content"]
    ]
    assert 4 <= len(judge_calls) <= 4 + 3
    meta = report.as_metadata()["llm"]
    assert meta["calls"] == len(openai_standin.chat_requests) and meta["tokens"] > 0
    assert meta["budget_hit"] is False and meta["token_budget"] == env.settings.llm_token_budget
    assert "llm_prefetch" in report.timings


@pytest.mark.parametrize("budget", [1])
def test_a_spent_token_budget_leaves_the_rest_pending(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    make_env: EnvFactory,
    openai_standin: OpenAIStandin,
    budget: int,
) -> None:
    seeded = seed_requests(sqlite_url)
    env = make_env(sqlite_url, local_embedder, llm=_llm(openai_standin))
    env = replace(env, settings=replace(env.settings, llm_token_budget=budget, llm_concurrency=1))
    openai_standin.chat_handler = lambda body: {
        "request_id": None,
        "confidence": 0.1,
        "reason": "Different.",
    }
    ids = [add_entry(sqlite_url, t, seeded.alice) for t in [ATTACH_TEXT, *OTHER_TEXTS]]
    report = route_batch(env, ids)
    assert report.llm_budget_hit and report.as_metadata()["llm"]["budget_hit"] is True
    assert report.counts["waiting"] == 3  # the first call spent the budget
    assert len(openai_standin.chat_requests) == 1
    assert entry(sqlite_url, ids[1]).status == "pending"


def test_llm_drafts_are_made_before_the_loop_and_embedded_in_one_call(
    sqlite_url: str,
    local_embedder: LocalEmbedder,
    make_env: EnvFactory,
    openai_standin: OpenAIStandin,
) -> None:
    """Entries the judge sends to new requests are drafted by the LLM concurrently before the
    per-entry loop; the loop reuses those drafts (no second drafting call) and their texts are
    embedded in one call, not one per new request."""
    seeded = seed_requests(sqlite_url)
    titles = {
        "mobile app": "Offline mode for the mobile app",
        "yen": "Invoices in Japanese yen",
        "barcode": "Barcode scanning on handheld devices",
    }

    def answer(body: dict) -> dict:
        pain = _pain(body)
        if "candidates" in body["messages"][1]["content"]:
            return {"request_id": None, "confidence": 0.05, "reason": "A new need."}
        title = next(t for key, t in titles.items() if key in pain)
        return {"title": title, "description": pain[:200], "area_slugs": ["dashboards"]}

    openai_standin.chat_handler = answer
    counting = CountingEmbedder(local_embedder)
    env = make_env(sqlite_url, counting, llm=_llm(openai_standin))
    counting.calls.clear()
    ids = [add_entry(sqlite_url, t, seeded.alice) for t in NEW_NEEDS]
    report = route_batch(env, ids)

    assert report.counts["new"] == 3, report.outcomes
    drafting = [
        r
        for r in openai_standin.chat_requests
        if "candidates" not in r.json["messages"][1]["content"]
    ]
    assert len(drafting) == 3  # one per new request: the loop reused the predrafted answers
    assert counting.calls == [3, 3]  # the batch's entries, then the three drafts together
    with session_scope(sqlite_url) as s:
        created = {
            r.title for r in s.scalars(select(Request).where(Request.created_by_routing.is_(True)))
        }
    assert created == set(titles.values())
