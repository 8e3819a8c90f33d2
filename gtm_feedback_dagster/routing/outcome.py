"""Applying one routing decision, and the new-request drafts of a batch embedded in one call.

A new request's vector is the embedding of its drafted text, needed at once: later entries of
the same batch are matched against it. Embedding each draft when its entry is applied cost one
embedding call per new request (a round trip each with OpenAI; with the in-process local model
a call costs what its text costs, so it is left as it was). `predraft_vectors` drafts, before
the per-entry loop, every entry the catalogue alone sends to a new request and embeds those
texts in one call; `apply_decision` takes a vector from there when the entry's final draft has
the same text (the deterministic draft's text depends only on the entry), and embeds on its own
only what was not foreseen: an entry that became new because of a decision earlier in the batch.
With an LLM the judge's prefetched verdicts foresee the new requests and the LLM drafts them
concurrently before the loop; the run's answer memory gives the loop the same drafts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder, EmbeddingError
from gtm_feedback_dagster.ai.llm import ChatLLM
from gtm_feedback_dagster.core.text import request_text
from gtm_feedback_dagster.routing.apply import (
    Applied,
    EntrySnapshot,
    apply_ask,
    apply_attach,
    apply_new_request,
)
from gtm_feedback_dagster.routing.candidates import RequestInfo, ScoredCandidate
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.decide import Decision, Thresholds, decide
from gtm_feedback_dagster.routing.drafting import draft_new_request

if TYPE_CHECKING:
    from gtm_feedback_dagster.routing.engine import RoutingEnv

log = logging.getLogger(__name__)

CLAIM_RETRIES = 3  # a unique-slug race with a concurrent run: redo the entry's transaction


def with_claim_retries(env: RoutingEnv, fn: Callable[[Session], Applied]) -> Applied:
    for attempt in range(CLAIM_RETRIES):
        try:
            with env.session() as session:
                return fn(session)
        except IntegrityError:
            # Another run took the same slug (or follower/approval key) between our read and
            # write; the retry sees its row and picks another slug or skips.
            if attempt == CLAIM_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def predraft_vectors(
    embedder: Embedder,
    scorer: CalibratedScorer,
    thresholds: Thresholds,
    entries: Sequence[EntrySnapshot],
    candidate_lists: Iterable[Sequence[ScoredCandidate]],  # lazy: unused for cheap calls
    areas: Sequence[tuple[str, str, str]],
    llm: ChatLLM | None = None,
    concurrency: int = 1,
) -> dict[str, np.ndarray]:
    """Drafted text -> vector for the entries the catalogue alone sends to a new request. With
    an LLM its (prefetched) verdicts decide and it drafts, `concurrency` calls at a time; the
    run's answer memory hands the same drafts to the per-entry loop without another call.
    Nothing for an embedder whose calls are cheap (`calls_are_cheap`, the in-process local
    model): there the forecast cost more than the calls it saved (docs/benchmarks.md)."""
    if getattr(embedder, "calls_are_cheap", False):
        return {}
    foreseen: list[tuple[EntrySnapshot, Sequence[ScoredCandidate]]] = []
    for entry, candidates in zip(entries, candidate_lists, strict=True):
        try:
            tier = decide(entry.pain, candidates, scorer, thresholds, llm).tier
        except Exception:  # only a forecast: the loop meets the error and handles it
            continue
        if tier == "new":
            foreseen.append((entry, candidates))

    def draft_text(job: tuple[EntrySnapshot, Sequence[ScoredCandidate]]) -> str | None:
        entry, candidates = job
        try:
            draft = draft_new_request(entry.pain, candidates, areas, llm, names=entry.names)
        except Exception:  # as above
            return None
        return request_text(draft.title, draft.description)

    if llm is None or len(foreseen) < 2:
        drafts = [draft_text(job) for job in foreseen]
    else:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            drafts = list(pool.map(draft_text, foreseen))
    texts = {t for t in drafts if t is not None}
    if not texts:
        return {}
    ordered = sorted(texts)
    try:
        vectors = embedder.embed(ordered)
    except EmbeddingError as exc:
        # Each new request is then embedded on its own, where a bad answer fails one entry
        # (or, when transient, the batch's retry), as without the forecast.
        log.warning("embedding the batch's new-request drafts failed (%s); one by one", exc)
        return {}
    return dict(zip(ordered, vectors, strict=True))


def _alternatives(decision: Decision, infos: Mapping[int, RequestInfo]) -> list[RequestInfo]:
    """Other close candidates worth showing the submitter with an ask (the top candidate is
    uncertain, or the entry would have been attached)."""
    ids = decision.details.get("alternatives") or []
    return [infos[i] for i in ids if isinstance(i, int) and i in infos]


def apply_decision(
    env: RoutingEnv,
    llm: ChatLLM | None,
    entry: EntrySnapshot,
    decision: Decision,
    candidates: Sequence[ScoredCandidate],
    infos: Mapping[int, RequestInfo],
    areas: list[tuple[str, str, str]],
    drafted: Mapping[str, np.ndarray],
) -> tuple[Applied, np.ndarray | None]:
    """Applies the decision; for a new request also returns its vector, so later entries of the
    batch are scored against it without another index round trip."""
    if decision.tier == "attach":
        assert decision.request_id is not None
        request = infos[decision.request_id]
        applied = with_claim_retries(
            env, lambda s: apply_attach(s, entry, request, decision, env.settings)
        )
        return applied, None
    if decision.tier == "ask":
        assert decision.request_id is not None
        request = infos[decision.request_id]
        alternatives = _alternatives(decision, infos)
        applied = with_claim_retries(
            env, lambda s: apply_ask(s, entry, request, decision, env.settings, alternatives)
        )
        return applied, None
    draft = draft_new_request(entry.pain, candidates, areas, llm, names=entry.names)
    text = request_text(draft.title, draft.description)
    vector = drafted[text] if text in drafted else env.embedder.embed([text])[0]
    applied = with_claim_retries(
        env,
        lambda s: apply_new_request(
            s, entry, draft, decision, env.settings, env.embedder.model_id, vector, None
        ),
    )
    return applied, vector
