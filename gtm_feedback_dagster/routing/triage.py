"""Triage: a "Not a match" answer or an expired question waits for the area's product owner
(`GTM_FEEDBACK_DECLINE_TO=triage`, the default) instead of silently becoming a new request.

An entry in triage is `awaiting_approval` with no pending approval left. Its owner is told once
per area and day (a DM through the outbox to `GTM_FEEDBACK_AREA_OWNERS`' user, else a post in the
area's firehose channel) with a link to `/triage`. One action settles it: `attach` (to the
suggestion or any open request; match type manual) or `create` (routing's new-request path).
Both claim the entry with a conditional UPDATE, so a second click, the CLI and the web page
after Slack change nothing twice. The web page and `gtm-feedback triage` call these functions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.core.text import request_text
from gtm_feedback_dagster.messaging import blocks
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.routing.apply import apply_new_request, follow_and_confirm, snapshot_of
from gtm_feedback_dagster.routing.candidates import ScoredCandidate, load_request_infos
from gtm_feedback_dagster.routing.decide import Decision
from gtm_feedback_dagster.routing.drafting import draft_new_request
from gtm_feedback_dagster.runtime import Runtime
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    ProductArea,
    Request,
    RequestArea,
    User,
    utcnow,
)

ALREADY = "already_handled"


def in_triage():  # type: ignore[no-untyped-def]
    """SQL condition: the entry waits for a product owner."""
    other = aliased(Approval)  # the outer query may join Approval itself
    return and_(
        Feedback.status == "awaiting_approval",
        ~exists().where(other.feedback_id == Feedback.id, other.status == "pending"),
    )


def owners(settings: Settings) -> dict[str, str]:
    """`GTM_FEEDBACK_AREA_OWNERS` ("slug=email,*=email") as {slug: email}."""
    found: dict[str, str] = {}
    for part in settings.area_owners.split(","):
        slug, _, email = part.partition("=")
        if slug.strip() and email.strip():
            found[slug.strip()] = email.strip().lower()
    return found


def notify_owner(session: Session, settings: Settings, request_id: int, now: datetime) -> None:
    """Tells the product owner of the suggested request's area, once per area and day."""
    area = session.scalars(
        select(ProductArea)
        .join(RequestArea, RequestArea.area_id == ProductArea.id)
        .where(RequestArea.request_id == request_id)
        .order_by(ProductArea.slug)
    ).first()
    if area is None:
        return
    waiting = len(
        session.scalars(
            select(Feedback.id)
            .join(Approval, Approval.feedback_id == Feedback.id)
            .join(RequestArea, RequestArea.request_id == Approval.request_id)
            .where(in_triage(), RequestArea.area_id == area.id)
            .distinct()
        ).all()
    )
    text, message_blocks = blocks.triage_notice_message(
        settings.app_url, area.name, max(1, waiting)
    )
    email = owners(settings).get(area.slug) or owners(settings).get("*")
    user_id = session.scalar(select(User.id).where(User.email == email)) if email else None
    channel = None if user_id is not None else area.firehose_channel
    if user_id is None and not channel:
        return  # nobody to tell: the queue is on /triage and `gtm-feedback triage`
    enqueue(
        session,
        "triage_notice",
        f"triage-notice:{area.slug}:{now.date().isoformat()}",
        text,
        user_id=user_id,
        channel=channel,
        blocks=message_blocks,
        request_id=request_id,
    )


def _suggestion(session: Session, entry_id: int) -> int | None:
    return session.scalar(
        select(Approval.request_id)
        .where(Approval.feedback_id == entry_id)
        .order_by(Approval.id.desc())
        .limit(1)
    )


def attach(rt: Runtime, entry_id: int, request_id: int | None, actor: str) -> str:
    """Attaches a triaged entry to `request_id` (default: the declined suggestion)."""
    now = utcnow()
    with rt.session() as session:
        target = request_id or _suggestion(session, entry_id)
        request = session.get(Request, target) if target else None
        if request is None or request.status == "merged":
            raise LookupError(f"no open request #{target} to attach entry #{entry_id} to")
        claimed = session.execute(
            update(Feedback)
            .where(Feedback.id == entry_id, in_triage())
            .values(
                status="routed",
                request_id=request.id,
                match_type="manual",
                reason=f"attached in triage by {actor}"[:500],
                routed_at=now,
                updated_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        if (claimed.rowcount or 0) != 1:  # type: ignore[attr-defined]
            return ALREADY
        entry = session.get(Feedback, entry_id)
        assert entry is not None
        follow_and_confirm(
            session,
            rt.settings.app_url,
            entry,
            request,
            "triage_confirmation",
            f"triage-attached:{entry_id}",
        )
    return "attached"


def create(rt: Runtime, entry_id: int, actor: str) -> str:
    """Creates a new request from a triaged entry (routing's new-request path)."""
    with rt.session() as session:
        entry = session.get(Feedback, entry_id)
        if entry is None:
            raise LookupError(f"unknown entry #{entry_id}")
        if not session.scalar(select(Feedback.id).where(Feedback.id == entry_id, in_triage())):
            return ALREADY
        snapshot = snapshot_of(session, entry)
        suggested = _suggestion(session, entry_id)
        declined = load_request_infos(session, [suggested]).get(suggested) if suggested else None
        areas = [
            (a.slug, a.name, a.description or "")
            for a in session.scalars(select(ProductArea).order_by(ProductArea.id))
        ]
    neighbours = [ScoredCandidate(declined, 0.0)] if declined else []
    draft = draft_new_request(snapshot.pain, neighbours, areas, rt.llm, names=snapshot.names)
    embedder = rt.embedder
    vector = embedder.embed([request_text(draft.title, draft.description)])[0]
    decision = Decision(
        tier="new",
        request_id=suggested,
        confidence=float(entry.confidence or 0.0),
        reason=f"created in triage by {actor}"[:500],
        method="none",
        details={"triage": actor[:200]},
    )
    with rt.session() as session:
        reopened = session.execute(
            update(Feedback)
            .where(Feedback.id == entry_id, in_triage())
            .values(status="pending")
            .execution_options(synchronize_session=False)
        )
        if (reopened.rowcount or 0) != 1:  # type: ignore[attr-defined]
            return ALREADY
        index = rt.vector_index(session, embedder.model_id, embedder.dim)
        apply_new_request(
            session, snapshot, draft, decision, rt.settings, embedder.model_id, vector, index
        )
    return "created"
