"""`route_batch`: route a batch of pending feedback entries, usable without Dagster.

load batch → every searchable request has a current vector (missing ones embedded, cheap when
none) → the whole batch embedded in ONE call → one index search (top 50 each), re-scored with
the candidates' confirmed feedback (`routing.exemplars`, its missing vectors embedded) → per
entry, in order: decide (LLM judge or calibrated) and apply in its own transaction. A request created for an
entry is embedded (drafts foreseen from the catalogue in one call, `routing.outcome`), stored
and indexed at once, and later entries of the batch see it — through
its drafted text and through the batch's entries already on it (an attach that rests only on the
latter is asked instead), so one new need in one batch becomes one request. The batch is decided
against the catalogue as of its start plus the requests created earlier in it, in id order — a
rerun after a crash too (`routing.batch_state`).

With an LLM judge, the run has its own view of the client (`ChatLLM.for_run`: a token budget,
answers remembered by prompt, a breaker) and the judge is asked about the whole batch
concurrently first (`routing.judging`). An unavailable judge leaves an entry pending for a
later run (the sweep); after `LLM_WAIT_RUNS` runs its submitter is asked. New requests' vectors
go into the table in their entry's transaction and into the serving index in one upsert per run
(a run that dies before it leaves the index short; the next run's repair refills it).

Failures: a transient one (network, 429/5xx after the clients' retries, a lost database
connection) propagates and the caller (an op with a RetryPolicy) retries the batch, skipping what
was applied. A permanent problem with one entry marks it `failed`, and the batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder, EmbeddingError
from gtm_feedback_dagster.ai.llm import ChatLLM, LLMUnavailable
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.messaging.digest import digest_asks
from gtm_feedback_dagster.routing import exemplars
from gtm_feedback_dagster.routing.apply import (
    EntrySnapshot,
    count_attempts,
    load_pending,
    mark_failed,
)
from gtm_feedback_dagster.routing.batch_state import (
    PriorState,
    plan_batch,
    rests_on_members,
    write_stamps,
)
from gtm_feedback_dagster.routing.candidates import (
    ROUTING_TOP_K,
    RequestInfo,
    hits_against,
    load_request_infos,
    merge_hits,
    resolve_candidates,
)
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.decide import Thresholds, decide
from gtm_feedback_dagster.routing.judging import LLM_WAIT_RUNS, ask_instead, prefetch_verdicts
from gtm_feedback_dagster.routing.outcome import apply_decision, predraft_vectors
from gtm_feedback_dagster.routing.report import BatchReport, EntryOutcome
from gtm_feedback_dagster.routing.search import ensure_request_vectors as ensure_request_vectors
from gtm_feedback_dagster.routing.search import sync_request_vectors
from gtm_feedback_dagster.store.schema import Approval, Feedback, ProductArea
from gtm_feedback_dagster.vectors.base import VectorHit, VectorIndex, VectorIndexError

log = logging.getLogger(__name__)

# A run that loads an entry counts one attempt; after this many runs without finishing (each
# crashed or failed as a whole) the entry is marked failed instead of being retried forever.
MAX_ROUTE_ATTEMPTS = 5


def is_transient(exc: BaseException) -> bool:
    """Worth retrying the batch later (the clients already retried quickly)."""
    if isinstance(exc, EmbeddingError | VectorIndexError):
        return bool(getattr(exc, "retryable", False))
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, DBAPIError):
        # Lost connections, "database is locked", serialization failures.
        return bool(exc.connection_invalidated) or exc.__class__.__name__ == "OperationalError"
    return isinstance(exc, ConnectionError | TimeoutError)


@dataclass
class RoutingEnv:
    """What routing needs: settings, a transaction factory and the AI parts."""

    settings: Settings
    session: Callable[[], AbstractContextManager[Session]]
    embedder: Embedder
    index: VectorIndex
    scorer: CalibratedScorer
    llm: ChatLLM | None = None

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.settings.auto_attach_threshold, self.settings.ask_threshold)


def _areas(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(ProductArea.slug, ProductArea.name, ProductArea.description).order_by(ProductArea.id)
    ).all()
    return [(slug, name, description or "") for slug, name, description in rows]


def _fail(env: RoutingEnv, report: BatchReport, entry_id: int, error: str) -> None:
    with env.session() as session:
        changed = mark_failed(session, entry_id, error)
    report.outcomes.append(EntryOutcome(entry_id, "failed" if changed else "skipped", error=error))


def route_batch(
    env: RoutingEnv,
    entry_ids: Sequence[int],
    count_attempt: bool = True,
    max_attempts: int = MAX_ROUTE_ATTEMPTS,
) -> BatchReport:
    """Route the still-pending entries among `entry_ids` (others are ignored, so a rerun does
    only what is left). `count_attempt` counts this call as one more try of each entry, once the
    batch has been embedded and searched: a run that dies before that (killed at start-up, while
    the model loads, an unreachable provider) is retried by the run and not blamed on its
    entries. An entry tried `max_attempts` times without finishing is marked failed instead."""
    report = BatchReport(requested=len(set(entry_ids)))
    started = time.perf_counter()
    tokens_before = env.embedder.usage.prompt_tokens
    # This run's own view of the LLM: its usage, token budget, answer memory and breaker.
    llm = env.llm.for_run(env.settings.llm_token_budget) if env.llm is not None else None
    report.llm_token_budget = llm.token_budget if llm is not None else None

    with env.session() as session:
        entries = load_pending(session, entry_ids, count_attempt=False)
        areas = _areas(session)
    report.timings["load"] = time.perf_counter() - started
    warning = env.scorer.check_model(env.embedder.model_id) if env.llm is None else None
    if warning:
        report.warnings.append(warning)

    routable: list[EntrySnapshot] = []
    for entry in entries:
        if entry.attempts >= max_attempts:
            _fail(
                env,
                report,
                entry.id,
                f"routing did not finish after {max_attempts} runs; see the failed runs of "
                "route_feedback_job for the cause",
            )
        elif not entry.pain.strip():
            _fail(env, report, entry.id, "customer pain text is empty; nothing to route")
        else:
            routable.append(entry)
    if not routable:
        report.timings["total"] = time.perf_counter() - started
        return report

    t = time.perf_counter()
    report.caught_up(sync_request_vectors(env.session, env.embedder, env.index))
    report.timings["ensure_vectors"] = time.perf_counter() - t

    # A rerun after a crash decides each entry with its own batch's state (routing.batch_state).
    with env.session() as session:
        plan = plan_batch(session, [e.id for e in routable])

    t = time.perf_counter()
    texts = [query_text(e.pain) for e in routable] + [query_text(p) for p in plan.member_pains]
    vectors = env.embedder.embed(texts)  # ONE call per batch
    queries, member_queries = vectors[: len(routable)], vectors[len(routable) :]
    report.timings["embed_batch"] = time.perf_counter() - t

    t = time.perf_counter()
    raw_hits = env.index.search(queries, plan.search_k(ROUTING_TOP_K))
    hit_lists = plan.catalogue_hits(raw_hits, ROUTING_TOP_K)
    candidate_ids = sorted({h.id for hits in hit_lists for h in hits})
    report.exemplars_embedded = exemplars.sync_exemplar_vectors(
        env.session, env.embedder, request_ids=candidate_ids
    )
    with env.session() as session:
        hit_lists, through_feedback = exemplars.with_exemplars(
            session, env.embedder.model_id, [e.id for e in routable], queries, hit_lists
        )
        wanted = {h.id for hits in hit_lists for h in hits} | plan.prior_created_ids
        infos = load_request_infos(session, wanted)
    report.timings["search"] = time.perf_counter() - t

    with env.session() as session:
        write_stamps(session, dict(zip([e.id for e in routable], plan.stamps, strict=True)))
        if count_attempt:
            count_attempts(session, [e.id for e in routable])

    if llm is not None:
        t = time.perf_counter()
        jobs = [
            (e.pain, resolve_candidates(merge_hits(hits)[:ROUTING_TOP_K], infos)[0])
            for e, hits in zip(routable, hit_lists, strict=True)
        ]
        prefetch_verdicts(llm, jobs, env.settings.llm_concurrency)
        report.timings["llm_prefetch"] = time.perf_counter() - t

    t = time.perf_counter()
    # New requests' drafts embedded in one call (routing.outcome).
    drafted = predraft_vectors(
        env.embedder,
        env.scorer,
        env.thresholds,
        routable,
        (resolve_candidates(merge_hits(h)[:ROUTING_TOP_K], infos)[0] for h in hit_lists),
        areas,
        llm,
        env.settings.llm_concurrency,
    )
    report.timings["predraft"] = time.perf_counter() - t
    t = time.perf_counter()
    pending_index: list[tuple[int, np.ndarray, dict[str, Any]]] = []  # one upsert per run
    try:
        for at, prior, seeded in plan.groups(member_queries):
            _decide_and_apply(
                env,
                llm,
                report,
                [routable[i] for i in at],
                queries[at],
                [hit_lists[i] for i in at],
                infos,
                areas,
                pending_index,
                attempt_offset=1 if count_attempt else 0,
                prior=prior,
                prior_member_queries=seeded,
                through_feedback=through_feedback,
                drafted=drafted,
            )
    finally:
        _flush_index(env, report, pending_index)
    _digest(env, report)
    report.timings["decide_apply"] = time.perf_counter() - t
    report.timings["total"] = time.perf_counter() - started
    report.embedding_tokens = env.embedder.usage.prompt_tokens - tokens_before
    if llm is not None:
        report.llm_tokens = dict(llm.usage)
        report.llm_budget_hit = llm.budget_hit
        assert env.llm is not None
        for key, value in llm.usage.items():  # the process-wide totals stay complete
            env.llm.usage[key] = env.llm.usage.get(key, 0) + value
    return report


def _digest(env: RoutingEnv, report: BatchReport) -> None:
    """At most one question DM per submitter per batch: two or more asks become one digest."""
    asked = [o.entry_id for o in report.outcomes if o.tier == "ask"]
    if len(asked) < 2:
        return
    with env.session() as session:
        rows = session.execute(
            select(Approval.id, Feedback.submitter_id)
            .join(Feedback, Feedback.id == Approval.feedback_id)
            .where(Approval.feedback_id.in_(asked), Approval.status == "pending")
        ).all()
        by_submitter: dict[int, list[int]] = {}
        for approval_id, submitter_id in rows:
            if submitter_id is not None:
                by_submitter.setdefault(int(submitter_id), []).append(int(approval_id))
        report.digests = digest_asks(session, env.settings.app_url, by_submitter)


def _flush_index(
    env: RoutingEnv, report: BatchReport, rows: list[tuple[int, np.ndarray, dict[str, Any]]]
) -> None:
    """The run's new requests into the serving index, in one upsert."""
    if not rows:
        return
    t = time.perf_counter()
    env.index.upsert([r[0] for r in rows], np.stack([r[1] for r in rows]), [r[2] for r in rows])
    report.timings["index_upsert"] = time.perf_counter() - t


