"""A small labelled deployment for the calibration refit: the handmade requests plus a few more,
and entries a person attached (approved, manual) or declined ("Not a match").

Entries are short statements of one request's need in varied words, so the label is clear; the
text is built from a fixed list (no randomness), so each test sees the same ids and splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from sqlalchemy import select

from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, ProductArea
from tests.routing.handmade import seed_requests

MORE_REQUESTS = [
    (
        "Offline mode for the mobile app",
        "Use the mobile app without a network connection and sync changes later.",
        "dashboards",
    ),
    (
        "Audit log export to CSV",
        "Export the audit log of user actions to CSV for compliance reviews.",
        "access-management",
    ),
    (
        "Slack alerts for failed syncs",
        "Post a message to a Slack channel when a connector sync fails.",
        "integrations",
    ),
]

# Per request title: ways a seller writes the need down.
NEEDS: dict[str, list[str]] = {
    "Export dashboards to PDF": [
        "needs to export dashboards to PDF for the board meeting",
        "wants a PDF download of every dashboard",
        "has to share dashboards as PDF files with executives",
        "asks for dashboard export as PDF",
    ],
    "Salesforce connector with incremental sync": [
        "needs the Salesforce connector to sync incrementally",
        "wants incremental sync of Salesforce custom objects",
        "full Salesforce syncs take hours, they need incremental Salesforce sync",
        "asks for Salesforce field history in the connector",
    ],
    "SAML single sign-on with Okta and Azure AD": [
        "requires SAML single sign-on with Okta",
        "security team mandates SSO through Azure AD",
        "wants users to sign in with Okta SAML",
        "cannot roll out without SAML SSO",
    ],
    "IP allowlisting": [
        "must restrict workspace access to their office IP ranges",
        "needs IP allowlisting before go-live",
        "asks to allow only approved IP addresses",
        "security review requires an IP allowlist",
    ],
    "Scheduled email delivery of reports": [
        "wants reports emailed to the team every Monday",
        "needs scheduled email delivery of weekly reports",
        "asks to send reports by email on a schedule",
        "would like a recurring email of the sales report",
    ],
    "Offline mode for the mobile app": [
        "field reps need the mobile app to work offline",
        "wants to use the mobile app without a connection",
        "asks for offline mode in the mobile app with sync later",
        "mobile app is useless on planes without offline mode",
    ],
    "Audit log export to CSV": [
        "compliance needs the audit log exported to CSV",
        "wants to download the audit log of user actions",
        "asks for a CSV export of audit logs for SOX reviews",
        "auditors need the user action log as a CSV file",
    ],
    "Slack alerts for failed syncs": [
        "wants a Slack alert when a connector sync fails",
        "needs failed sync notifications in their Slack channel",
        "asks to post sync failures to Slack",
        "missed a broken sync for days, wants Slack alerts on failures",
    ],
}
CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]


@dataclass
class World:
    url: str
    request_ids: dict[str, int]  # title -> id
    submitter_id: int

    def rid(self, title_start: str) -> int:
        (found,) = [i for t, i in self.request_ids.items() if t.startswith(title_start)]
        return found


def seed_world(url: str) -> World:
    """The catalogue (8 requests over 3 areas), no entries yet."""
    seeded = seed_requests(url)
    ids = dict(seeded.request_ids)
    with session_scope(url) as session:
        areas = {a.slug: a for a in session.scalars(select(ProductArea))}
        for title, description, area in MORE_REQUESTS:
            ids[title] = repo.create_request(session, title, description, [areas[area]], None).id
    return World(url, ids, seeded.alice)


def texts_for(title: str, customers: list[str] = CUSTOMERS) -> list[str]:
    return [f"{customer} {need}" for customer, need in product(customers, NEEDS[title])]


def add_attached(world: World, text: str, request_id: int, match_type: str = "approved") -> int:
    """An entry a person attached to `request_id` (`approved`: the submitter said yes)."""
    with session_scope(world.url) as session:
        entry, _ = repo.add_feedback(
            session,
            {
                "source": "api",
                "customer_pain": text,
                "severity": "medium",
                "submitter_id": world.submitter_id,
                "status": "routed",
                "request_id": request_id,
                "match_type": match_type,
            },
        )
        if match_type == "approved":
            session.add(
                Approval(
                    feedback_id=entry.id, request_id=request_id, confidence=0.85, status="approved"
                )
            )
        return entry.id


def add_declined(world: World, text: str, request_id: int) -> int:
    """An entry whose submitter answered "Not a match" to `request_id` (in the triage queue)."""
    with session_scope(world.url) as session:
        entry, _ = repo.add_feedback(
            session,
            {
                "source": "api",
                "customer_pain": text,
                "severity": "medium",
                "submitter_id": world.submitter_id,
                "status": "awaiting_approval",
            },
        )
        session.add(
            Approval(
                feedback_id=entry.id, request_id=request_id, confidence=0.85, status="rejected"
            )
        )
        return entry.id


def decline(world: World, entry_id: int, request_id: int, status: str = "rejected") -> None:
    """A question about `entry_id` on `request_id`, answered (`rejected`: "Not a match")."""
    with session_scope(world.url) as session:
        session.add(
            Approval(feedback_id=entry_id, request_id=request_id, confidence=0.85, status=status)
        )


def attach_all(world: World, customers: list[str] = CUSTOMERS) -> dict[int, int]:
    """Every need of every request, attached to its request (alternately approved and manual):
    entry id -> request id."""
    out: dict[int, int] = {}
    for n, title in enumerate(NEEDS):
        for k, text in enumerate(texts_for(title, customers)):
            kind = "approved" if (n + k) % 2 == 0 else "manual"
            out[add_attached(world, text, world.request_ids[title], kind)] = world.request_ids[
                title
            ]
    return out


def reassign(world: World, mapping: dict[int, int]) -> None:
    """Moves entries to other requests (entry id -> request id), keeping their match type."""
    with session_scope(world.url) as session:
        for entry_id, request_id in mapping.items():
            entry = session.get(Feedback, entry_id)
            assert entry is not None
            entry.request_id = request_id


def dispute(world: World, entry_id: int) -> None:
    """The entry's submitter said "Not a match" to its request, and triage attached it there
    anyway: two people disagree."""
    with session_scope(world.url) as session:
        entry = session.get(Feedback, entry_id)
        assert entry is not None and entry.request_id is not None
        entry.match_type = "manual"
        approval = session.scalar(
            select(Approval).where(
                Approval.feedback_id == entry_id, Approval.request_id == entry.request_id
            )
        )
        if approval is None:
            session.add(
                Approval(
                    feedback_id=entry_id,
                    request_id=entry.request_id,
                    confidence=0.85,
                    status="rejected",
                )
            )
        else:
            approval.status = "rejected"
