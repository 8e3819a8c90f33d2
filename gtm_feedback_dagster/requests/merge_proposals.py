"""Merge proposals: each likely-duplicate pair is put, once, to one product owner with Merge /
Keep both buttons, and the answer is acted on.

Pairs are those `gtm-feedback requests duplicates` lists (`likely_duplicates`: the
related-request graph's titles, plus open requests in any areas whose feedback and titles say
the same thing, `requests/evidence_duplicates.py`), less pairs kept apart
(`lifecycle.keep_both`) and merged requests. `propose_merges` queues one outbox message per
pair, keyed `merge-proposal:{low id}:{high id}`: a retry, a second run or an overlapping run
queues nothing new, and a pair is proposed once whichever of its areas is scanned.

The owner asked is the owner of an area both requests share (first by slug); for a pair in two
areas, the owner of the request that would be kept (the merge target): the merge moves the
demand into their request, so they decide, and one DM per pair means one person decides. The
recipient is resolved like the triage notice (`routing/triage.py`): `GTM_FEEDBACK_AREA_OWNERS`'
user of the area (else its `*` user), else the area's firehose channel, else nobody (the pair
stays on `/triage` and `requests duplicates`, and is proposed once an owner or channel is set).

The answers (Merge / Keep both clicks) are `requests/merge_answers.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder, EmbeddingError, build_embedder
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.request_graph import DEFAULT_DUPLICATE_THRESHOLD
from gtm_feedback_dagster.messaging import merge_blocks
from gtm_feedback_dagster.messaging.outbox import QUEUED, cancel_queued, enqueue
from gtm_feedback_dagster.requests.evidence_duplicates import (
    EVIDENCE_THRESHOLD,
    evidence_duplicate_candidates,
)
from gtm_feedback_dagster.requests.merge import (
    DuplicateCandidate,
    duplicate_candidates,
)
from gtm_feedback_dagster.requests.queries import _demand
from gtm_feedback_dagster.routing.triage import owners
from gtm_feedback_dagster.store.schema import (
    OutboxMessage,
    ProductArea,
    Request,
    RequestArea,
    User,
    utcnow,
)

PROPOSAL_KIND = "merge_proposal"
UPDATE_KIND = "merge_proposal_update"
# A new owner (or a first run on a big catalogue) is not flooded: the strongest pairs first,
# the rest on the graph's next materialization.
MAX_PROPOSALS_PER_AREA = 10
_SCAN_LIMIT = 500


def pair_of(a: int, b: int) -> tuple[int, int]:
    return (min(a, b), max(a, b))


def proposal_key(a: int, b: int) -> str:
    low, high = pair_of(a, b)
    return f"merge-proposal:{low}:{high}"


def update_key(a: int, b: int) -> str:
    low, high = pair_of(a, b)
    return f"merge-proposal-update:{low}:{high}"


def kept_apart(request: Request | None, other_id: int) -> bool:
    return request is not None and other_id in set((request.meta or {}).get("distinct_from", []))


def likely_duplicates(
    session: Session,
    area_ref: str | Sequence[str] | None = None,
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
    limit: int = 50,
    titles_only: bool = False,
    evidence_threshold: float = EVIDENCE_THRESHOLD,
    embedder: Embedder | None = None,
) -> list[DuplicateCandidate]:
    """The pairs `requests duplicates` lists and proposals are made of (with `area_ref`, one
    area or several: pairs with a request in one of them), strongest first per basis (graph
    titles, then feedback and titles in any areas): no pair kept both, no merged request. A
    pair both find keeps the graph's direction and both evidences. `embedder` (the runtime's)
    lets the evidence finder embed the candidate block's entries."""
    refs: list[str | None]
    refs = [area_ref] if area_ref is None or isinstance(area_ref, str) else list(area_ref)
    found: list[DuplicateCandidate] = []
    at: dict[tuple[int, int], int] = {}
    for ref in refs:
        for c in duplicate_candidates(session, ref, threshold, _SCAN_LIMIT):
            if pair_of(c.duplicate_id, c.target_id) not in at:
                at[pair_of(c.duplicate_id, c.target_id)] = len(found)
                found.append(c)
    if not titles_only:
        for c in evidence_duplicate_candidates(
            session, area_ref, threshold=evidence_threshold, limit=_SCAN_LIMIT, embedder=embedder
        ):
            pair = pair_of(c.duplicate_id, c.target_id)
            if pair in at:
                graph = found[at[pair]]
                found[at[pair]] = replace(
                    graph,
                    basis=f"{graph.basis}, {c.basis}",
                    evidence=f"{graph.evidence}; {c.evidence}",
                )
            else:
                at[pair] = len(found)
                found.append(c)
    ids = {i for c in found for i in (c.duplicate_id, c.target_id)}
    requests = (
        {r.id: r for r in session.scalars(select(Request).where(Request.id.in_(ids)))}
        if ids
        else {}
    )
    kept = [
        c
        for c in found
        if not kept_apart(requests.get(c.duplicate_id), c.target_id)
        and not kept_apart(requests.get(c.target_id), c.duplicate_id)
        and all(
            requests.get(i) is not None and requests[i].status != "merged"
            for i in (c.duplicate_id, c.target_id)
        )
    ]
    return kept[:limit]


