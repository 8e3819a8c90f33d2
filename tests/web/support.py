"""Shared test data of the web tests: the seeded basics plus hostile strings, a merged request,
a relation pair, an old approval and an insight report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Approval,
    Feedback,
    InsightReport,
    RequestRelation,
    utcnow,
)
from tests.intake.seed import Seeded, seed_basics

SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
RTL = "invoice\u202egnp.exe"
CTRL = "bell\x07back\x08esc\x1b[31m"  # no NUL: PostgreSQL text cannot hold it
HOSTILE_TITLE = f"Export {SCRIPT} {IMG} {RTL}"
HOSTILE_PAIN = f"We need {SCRIPT} and {IMG} and {RTL} and {CTRL}"


@dataclass(frozen=True)
class WebSeed:
    base: Seeded
    hostile: int
    hostile_slug: str
    old: int  # merged into dark-mode
    twin: int  # likely duplicate of dark-mode
    approval: int  # pending for two days
    entry: int


def seed_web(url: str) -> WebSeed:
    with session_scope(url) as s:
        b = seed_basics(s)
        areas = [repo.resolve_area(s, "dashboards")]
        hostile = repo.create_request(s, HOSTILE_TITLE, f"Desc {SCRIPT}", areas, b.ann)
        old = repo.create_request(s, "Night theme", "Dark UI", areas, b.ann, slug="night-theme")
        twin = repo.create_request(s, "Dark theme please", "Dark", areas, b.bob, slug="dark-theme")
        s.flush()
        old.status = "merged"
        old.merged_into_id = b.dark_mode
        s.add_all(
            [
                Feedback(
                    source="cli",
                    external_id="h1",
                    customer_pain=HOSTILE_PAIN,
                    severity="high",
                    account_id=b.acme,
                    submitter_id=b.ann,
                    opportunity_id=b.acme_renewal,
                    status="routed",
                    request_id=hostile.id,
                ),
                Feedback(
                    source="cli",
                    external_id="h2",
                    customer_pain="Also dark please",
                    severity="low",
                    account_id=b.globex,
                    submitter_id=b.bob,
                    status="routed",
                    request_id=b.dark_mode,
                ),
                Feedback(
                    source="cli",
                    external_id="h3",
                    customer_pain="Dark again",
                    severity="medium",
                    account_id=b.acme,
                    submitter_id=b.bob,
                    status="routed",
                    request_id=b.dark_mode,
                ),
                RequestRelation(request_id=b.dark_mode, related_id=twin.id, similarity=0.91),
            ]
        )
        waiting = Feedback(
            source="cli",
            external_id="h4",
            customer_pain="Darker charts",
            severity="medium",
            account_id=b.acme,
            submitter_id=b.bob,
            status="awaiting_approval",
        )
        s.add(waiting)
        s.flush()
        approval = Approval(
            feedback_id=waiting.id,
            request_id=b.dark_mode,
            confidence=0.85,
            status="pending",
            created_at=utcnow() - timedelta(days=2),
        )
        s.add(approval)
        s.add(
            InsightReport(
                area_id=b.dashboards,
                day=date(2026, 1, 5),
                markdown=f"# Dashboards\n\n{SCRIPT}\n\n[Dark mode](http://localhost:8000/requests/dark-mode)\n\n[bad](javascript:alert(1))\n",
                data={"topRequests": []},
            )
        )
        s.flush()
        return WebSeed(b, hostile.id, hostile.slug, old.id, twin.id, approval.id, waiting.id)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def issue_link(email: str = "ann@example.com", app_url: str | None = None) -> str:
    """A one-time sign-in link as `gtm-feedback web-login` issues it (recorded in the app DB)."""
    from gtm_feedback_dagster.config import load_secrets, load_settings
    from gtm_feedback_dagster.web.auth import Signer, load_web_secret, login_link

    settings = load_settings()
    signer = Signer(load_web_secret(settings, load_secrets()))
    with session_scope(settings.database_url) as session:
        return login_link(signer, session, app_url or settings.app_url, email)
