"""Small, named test data shared by the intake and command tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, Opportunity


@dataclass(frozen=True)
class Seeded:
    ann: int
    bob: int
    acme: int
    globex: int
    acme_renewal: int
    globex_expansion: int
    dashboards: int
    integrations: int
    dark_mode: int


def seed_basics(session: Session) -> Seeded:
    """Two users, two accounts (ARR 100k / 50k) with one opportunity each, two areas and one
    request (`dark-mode`, in dashboards, created by Ann)."""
    ann = repo.get_or_create_user(session, "ann@example.com", "Ann Lee", slack_user_id="U_ANN")
    bob = repo.get_or_create_user(session, "bob@example.com", "Bob Stone")
    acme = Account(name="Acme", external_id="001ACME", domain="acme.com", arr=100_000.0)
    globex = Account(name="Globex", external_id="001GLOBEX", arr=50_000.0, is_enterprise=True)
    session.add_all([acme, globex])
    session.flush()
    renewal = Opportunity(account_id=acme.id, name="Acme renewal", external_id="006ACME1", arr=1.0)
    expansion = Opportunity(account_id=globex.id, name="Globex expansion", external_id="006GLX1")
    session.add_all([renewal, expansion])
    dashboards, _ = repo.create_area(session, "Dashboards", "Charts and filters")
    integrations, _ = repo.create_area(session, "Integrations", "Connectors")
    request = repo.create_request(
        session, "Dark mode", "Users want a dark theme.", [dashboards], ann.id, slug="dark-mode"
    )
    session.flush()
    return Seeded(
        ann=ann.id,
        bob=bob.id,
        acme=acme.id,
        globex=globex.id,
        acme_renewal=renewal.id,
        globex_expansion=expansion.id,
        dashboards=dashboards.id,
        integrations=integrations.id,
        dark_mode=request.id,
    )


def seed_url(url: str) -> Seeded:
    with session_scope(url) as session:
        return seed_basics(session)
