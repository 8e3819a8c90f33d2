"""A routing batch that survives a crash: the rerun decides its entries as the first run would.

A batch is decided against the catalogue as of its start plus the requests it created, and a
request it created is also matched through the batch's entries already on it. A run killed
mid-batch leaves that evidence behind; a rerun (the sensor's sweep) of only the still-pending
entries would decide them against another candidate set (the killed run's new requests as plain
catalogue requests, found by their drafted text only, and requests other runs created since).

So every entry of a batch is stamped, before the first decision, with the batch's key (its
lowest entry id) and the highest request id of the catalogue it was decided against, in the
entry's `meta["route_batch"]`. A rerun groups its entries by that stamp and rebuilds each
group's state from the database: the requests the group created (`meta.from_feedback_id`) with
their stored vectors, and the group's entries already on them (their query vectors, re-embedded
in the rerun's one embedding call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.store.schema import Approval, Feedback, Request, RequestVector
from gtm_feedback_dagster.vectors.base import VectorHit

STAMP = "route_batch"


@dataclass(frozen=True)
class BatchStamp:
    key: int  # the batch's lowest entry id
    catalogue_max_request_id: int  # requests above this id were not in the batch's catalogue


@dataclass
class PriorState:
    """What a batch had decided before a rerun: its created requests and their members."""

    created_ids: list[int] = field(default_factory=list)
    created_vectors: list[np.ndarray] = field(default_factory=list)
    member_request_ids: list[int] = field(default_factory=list)
    member_pains: list[str] = field(default_factory=list)


def catalogue_max_request_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Request.id))) or 0)


def read_stamps(session: Session, entry_ids: Sequence[int]) -> dict[int, BatchStamp]:
    """The stamps of entries an earlier (crashed) run of their batch already wrote."""
    stamps: dict[int, BatchStamp] = {}
    ids = sorted(set(entry_ids))
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(Feedback.id, Feedback.meta).where(Feedback.id.in_(ids[start : start + 1000]))
        )
        for entry_id, meta in rows:
            stamp = parse_stamp(meta)
            if stamp is not None:
                stamps[int(entry_id)] = stamp
    return stamps


def parse_stamp(meta: object) -> BatchStamp | None:
    raw = meta.get(STAMP) if isinstance(meta, dict) else None
    if not isinstance(raw, dict):
        return None
    key, top = raw.get("key"), raw.get("catalogue_max_request_id")
    if not isinstance(key, int) or not isinstance(top, int):
        return None
    return BatchStamp(key, top)


def write_stamps(session: Session, stamps: dict[int, BatchStamp]) -> None:
    """Stamps entries that have none yet (a rerun keeps the stamp it found)."""
    for start in range(0, len(ids := sorted(stamps)), 1000):
        rows = session.execute(
            select(Feedback.id, Feedback.meta).where(
                Feedback.id.in_(ids[start : start + 1000]), Feedback.status == "pending"
            )
        ).all()
        for entry_id, meta in rows:
            if parse_stamp(meta) is not None:
                continue
            stamp = stamps[int(entry_id)]
            value = {"key": stamp.key, "catalogue_max_request_id": stamp.catalogue_max_request_id}
            session.execute(
                update(Feedback)
                .where(Feedback.id == entry_id)
                .values(meta={**(meta or {}), STAMP: value})
                .execution_options(synchronize_session=False)
            )


def load_prior_state(session: Session, key: int, pending_ids: Iterable[int]) -> PriorState:
    """The requests created by the stamped batch `key` for entries no longer pending, with their
    stored vectors, and the batch's decided entries on them (attached, created, or asked)."""
    pending = set(pending_ids)
    decided: dict[int, tuple[str, str, int | None]] = {}
    for entry_id, meta, status, pain, request_id in session.execute(
        select(
            Feedback.id, Feedback.meta, Feedback.status, Feedback.customer_pain, Feedback.request_id
        ).where(Feedback.id >= key, Feedback.status != "pending", Feedback.status != "invalid")
    ):
        stamp = parse_stamp(meta)
        if stamp is not None and stamp.key == key and entry_id not in pending:
            decided[int(entry_id)] = (status, pain or "", request_id)
    state = PriorState()
    if not decided:
        return state
    created: dict[int, int] = {}  # request id -> the entry it was created for
    for request_id, meta in session.execute(
        select(Request.id, Request.meta).where(Request.created_by_routing.is_(True))
    ):
        origin = (meta or {}).get("from_feedback_id")
        if isinstance(origin, int) and origin in decided:
            created[int(request_id)] = origin
    if not created:
        return state
    vectors = dict(
        session.execute(
            select(RequestVector.request_id, RequestVector.vector).where(
                RequestVector.request_id.in_(sorted(created))
            )
        ).all()
    )
    # In the order the batch created them (its entries' id order).
    for request_id in sorted(created, key=lambda r: created[r]):
        if request_id in vectors:
            state.created_ids.append(request_id)
            state.created_vectors.append(np.frombuffer(vectors[request_id], dtype="<f4").copy())
    asked = dict(
        session.execute(
            select(Approval.feedback_id, Approval.request_id).where(
                Approval.feedback_id.in_(sorted(decided)), Approval.status == "pending"
            )
        ).all()
    )
    known = set(state.created_ids)
    for entry_id in sorted(decided):
        status, pain, request_id = decided[entry_id]
        target = asked.get(entry_id) if status == "awaiting_approval" else request_id
        if target is not None and int(target) in known:
            state.member_request_ids.append(int(target))
            state.member_pains.append(pain)
    return state