def _decide_and_apply(
    env: RoutingEnv,
    llm: ChatLLM | None,
    report: BatchReport,
    routable: Sequence[EntrySnapshot],
    queries: np.ndarray,
    hit_lists: Sequence[Sequence[VectorHit]],
    infos: dict[int, RequestInfo],
    areas: list[tuple[str, str, str]],
    pending_index: list[tuple[int, np.ndarray, dict[str, Any]]],
    attempt_offset: int,
    prior: PriorState,
    prior_member_queries: np.ndarray,
    through_feedback: dict[int, set[int]],
    drafted: dict[str, np.ndarray],
) -> None:
    dim, known = queries.shape[1], len(prior.created_ids)
    created_ids: list[int] = list(prior.created_ids)
    # This batch's new requests' vectors, grown in place (re-stacking cost O(created) per entry).
    created_matrix = np.zeros((len(routable) + known, dim), dtype=np.float32)
    if known:
        created_matrix[:known] = np.stack(prior.created_vectors)
    # One need, one request: a request created in this batch is also matched through the
    # entries already on it (created it, attached or proposed to it) — the best of its drafted
    # text and their vectors — so the next entry of the same new need finds it.
    member_ids: list[int] = list(prior.member_request_ids)
    member_matrix = np.zeros((len(routable) + len(member_ids), dim), dtype=np.float32)
    if member_ids:
        member_matrix[: len(member_ids)] = prior_member_queries
    created_set: set[int] = set(created_ids)
    for entry, query, hits in zip(routable, queries, hit_lists, strict=True):
        try:
            extra = hits_against(query, created_ids, created_matrix[: len(created_ids)])
            members = hits_against(query, member_ids, member_matrix[: len(member_ids)])
            merged = merge_hits(hits, extra, members)[:ROUTING_TOP_K]
            candidates, unknown = resolve_candidates(merged, infos)
            report.stale_hits += len(unknown)
            try:
                decision = decide(entry.pain, candidates, env.scorer, env.thresholds, llm)
            except LLMUnavailable as exc:
                runs = entry.attempts + attempt_offset
                report.llm_unavailable = report.llm_unavailable or str(exc)
                asked = (
                    ask_instead(entry.pain, candidates, env.scorer, env.thresholds, runs, str(exc))
                    if runs >= LLM_WAIT_RUNS
                    else None
                )
                if asked is None:
                    # Stays pending: a later run (the sensor's sweep) tries the judge again.
                    report.outcomes.append(EntryOutcome(entry.id, "waiting", error=str(exc)))
                    continue
                decision = asked
            if rests_on_members(decision, merged, members):
                # Attach only when the request's own text attaches it too; else ask.
                text_only, _ = resolve_candidates(merge_hits(hits, extra)[:ROUTING_TOP_K], infos)
                alone = decide(entry.pain, text_only, env.scorer, env.thresholds, llm)
                if (alone.tier, alone.request_id) != ("attach", decision.request_id):
                    note = "matched through another entry of this batch; asked"
                    decision = replace(
                        decision, tier="ask", details={**decision.details, "note": note}
                    )
            decision = exemplars.note_evidence(decision, through_feedback.get(entry.id))
            outcome, new_vector = apply_decision(
                env, llm, entry, decision, candidates, infos, areas, drafted
            )
            if outcome.created_request is not None and new_vector is not None:
                info = outcome.created_request
                infos[info.id] = info
                pending_index.append((info.id, new_vector, info.index_metadata()))
                report.wrote_vectors(info.id, info.area_slugs)
                created_matrix[len(created_ids)] = new_vector
                created_ids.append(info.id)
                created_set.add(info.id)
            if outcome.request_id in created_set and outcome.tier in ("attach", "ask", "new"):
                member_matrix[len(member_ids)] = query
                member_ids.append(int(outcome.request_id))
            report.outcomes.append(
                EntryOutcome(
                    entry.id,
                    outcome.tier,
                    outcome.request_id,
                    decision.confidence,
                    decision.method if outcome.tier != "skipped" else None,
                    note=str(decision.details.get("note") or "") or None,
                )
            )
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("routing entry %s failed permanently: %s", entry.id, exc)
            _fail(env, report, entry.id, f"{type(exc).__name__}: {exc}")