@dataclass(frozen=True)
class ProposalState:
    """Where a pair's proposal stands: `status` of its outbox row (queued | sending | sent |
    failed | cancelled) and who it went to (an email or a channel)."""

    status: str
    recipient: str
    created_at: datetime


def proposal_states(
    session: Session, pairs: list[tuple[int, int]]
) -> dict[tuple[int, int], ProposalState]:
    keys = {proposal_key(a, b): pair_of(a, b) for a, b in pairs}
    if not keys:
        return {}
    rows = session.execute(
        select(OutboxMessage, User.email)
        .outerjoin(User, User.id == OutboxMessage.user_id)
        .where(OutboxMessage.dedupe_key.in_(list(keys)))
    ).all()
    return {
        keys[row.dedupe_key]: ProposalState(
            row.status, email or ("#" + (row.channel or "").lstrip("#")), row.created_at
        )
        for row, email in rows
    }


@dataclass
class ProposalReport:
    proposed: list[tuple[int, int]] = field(default_factory=list)  # (duplicate, target)
    already_proposed: int = 0
    deferred: int = 0  # over MAX_PROPOSALS_PER_AREA this run
    no_recipient: set[str] = field(default_factory=set)  # area slugs without owner or channel
    cancelled: int = 0  # queued proposals of pairs settled meanwhile
    keys: list[str] = field(default_factory=list)  # outbox keys queued by this run

    def metadata(self) -> dict[str, Any]:
        return {
            "proposed": len(self.proposed),
            "already_proposed": self.already_proposed,
            "deferred": self.deferred,
            "areas_without_recipient": sorted(self.no_recipient),
            "cancelled_stale": self.cancelled,
        }


def settled(session: Session, a: int, b: int) -> str | None:
    """What already happened to the pair, in words; None while it is open."""
    first, second = session.get(Request, a), session.get(Request, b)
    if first is None or second is None:
        return "one of the requests no longer exists."
    for dup, other in ((first, second), (second, first)):
        if dup.status == "merged":
            if dup.merged_into_id == other.id:
                return f"#{dup.id} was merged into #{other.id}."
            return f"#{dup.id} was merged into #{dup.merged_into_id}."
    if kept_apart(first, b) or kept_apart(second, a):
        return f"#{a} and #{b} are kept as separate requests."
    return None


def _owner_area(session: Session, candidate: DuplicateCandidate) -> ProductArea | None:
    """The area whose owner decides: one both requests share (first by slug), else the kept
    request's (first by slug), else the duplicate's; None when neither has an area."""
    keep, drop = candidate.target_id, candidate.duplicate_id
    areas: dict[int, list[ProductArea]] = {keep: [], drop: []}
    for request_id, area in session.execute(
        select(RequestArea.request_id, ProductArea)
        .join(ProductArea, ProductArea.id == RequestArea.area_id)
        .where(RequestArea.request_id.in_((keep, drop)))
        .order_by(ProductArea.slug)
    ):
        areas[request_id].append(area)
    shared = [a for a in areas[keep] if a.id in {b.id for b in areas[drop]}]
    for choice in (shared, areas[keep], areas[drop]):
        if choice:
            return choice[0]
    return None


