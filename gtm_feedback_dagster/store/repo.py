"""Repository functions shared by every entry point (CLI, intake service, Dagster jobs).

Each function takes an open `Session` and leaves the transaction to the caller, so a change and
the messages that report it commit together. Inserts that must be idempotent use the dialect's
`ON CONFLICT DO NOTHING` (SQLite and PostgreSQL both have it), which also holds under concurrent
writers, unlike a read-then-insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import as_db_id
from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    Follower,
    Opportunity,
    ProductArea,
    Request,
    RequestArea,
    User,
    utcnow,
)


class NotFoundError(LookupError):
    """A reference (account, user, area, request, ...) that does not resolve; the message says
    what was looked for and how."""


def insert_ignore(session: Session, table: Any, values: dict[str, Any], conflict: Sequence[str]):
    """INSERT ... ON CONFLICT (conflict) DO NOTHING; returns the new primary key or None."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = (
            postgresql.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict))
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict))
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect}")
    pk = list(table.__table__.primary_key.columns)
    if len(pk) == 1:
        stmt = stmt.returning(pk[0])
        return session.execute(stmt).scalar_one_or_none()
    result = session.execute(stmt)
    return result.rowcount or None


def _as_int(ref: str | int) -> int | None:
    """The reference as a primary key, when it is a number the database can hold."""
    return as_db_id(ref)


# ---------------------------------------------------------------------------- users


def resolve_user(session: Session, ref: str | int) -> User:
    """By id, email, Slack user id, external id or (unique) name."""
    key = _as_int(ref)
    if key is not None:
        user = session.get(User, key)
        if user is not None:
            return user
    text = str(ref).strip()
    user = session.scalars(
        select(User).where(
            or_(
                func.lower(User.email) == text.lower(),
                User.slack_user_id == text,
                User.external_id == text,
            )
        )
    ).first()
    if user is not None:
        return user
    by_name = session.scalars(select(User).where(func.lower(User.name) == text.lower())).all()
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise NotFoundError(f"user {text!r} is ambiguous: {len(by_name)} users have that name")
    raise NotFoundError(f"unknown user {text!r} (give an id, email or name)")


def get_or_create_user(
    session: Session,
    email: str,
    name: str | None = None,
    slack_user_id: str | None = None,
    external_id: str | None = None,
) -> User:
    email = email.strip().lower()
    insert_ignore(
        session,
        User,
        {
            "email": email,
            "name": (name or email.split("@")[0]).strip()[:200],
            "slack_user_id": slack_user_id,
            "external_id": external_id,
            "is_admin": False,
            "created_at": utcnow(),
        },
        ["email"],
    )
    user = session.scalars(select(User).where(User.email == email)).one()
    if slack_user_id and user.slack_user_id is None:
        user.slack_user_id = slack_user_id
    return user


# ---------------------------------------------------------------------------- accounts


def resolve_account(session: Session, ref: str | int) -> Account:
    """By id, external (CRM) id, name or domain, case-insensitively."""
    key = _as_int(ref)
    if key is not None:
        account = session.get(Account, key)
        if account is not None:
            return account
    text = str(ref).strip()
    matches = session.scalars(
        select(Account).where(
            or_(
                Account.external_id == text,
                func.lower(Account.name) == text.lower(),
                func.lower(Account.domain) == text.lower(),
            )
        )
    ).all()
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise NotFoundError(f"account {text!r} is ambiguous: {len(matches)} accounts match")
    raise NotFoundError(f"unknown account {text!r} (give an id, CRM id, name or domain)")


def resolve_opportunity(session: Session, ref: str | int, account: Account | None) -> Opportunity:
    key = _as_int(ref)
    opp = session.get(Opportunity, key) if key is not None else None
    if opp is None:
        text = str(ref).strip()
        query = select(Opportunity).where(
            or_(Opportunity.external_id == text, func.lower(Opportunity.name) == text.lower())
        )
        if account is not None:
            query = query.where(Opportunity.account_id == account.id)
        found = session.scalars(query).all()
        if len(found) > 1:
            raise NotFoundError(f"opportunity {text!r} is ambiguous: {len(found)} match")
        opp = found[0] if found else None
    if opp is None:
        raise NotFoundError(f"unknown opportunity {str(ref)!r}")
    if account is not None and opp.account_id != account.id:
        raise NotFoundError(
            f"opportunity {str(ref)!r} belongs to another account than {account.name!r}"
        )
    return opp


# ---------------------------------------------------------------------------- areas


def resolve_area(session: Session, ref: str | int) -> ProductArea:
    key = _as_int(ref)
    if key is not None:
        area = session.get(ProductArea, key)
        if area is not None:
            return area
    text = str(ref).strip()
    area = session.scalars(
        select(ProductArea).where(
            or_(
                ProductArea.slug == text.lower(),
                func.lower(ProductArea.name) == text.lower(),
                ProductArea.slug == slugify(text),
            )
        )
    ).first()
    if area is None:
        known = ", ".join(session.scalars(select(ProductArea.slug).order_by(ProductArea.slug)))
        raise NotFoundError(f"unknown product area {text!r} (known: {known or 'none'})")
    return area


def normalize_channel(channel: str | None) -> str | None:
    """The reference accepts `api`, `firehose-api` or `#firehose-api` for `#firehose-api`."""
    if channel is None or not channel.strip():
        return None
    name = channel.strip().lstrip("#")
    if name.upper().startswith(("C", "G")) and name.isalnum() and name.isupper():
        return name  # already a Slack channel id
    return name if name.startswith("firehose-") else f"firehose-{name}"


