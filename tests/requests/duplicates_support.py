"""A small catalogue for the evidence duplicate finder: a pair across two areas, a pair whose
kept request has no entries, a request with two duplicates, two curated neighbours that are not
duplicates, and unrelated requests so the vocabulary has contrast."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import numpy as np

from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, RequestVector, utcnow
from gtm_feedback_dagster.vectors.base import vectors_to_bytes

WORD = re.compile(r"[a-z]+")


class WordEmbedder:
    """A deterministic stand-in: each word hashed to one of 64 dimensions, L2-normalised."""

    model_id = "test:words"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[int] = []

    def vector(self, text: str) -> np.ndarray:
        out = np.zeros(self.dim, dtype=np.float32)
        for word in WORD.findall(text.lower()):
            out[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = float(np.linalg.norm(out))
        return out / norm if norm else out

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self.vector(t) for t in texts])


@dataclasses.dataclass
class Catalogue:
    ids: dict[str, int]  # short name -> request id
    areas: dict[str, int]  # slug -> area id


REQUESTS = [
    # (name, area, title, description, by routing, entries)
    (
        "dedup",
        "data-ingestion",
        "Deduplication of records on ingest",
        "Merge duplicate records on load instead of appending repeated rows.",
        False,
        [
            "They clean up duplicate rows by hand after every load.",
            "Repeated loads create duplicate rows in the warehouse tables.",
        ],
    ),
    (
        "upsert",
        "performance",
        "Upserts by primary key",
        "Repeated loads double count revenue; asked for upserts by primary key.",
        True,
        [
            "Upserts by primary key: repeated loads leave duplicate rows.",
            "They double count revenue because repeated loads duplicate rows.",
            "They clean up duplicate rows by hand; upserts by primary key please.",
        ],
    ),
    (
        "merge-on-key",
        "integrations",
        "Merge-on-key ingestion",
        "Duplicate rows after repeated loads; merge on key.",
        True,
        ["Merge-on-key ingestion so repeated loads stop creating duplicate rows."],
    ),
    (
        "drivers",
        "ai-insights",
        "Key driver analysis",
        "Rank which factors drive an outcome such as churn, with their importance.",
        False,
        [],
    ),
    (
        "kpi",
        "dashboards",
        "What-matters-most analysis for any KPI",
        "They guess which factors drive churn; want ranked factors for any KPI.",
        True,
        [
            "Which factors drive churn? They rank them by gut feel today.",
            "Ranked factors that drive an outcome like churn or conversion.",
        ],
    ),
    (
        "jira-connector",
        "integrations",
        "Jira connector",
        "Sync Jira issues into the product.",
        False,
        [],
    ),
    (
        "jira-tickets",
        "integrations",
        "Jira tickets from charts",
        "Create Jira issues from a chart.",
        False,
        [],
    ),
    (
        "sso",
        "security",
        "Single sign-on with Okta",
        "Log in through the company identity provider.",
        False,
        ["Okta login for all employees, security team insists."],
    ),
    (
        "pdf",
        "dashboards",
        "Scheduled PDF exports",
        "Email a PDF snapshot of a dashboard every Monday.",
        False,
        ["Executives want the Monday PDF in their inbox."],
    ),
    (
        "mobile",
        "mobile",
        "Offline mode for the mobile app",
        "Field staff lose signal in warehouses and basements.",
        False,
        ["Sales reps travel without coverage and the app goes blank."],
    ),
]


def seed_catalogue(url: str, embedder: WordEmbedder | None = None) -> Catalogue:
    """The catalogue above; with `embedder`, each request's vector stored as its model's."""
    ids: dict[str, int] = {}
    areas: dict[str, int] = {}
    with session_scope(url) as session:
        user = repo.get_or_create_user(session, "carol@example.com", "Carol")
        account = Account(name="Globex", arr=50_000.0)
        session.add(account)
        session.flush()
        for name, slug, title, description, by_routing, entries in REQUESTS:
            if slug not in areas:
                area, _ = repo.create_area(session, slug.replace("-", " ").title(), "")
                areas[slug] = area.id
            area_row = repo.resolve_area(session, slug)
            request = repo.create_request(
                session,
                title,
                description,
                [area_row],
                creator_id=None,
                created_by_routing=by_routing,
            )
            session.flush()
            ids[name] = request.id
            for pain in entries:
                repo.add_feedback(
                    session,
                    {
                        "source": "cli",
                        "customer_pain": pain,
                        "account_id": account.id,
                        "submitter_id": user.id,
                        "status": "routed",
                        "request_id": request.id,
                    },
                )
            if embedder is not None:
                session.add(
                    RequestVector(
                        request_id=request.id,
                        model_id=embedder.model_id,
                        content_hash="test",
                        dim=embedder.dim,
                        vector=vectors_to_bytes(embedder.vector(f"{title}\n\n{description}")),
                        updated_at=utcnow(),
                    )
                )
    return Catalogue(ids, areas)