def _recipient(
    session: Session, settings: Settings, area: ProductArea | None
) -> tuple[int | None, str | None]:
    """(user id, channel) as `routing.triage.notify_owner` resolves them; (None, None) when
    nobody can be told."""
    configured = owners(settings)
    email = (configured.get(area.slug) if area else None) or configured.get("*")
    user_id = session.scalar(select(User.id).where(User.email == email)) if email else None
    if user_id is not None:
        return user_id, None
    return None, (area.firehose_channel if area else None) or None


def _cancel_stale(session: Session) -> int:
    """Queued proposals whose pair was settled meanwhile (web page, CLI) are not sent."""
    cancelled = 0
    for row in session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == PROPOSAL_KIND, OutboxMessage.status == QUEUED
        )
    ):
        _, low, high = row.dedupe_key.split(":")
        if settled(session, int(low), int(high)) is not None:
            cancelled += cancel_queued(
                session,
                OutboxMessage.id == row.id,
                "superseded: the pair was merged or kept apart before this was delivered",
            )
    return cancelled


def _embedder(settings: Settings) -> Embedder | None:
    """The configured embedder (the model loads on its first call), or None when it cannot be
    built (no OpenAI key): the finder then scores text and stored vectors only."""
    try:
        return build_embedder(settings)
    except EmbeddingError:
        return None


def propose_merges(
    session: Session,
    settings: Settings,
    area_refs: list[str] | None = None,
    embedder: Embedder | None = None,
) -> ProposalReport:
    """Queues one proposal per likely-duplicate pair not proposed yet (in the caller's
    transaction), at most MAX_PROPOSALS_PER_AREA per deciding owner's area, strongest pairs
    first. With `area_refs`, pairs with a request in one of those areas. The pairs are those
    `requests duplicates` lists: `embedder` defaults to the configured one."""
    report = ProposalReport()
    report.cancelled = _cancel_stale(session)
    if area_refs:
        known = set(session.scalars(select(ProductArea.slug)))
        refs: list[str] | None = [ref for ref in area_refs if ref in known]
        if not refs:
            return report
    else:
        refs = None
    candidates = likely_duplicates(
        session, refs, limit=_SCAN_LIMIT, embedder=embedder or _embedder(settings)
    )
    pairs = [pair_of(c.duplicate_id, c.target_id) for c in candidates]
    existing = proposal_states(session, pairs)
    queued_in: Counter[str] = Counter()
    for candidate, pair in zip(candidates, pairs, strict=True):
        if pair in existing:
            report.already_proposed += 1
            continue
        owner_area = _owner_area(session, candidate)
        slug = owner_area.slug if owner_area else "*"
        if queued_in[slug] >= MAX_PROPOSALS_PER_AREA:
            report.deferred += 1
            continue
        user_id, channel = _recipient(session, settings, owner_area)
        if user_id is None and channel is None:
            report.no_recipient.add(slug)
            continue
        demand = _demand(session, pair)
        sides = {
            r.id: merge_blocks.ProposedRequest(
                r.id,
                r.title,
                r.slug,
                demand[r.id]["entries"],
                demand[r.id]["accounts"],
                demand[r.id]["arr"],
            )
            for r in session.scalars(select(Request).where(Request.id.in_(pair)))
        }
        text, message_blocks = merge_blocks.merge_proposal_message(
            settings.app_url,
            owner_area.name if owner_area else "your areas",
            sides[candidate.duplicate_id],
            sides[candidate.target_id],
            candidate.similarity,
            candidate.basis,
        )
        key = proposal_key(*pair)
        queued = enqueue(
            session,
            PROPOSAL_KIND,
            key,
            text,
            user_id=user_id,
            channel=channel,
            blocks=message_blocks,
            request_id=candidate.duplicate_id,
        )
        existing[pair] = ProposalState(QUEUED, channel or str(user_id), utcnow())
        if queued is None:  # an overlapping run queued it first
            report.already_proposed += 1
            continue
        queued_in[slug] += 1
        report.proposed.append((candidate.duplicate_id, candidate.target_id))
        report.keys.append(key)
    return report