def within_catalogue(hits: Sequence[VectorHit], stamp: BatchStamp, limit: int) -> list[VectorHit]:
    """Index hits on the batch's own catalogue only (its created requests come in separately,
    scored exactly as the first run scored them)."""
    return [h for h in hits if h.id <= stamp.catalogue_max_request_id][:limit]


@dataclass
class BatchPlan:
    """The stamp of each entry of a run (in the run's order) and the prior state of every batch
    a crashed run left unfinished."""

    stamps: list[BatchStamp]
    priors: dict[BatchStamp, PriorState]
    catalogue_top: int

    @property
    def member_pains(self) -> list[str]:
        return [p for prior in self.priors.values() for p in prior.member_pains]

    @property
    def prior_created_ids(self) -> set[int]:
        return {r for prior in self.priors.values() for r in prior.created_ids}

    def search_k(self, top_k: int) -> int:
        """Enough neighbours that each batch's own catalogue still fills the top-k once the
        requests created after its start (by a crashed run or others) are left out."""
        newer = self.catalogue_top - min(s.catalogue_max_request_id for s in self.stamps)
        return top_k + min(newer, 200)

    def catalogue_hits(
        self, raw_hits: Sequence[Sequence[VectorHit]], top_k: int
    ) -> list[list[VectorHit]]:
        return [
            within_catalogue(hits, stamp, top_k)
            for hits, stamp in zip(raw_hits, self.stamps, strict=True)
        ]

    def groups(
        self, member_queries: np.ndarray
    ) -> Iterable[tuple[list[int], PriorState, np.ndarray]]:
        """Per batch, in key order: the positions of its entries, its prior state and the query
        vectors of its prior members (`member_queries` in `member_pains` order)."""
        offsets: dict[BatchStamp, int] = {}
        at = 0
        for stamp, prior in self.priors.items():
            offsets[stamp] = at
            at += len(prior.member_pains)
        for stamp in sorted(set(self.stamps), key=lambda s: s.key):
            prior = self.priors.get(stamp, PriorState())
            start = offsets.get(stamp, 0)
            positions = [i for i, s in enumerate(self.stamps) if s == stamp]
            yield positions, prior, member_queries[start : start + len(prior.member_pains)]


def plan_batch(session: Session, entry_ids: Sequence[int]) -> BatchPlan:
    """`entry_ids`: the run's routable entries, in id order. Unstamped entries form a new batch
    keyed by the lowest of them, against the catalogue as of now."""
    catalogue_top = catalogue_max_request_id(session)
    found = read_stamps(session, entry_ids)
    fresh_ids = [i for i in entry_ids if i not in found]
    fresh = BatchStamp(min(fresh_ids), catalogue_top) if fresh_ids else None
    stamps = [found.get(i) or fresh for i in entry_ids]
    priors = {
        s: load_prior_state(session, s.key, entry_ids)
        for s in sorted(set(found.values()), key=lambda s: s.key)
    }
    return BatchPlan([s for s in stamps if s is not None], priors, catalogue_top)


def rests_on_members(
    decision: Decision, merged: Sequence[VectorHit], member_hits: Sequence[VectorHit]
) -> bool:
    """An attach whose request scored through another entry of this batch rather than its own
    text. Entry-to-entry cosine runs higher than the entry-to-request cosine the calibration was
    fitted on, so it over-trusts it (bench/routing_quality.py --new-needs: 5 wrong attaches of 145
    need entries instead of 1); such an attach stands only if the text alone attaches it too."""
    if decision.tier != "attach" or decision.method != "calibrated" or not member_hits:
        return False
    member = max((h.score for h in member_hits if h.id == decision.request_id), default=None)
    best = next((h.score for h in merged if h.id == decision.request_id), None)
    return member is not None and best is not None and member >= best
