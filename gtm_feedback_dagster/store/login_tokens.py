"""One-time web sign-in links in the app database (table `web_login_tokens`, migration 0004).

A link is recorded when it is issued (the SHA-256 of its nonce, its email and expiry) and spent
by one conditional UPDATE (`used_at IS NULL AND expires_at > now`): the database decides which of
two concurrent spends wins, so a link signs in once across every process and replica.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store.schema import WebLoginToken, utcnow

KEEP_AFTER_EXPIRY = timedelta(days=1)  # spent/expired rows are purged this long after expiry


def token_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8")).hexdigest()


def record_link(session: Session, nonce: str, email: str, expires_at: datetime) -> None:
    """Record an issued link (and purge rows long expired)."""
    now = utcnow()
    session.execute(delete(WebLoginToken).where(WebLoginToken.expires_at < now - KEEP_AFTER_EXPIRY))
    session.add(
        WebLoginToken(
            token_hash=token_hash(nonce), email=email, expires_at=expires_at, created_at=now
        )
    )
    session.flush()


def link_open(session: Session, nonce: str) -> bool:
    """Whether the link was issued, is unspent and unexpired (no side effect)."""
    row = session.get(WebLoginToken, token_hash(nonce))
    return row is not None and row.used_at is None and row.expires_at > utcnow()


def spend_link(session: Session, nonce: str, email: str) -> bool:
    """Mark the link used; True for exactly one caller across all processes."""
    now = utcnow()
    result = session.execute(
        update(WebLoginToken)
        .where(
            WebLoginToken.token_hash == token_hash(nonce),
            WebLoginToken.email == email,
            WebLoginToken.used_at.is_(None),
            WebLoginToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def open_links(session: Session, email: str) -> int:
    """Unspent, unexpired links of one address (tests, diagnostics)."""
    rows = session.scalars(
        select(WebLoginToken).where(
            WebLoginToken.email == email,
            WebLoginToken.used_at.is_(None),
            WebLoginToken.expires_at > utcnow(),
        )
    ).all()
    return len(rows)
