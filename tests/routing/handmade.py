"""A small handmade data set for routing tests: three areas, five requests, two submitters.

Entries that exercise the three tiers live in the tests themselves; `seed_requests` only builds
what exists before routing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select

from gtm_feedback_dagster.ai.embedders import EmbeddingUsage
from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    Follower,
    OutboxMessage,
    Request,
)

AREAS = [
    ("Dashboards", "Charts, dashboards and their sharing."),
    ("Integrations", "Connectors to other systems."),
    ("Access Management", "Sign-in, permissions and network restrictions."),
]

REQUESTS = [
    (
        "Export dashboards to PDF",
        "Download a dashboard as a PDF file to share it in board meetings.",
        "dashboards",
    ),
    (
        "Salesforce connector with incremental sync",
        "Sync Salesforce objects, custom objects and field history incrementally.",
        "integrations",
    ),
    (
        "SAML single sign-on with Okta and Azure AD",
        "Let users sign in through their identity provider with SAML SSO.",
        "access-management",
    ),
    (
        "IP allowlisting",
        "Restrict access to the workspace to approved IP address ranges.",
        "access-management",
    ),
    (
        "Scheduled email delivery of reports",
        "Send reports by email on a schedule to a list of recipients.",
        "dashboards",
    ),
]


@dataclass
class Seeded:
    url: str
    request_ids: dict[str, int]  # title -> id
    alice: int
    bob: int


def seed_requests(url: str) -> Seeded:
    with session_scope(url) as session:
        areas = {}
        for name, description in AREAS:
            area, _ = repo.create_area(session, name, description)
            areas[area.slug] = area
        alice = repo.get_or_create_user(session, "alice@example.com", "Alice")
        bob = repo.get_or_create_user(session, "bob@example.com", "Bob")
        ids = {}
        for title, description, area in REQUESTS:
            request = repo.create_request(session, title, description, [areas[area]], None)
            ids[title] = request.id
        return Seeded(url, ids, alice.id, bob.id)


def add_entry(url: str, text: str, submitter_id: int | None, severity: str = "medium") -> int:
    with session_scope(url) as session:
        entry, _ = repo.add_feedback(
            session,
            {
                "source": "api",
                "customer_pain": text,
                "severity": severity,
                "submitter_id": submitter_id,
            },
        )
        return entry.id


def counts(url: str) -> dict[str, int]:
    """Row counts of everything routing writes."""
    with session_scope(url) as session:
        return {
            "requests": session.scalar(select(func.count()).select_from(Request)) or 0,
            "followers": session.scalar(select(func.count()).select_from(Follower)) or 0,
            "approvals": session.scalar(select(func.count()).select_from(Approval)) or 0,
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
            "pending": session.scalar(
                select(func.count()).select_from(Feedback).where(Feedback.status == "pending")
            )
            or 0,
        }


def entry(url: str, entry_id: int) -> Feedback:
    with session_scope(url) as session:
        row = session.get(Feedback, entry_id)
        assert row is not None
        session.expunge(row)
        return row


NEW_NEEDS = (
    "Sales reps want a mobile app that keeps working offline on planes.",
    "Finance asks for invoices in Japanese yen with a consumption tax line.",
    "The warehouse team wants barcode scanning from a handheld device.",
)


@dataclass
class CountingEmbedder:
    """The real local model, counting how many calls and texts reach it."""

    inner: LocalEmbedder
    calls: list[int] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def usage(self) -> EmbeddingUsage:
        return self.inner.usage

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return self.inner.embed(texts)
