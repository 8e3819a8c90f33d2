"""The LLM judge within one routing run: concurrent prefetch, and what happens when it is down.

`prefetch_verdicts` asks the judge about every entry of a batch at once, `concurrency` calls at a
time, with the candidates the entry has at the batch's start. The run's `ChatLLM.for_run` view
remembers each answer by prompt, so the decision (`routing.decide.decide`, one entry after the
other) reuses it when the entry's candidates did not change during the batch, and calls again
when they did (a request created earlier in the batch entered its list). Same prompts, same
answers (temperature 0): the outcome is the one of the sequential run, only sooner.

An unavailable judge (`LLMUnavailable`: 429/5xx/timeouts after retries, or the run's token
budget) never lets another method decide in its place: the entry stays pending for a later run,
and after `LLM_WAIT_RUNS` runs a person is asked (`ask_instead`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from gtm_feedback_dagster.ai.llm import Candidate, ChatLLM, LLMUnavailable, judge_match
from gtm_feedback_dagster.routing.candidates import ScoredCandidate
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.decide import Decision, Thresholds, decide, judge_candidates

log = logging.getLogger(__name__)

# Runs an entry waits for an unavailable judge before a person is asked instead. Below
# `engine.MAX_ROUTE_ATTEMPTS`, so such an entry is never marked failed.
LLM_WAIT_RUNS = 3


def prefetch_verdicts(
    llm: ChatLLM, jobs: Sequence[tuple[str, Sequence[ScoredCandidate]]], concurrency: int
) -> int:
    """Judge (pain, candidates) pairs, `concurrency` at a time; answers land in the run's answer
    memory. Returns how many calls failed (the decision meets the same failure and handles it;
    after the first, the run's breaker makes the rest fail without a call)."""
    work = [(pain, judge_candidates(c)) for pain, c in jobs if c and pain.strip()]
    if not work:
        return 0

    def one(job: tuple[str, list[Candidate]]) -> bool:
        try:
            judge_match(llm, job[0], job[1])
            return True
        except LLMUnavailable:
            return False

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="judge") as pool:
        return sum(1 for ok in pool.map(one, work) if not ok)


def ask_instead(
    text: str,
    candidates: Sequence[ScoredCandidate],
    scorer: CalibratedScorer,
    thresholds: Thresholds,
    runs: int,
    error: str,
) -> Decision | None:
    """The judge was unavailable for `runs` runs: ask a person about the closest candidate (the
    calibrated ranking only orders the suggestion and its alternatives; it decides nothing).
    None when there is nothing to suggest."""
    ranked = decide(text, candidates, scorer, thresholds, None)
    if ranked.request_id is None:
        return None
    reason = f"the LLM judge was unavailable in {runs} runs ({error[:200]}); a person decides"
    return replace(
        ranked,
        tier="ask",
        reason=reason,
        details={**ranked.details, "note": "llm unavailable; asked", "llm_error": error[:300]},
    )
