"""A likely-duplicate pair for the merge proposal tests (use case, job, sensor, Slack)."""

from __future__ import annotations

import dataclasses

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, ProductArea, RequestRelation
from tests.slack.support import World, seed_world


@dataclasses.dataclass
class Pair:
    world: World
    settings: Settings
    keep: int  # the request with more feedback: the merge target
    dup: int


def seed_pair(
    url: str,
    owners: str = "billing=ana@example.com",
    dup_title: str = "EUR invoices for European customers",
    firehose: str | None = "billing",
) -> Pair:
    """Two billing requests the graph finds 0.91 alike; the first has two entries (one per
    account), the duplicate one entry and Bob as follower."""
    world = seed_world(url, with_approval=False, firehose=firehose)
    with session_scope(url) as session:
        area = session.get(ProductArea, world.area_id)
        dup = repo.create_request(session, dup_title, "Invoices in euros.", [area], creator_id=None)
        globex = repo.get_or_create_user(session, "carol@example.com", "Carol")
        other = Account(name="Globex", arr=30_000.0)
        session.add(other)
        session.flush()
        for request_id, account_id, pain in (
            (world.request_id, world.account_id, "Acme needs invoices in EUR"),
            (world.request_id, other.id, "Globex wants euro invoices"),
            (dup.id, world.account_id, "Acme again: euro invoices please"),
        ):
            repo.add_feedback(
                session,
                {
                    "source": "cli",
                    "customer_pain": pain,
                    "severity": "high",
                    "account_id": account_id,
                    "submitter_id": globex.id,
                    "status": "routed",
                    "request_id": request_id,
                },
            )
        repo.follow(session, world.bob_id, dup.id)
        session.add(
            RequestRelation(request_id=dup.id, related_id=world.request_id, similarity=0.91)
        )
        session.add(
            RequestRelation(request_id=world.request_id, related_id=dup.id, similarity=0.91)
        )
        dup_id = dup.id
    settings = dataclasses.replace(world.settings, area_owners=owners)
    return Pair(world, settings, world.request_id, dup_id)