def create_area(
    session: Session,
    name: str,
    description: str = "",
    slug: str | None = None,
    firehose_channel: str | None = None,
) -> tuple[ProductArea, bool]:
    """Idempotent by slug; returns (area, created)."""
    slug = slugify(slug or name)
    new_id = insert_ignore(
        session,
        ProductArea,
        {
            "slug": slug,
            "name": name.strip()[:100],
            "description": description.strip()[:500],
            "firehose_channel": normalize_channel(firehose_channel),
            "created_at": utcnow(),
        },
        ["slug"],
    )
    area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).one()
    return area, new_id is not None


def area_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(ProductArea.slug).order_by(ProductArea.slug)))


# ---------------------------------------------------------------------------- requests


def unique_request_slug(session: Session, title: str) -> str:
    base = slugify(title)
    taken = set(
        session.scalars(
            select(Request.slug).where(or_(Request.slug == base, Request.slug.like(f"{base}-%")))
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def resolve_request(session: Session, ref: str | int) -> Request:
    """By id, slug, external id or a URL ending in /requests/<slug>."""
    key = _as_int(ref)
    if key is not None:
        request = session.get(Request, key)
        if request is not None:
            return request
    text = str(ref).strip().rstrip("/")
    if "/requests/" in text or "/feedback/" in text:
        text = text.split("?")[0].rsplit("/", 1)[-1]
    request = session.scalars(
        select(Request).where(or_(Request.slug == text, Request.external_id == text))
    ).first()
    if request is None:
        raise NotFoundError(f"unknown request {str(ref)!r} (give an id, slug or request URL)")
    return request


def create_request(
    session: Session,
    title: str,
    description: str,
    areas: Sequence[ProductArea],
    creator_id: int | None,
    status: str = "open",
    slug: str | None = None,
    external_id: str | None = None,
    created_by_routing: bool = False,
    created_at: datetime | None = None,
    meta: dict[str, Any] | None = None,
) -> Request:
    if not areas:
        raise ValueError("a request needs at least one product area")
    request = Request(
        title=title.strip()[:200],
        description=description.strip(),
        slug=slug or unique_request_slug(session, title),
        status=status,
        creator_id=creator_id,
        external_id=external_id,
        created_by_routing=created_by_routing,
        meta=meta or {},
        links=[],
    )
    if created_at is not None:
        request.created_at = created_at
        request.updated_at = created_at
    session.add(request)
    session.flush()
    for area in {a.id: a for a in areas}.values():
        session.add(RequestArea(request_id=request.id, area_id=area.id))
    session.flush()
    return request


def follow(session: Session, user_id: int, request_id: int) -> bool:
    """Idempotent; True when the user was not following yet."""
    new_id = insert_ignore(
        session,
        Follower,
        {"user_id": user_id, "request_id": request_id, "created_at": utcnow()},
        ["user_id", "request_id"],
    )
    return new_id is not None


def unfollow(session: Session, user_id: int, request_id: int) -> bool:
    row = session.scalars(
        select(Follower).where(Follower.user_id == user_id, Follower.request_id == request_id)
    ).first()
    if row is None:
        return False
    session.delete(row)
    return True


def follower_ids(session: Session, request_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Follower.user_id).where(Follower.request_id == request_id).order_by(Follower.id)
        )
    )


# ---------------------------------------------------------------------------- feedback


def add_feedback(session: Session, values: dict[str, Any]) -> tuple[Feedback, bool]:
    """Stores an entry once per (source, external_id); returns (entry, created).

    Without an external id every call stores a new entry (a CLI submit is a new statement).
    """
    values = {
        "status": "pending",
        "links": [],
        "meta": {},
        "attempts": 0,
        "created_at": utcnow(),
        "updated_at": utcnow(),
        **values,
    }
    if values.get("external_id") is None:
        entry = Feedback(**values)
        session.add(entry)
        session.flush()
        return entry, True
    new_id = insert_ignore(session, Feedback, values, ["source", "external_id"])
    entry = session.scalars(
        select(Feedback).where(
            Feedback.source == values["source"], Feedback.external_id == values["external_id"]
        )
    ).one()
    return entry, new_id is not None


# ---------------------------------------------------------------------------- bulk


def bulk_insert_ignore(
    session: Session,
    table: Any,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    chunk_size: int = 2000,
) -> None:
    """Many-row INSERT ... ON CONFLICT (conflict) DO NOTHING, sent as executemany in chunks.

    Every row must carry the same keys. Rows already present are skipped, so a re-run or a
    concurrent writer never fails the whole batch; callers that need counts look up the existing
    keys first.
    """
    if not rows:
        return
    # The Core table, not the ORM entity: ORM bulk inserts split rows into one statement per
    # pattern of NULL columns, which made a 300k-row import 5x slower.
    core_table = getattr(table, "__table__", table)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # RETURNING makes SQLAlchemy batch the rows into multi-VALUES statements; without it an
        # ON CONFLICT insert falls back to psycopg2's row-by-row executemany (20x slower).
        stmt = (
            postgresql.insert(core_table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*core_table.primary_key.columns)
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(core_table).on_conflict_do_nothing(index_elements=list(conflict))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect}")
    for start in range(0, len(rows), chunk_size):
        session.execute(stmt, list(rows[start : start + chunk_size]))
