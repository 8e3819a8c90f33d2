"""Small hand-built data sets for the analytics tests (graph, reports, digest, merge).

Vectors are written straight into `request_vectors` (random unit vectors or hand-made ones), so
these tests never need the embedding model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.repo import add_feedback, create_area, create_request, follow
from gtm_feedback_dagster.store.schema import (
    Account,
    Opportunity,
    ProductArea,
    Request,
    RequestVector,
    User,
)
from gtm_feedback_dagster.vectors.base import vectors_to_bytes

DIM = 16
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def unit(rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    w = v + noise * rng.standard_normal(len(v)).astype(np.float32)
    return (w / np.linalg.norm(w)).astype(np.float32)


def put_vector(
    session: Session,
    request_id: int,
    vector: np.ndarray,
    updated_at: datetime | None = None,
    model_id: str = "test-model",
) -> None:
    row = session.get(RequestVector, request_id)
    if row is None:
        row = RequestVector(request_id=request_id, model_id=model_id, content_hash="h", dim=DIM)
        session.add(row)
    row.vector = vectors_to_bytes(vector)
    row.model_id = model_id
    row.dim = len(vector)
    row.updated_at = updated_at or datetime.now(UTC)
    session.flush()


def user(session: Session, email: str) -> User:
    u = User(email=email, name=email.split("@")[0])
    session.add(u)
    session.flush()
    return u


def account(session: Session, name: str, arr: float, enterprise: bool, **extra: object) -> Account:
    a = Account(name=name, arr=arr, is_enterprise=enterprise, **extra)
    session.add(a)
    session.flush()
    return a


def opportunity(session: Session, acct: Account, name: str, arr: float, stage: str) -> Opportunity:
    o = Opportunity(account_id=acct.id, name=name, arr=arr, stage=stage)
    session.add(o)
    session.flush()
    return o


def request(
    session: Session,
    title: str,
    areas: list[ProductArea],
    status: str = "open",
    created_at: datetime | None = None,
    creator: User | None = None,
) -> Request:
    return create_request(
        session,
        title,
        f"{title} — description",
        areas,
        creator.id if creator else None,
        status=status,
        created_at=created_at or T0 - timedelta(days=30),
    )


def entry(
    session: Session,
    req: Request,
    acct: Account | None,
    severity: str,
    submitter: User | None = None,
    opp: Opportunity | None = None,
    created_at: datetime | None = None,
) -> int:
    row, _ = add_feedback(
        session,
        {
            "source": "cli",
            "customer_pain": f"pain about {req.title}",
            "severity": severity,
            "account_id": acct.id if acct else None,
            "opportunity_id": opp.id if opp else None,
            "submitter_id": submitter.id if submitter else None,
            "status": "routed",
            "request_id": req.id,
            "match_type": "manual",
            "created_at": created_at or T0 - timedelta(days=20),
        },
    )
    if submitter is not None:
        follow(session, submitter.id, req.id)
    return row.id


@dataclass
class GraphWorld:
    """Two areas, random request vectors, and one planted near-duplicate pair in `alpha`."""

    alpha_ids: list[int]
    beta_ids: list[int]
    vectors: dict[int, np.ndarray]
    duplicate_pair: tuple[int, int]
    extra: dict[str, int] = field(default_factory=dict)


def seed_graph_world(
    session: Session, n_alpha: int = 12, n_beta: int = 10, seed: int = 5
) -> GraphWorld:
    rng = np.random.default_rng(seed)
    alpha, _ = create_area(session, "Alpha")
    beta, _ = create_area(session, "Beta")
    vectors: dict[int, np.ndarray] = {}
    alpha_ids, beta_ids = [], []
    for i in range(n_alpha):
        r = request(session, f"Alpha request {i}", [alpha])
        alpha_ids.append(r.id)
    for i in range(n_beta):
        r = request(session, f"Beta request {i}", [beta])
        beta_ids.append(r.id)
    for rid in alpha_ids + beta_ids:
        vectors[rid] = unit(rng)
    # A planted duplicate: alpha's last request is almost alpha's first one.
    vectors[alpha_ids[-1]] = near(vectors[alpha_ids[0]], rng, 0.02)
    # A cross-area neighbour: beta's first request sits next to alpha's second.
    vectors[beta_ids[0]] = near(vectors[alpha_ids[1]], rng, 0.3)
    old = T0 - timedelta(days=1)
    for rid, v in vectors.items():
        put_vector(session, rid, v, updated_at=old)
    return GraphWorld(alpha_ids, beta_ids, vectors, (alpha_ids[0], alpha_ids[-1]))


def set_status(
    session: Session, request_id: int, status: str, shipped_at: datetime | None = None
) -> None:
    session.execute(
        update(Request).where(Request.id == request_id).values(status=status, shipped_at=shipped_at)
    )


@dataclass
class ReportWorld:
    ids: dict[str, int]


def seed_report_world(session: Session) -> ReportWorld:
    """One area ("identity") with hand-checkable numbers, plus a second area ("billing").

    identity: open R1 "SSO login with SAML" (Acme high + opp O1 100K open, Initech high),
    open R2 "SAML SSO for admins" (Globex high + opp O2 Closed Won), open R3 "Export audit logs"
    (Acme low), shipped R4 (Globex high), deprioritized R5. R1 and R2 are near-identical vectors.
    """
    rng = np.random.default_rng(11)
    identity, _ = create_area(session, "Identity")
    billing, _ = create_area(session, "Billing")
    alice = user(session, "alice@example.com")
    bob = user(session, "bob@example.com")
    acme = account(session, "Acme", 300_000, True, region="NA", industry="Tech")
    globex = account(session, "Globex", 250_000, True, region="EMEA", industry="Finance")
    initech = account(session, "Initech", 50_000, False, region="NA", industry="Tech")
    o1 = opportunity(session, acme, "Acme expansion", 100_000, "Negotiation")
    o2 = opportunity(session, globex, "Globex renewal", 40_000, "Closed Won")
    r1 = request(session, "SSO login with SAML", [identity], creator=alice)
    r2 = request(session, "SAML SSO for admins", [identity], creator=bob)
    r3 = request(session, "Export audit logs", [identity])
    r4 = request(session, "Audit log", [identity], status="shipped")
    r5 = request(session, "Custom login page fonts", [identity], status="deprioritized")
    b1 = request(session, "Invoice PDF", [billing])
    entry(session, r1, acme, "high", alice, o1)
    entry(session, r1, initech, "high", bob)
    entry(session, r2, globex, "high", bob, o2)
    entry(session, r3, acme, "low", alice)
    entry(session, r4, globex, "high", alice)
    entry(session, b1, acme, "high", alice)
    base = unit(rng)
    vectors = {r1.id: base, r2.id: near(base, rng, 0.02)}
    for r in (r3, r4, r5, b1):
        vectors[r.id] = unit(rng)
    for rid, v in vectors.items():
        put_vector(session, rid, v, updated_at=T0 - timedelta(days=1))
    return ReportWorld(
        {
            "identity": identity.id,
            "billing": billing.id,
            "r1": r1.id,
            "r2": r2.id,
            "r3": r3.id,
            "r4": r4.id,
            "r5": r5.id,
            "b1": b1.id,
            "acme": acme.id,
            "globex": globex.id,
            "initech": initech.id,
            "alice": alice.id,
            "bob": bob.id,
        }
    )
