"""Upserts of the entities feedback refers to (areas, users, accounts, opportunities, requests),
one row at a time, keyed by each entity's natural key. Used by the CSV import and the
management commands; a row whose values are unusable raises `ValidationError` with the reason.

An upsert creates the entity, or updates the descriptive fields the row gives (blank cells leave
a field as it is). Workflow state is not imported onto existing rows: a request's status changes
through `gtm-feedback requests ship|deprioritize|reopen`, which the notifications follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.catalog.resolver import RefResolver
from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import (
    ValidationError,
    blank,
    clean_text,
    parse_amount,
    parse_bool,
    parse_date,
    parse_datetime,
    split_list,
    text_or_none,
)
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import (
    Account,
    Opportunity,
    ProductArea,
    Request,
    User,
    utcnow,
)

Upsert = Literal["created", "existing", "updated"]
IMPORTABLE_REQUEST_STATUSES = ("open", "shipped", "deprioritized")


def _apply(obj: Any, changes: dict[str, Any]) -> bool:
    """Sets the fields that differ; True when anything changed."""
    changed = False
    for name, value in changes.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _first(values: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in values and not blank(values[name]):
            return values[name]
    return None


def _email(value: Any) -> str:
    email = text_or_none(value)
    if email is None:
        raise ValidationError(["email is required"])
    email = email.lower()
    if "@" not in email or " " in email or len(email) > 320:
        raise ValidationError([f"not an email address: {email[:80]!r}"])
    return email


def domain_of(value: Any) -> str | None:
    """`https://www.acme.com/x` -> `acme.com`."""
    text = text_or_none(value)
    if text is None:
        return None
    host = urlparse(text if "//" in text else f"//{text}").hostname or text
    return host.lower().removeprefix("www.")[:300]


# ---------------------------------------------------------------------------- users


def upsert_user(session: Session, resolver: RefResolver | None, values: dict[str, Any]) -> Upsert:
    email = _email(_first(values, "email", "user_email"))
    name = text_or_none(_first(values, "name", "full_name"), 200)
    slack_user_id = text_or_none(_first(values, "slack_user_id", "slack_id"), 64)
    external_id = text_or_none(_first(values, "external_id", "id"), 100)
    user = session.scalars(select(User).where(func.lower(User.email) == email)).first()
    for column, value in (("slack_user_id", slack_user_id), ("external_id", external_id)):
        if value is None:
            continue
        owner = session.scalars(select(User).where(getattr(User, column) == value)).first()
        if owner is not None and (user is None or owner.id != user.id):
            raise ValidationError([f"{column} {value!r} already belongs to user {owner.email}"])
    changes: dict[str, Any] = {}
    if name:
        changes["name"] = name
    if slack_user_id:
        changes["slack_user_id"] = slack_user_id
    if external_id:
        changes["external_id"] = external_id
    if not blank(_first(values, "is_admin", "admin")):
        changes["is_admin"] = parse_bool(_first(values, "is_admin", "admin"), "is_admin")
    if user is None:
        session.add(
            User(
                email=email,
                name=name or email.split("@")[0],
                slack_user_id=slack_user_id,
                external_id=external_id,
                is_admin=changes.get("is_admin", False),
                created_at=utcnow(),
            )
        )
        session.flush()
        return "created"
    return "updated" if _apply(user, changes) else "existing"


# ---------------------------------------------------------------------------- areas


def upsert_area(session: Session, resolver: RefResolver | None, values: dict[str, Any]) -> Upsert:
    name = clean_text(_first(values, "name", "area"), 100, what="name")
    slug = slugify(text_or_none(values.get("slug")) or name)
    description = text_or_none(values.get("description"))
    if description is not None and len(description) > 500:
        raise ValidationError([f"description is too long ({len(description)} > 500 characters)"])
    channel = repo.normalize_channel(text_or_none(_first(values, "firehose_channel", "channel")))
    same_name = session.scalars(
        select(ProductArea).where(func.lower(ProductArea.name) == name.lower())
    ).first()
    if same_name is not None and same_name.slug != slug:
        raise ValidationError(
            [f"an area named {name!r} already exists with slug {same_name.slug!r}"]
        )
    area = session.scalars(select(ProductArea).where(ProductArea.slug == slug)).first()
    if area is None:
        repo.create_area(session, name, description or "", slug=slug, firehose_channel=channel)
        return "created"
    changes: dict[str, Any] = {"name": name}
    if description is not None:
        changes["description"] = description
    if channel is not None:
        changes["firehose_channel"] = channel
    return "updated" if _apply(area, changes) else "existing"


# ---------------------------------------------------------------------------- accounts


def account_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The account columns a row gives (blank cells are left out)."""
    fields: dict[str, Any] = {}
    for column, names, size in (
        ("type", ("type", "account_type"), 50),
        ("region", ("region", "region_name"), 100),
        ("industry", ("industry",), 100),
        ("territory", ("territory",), 100),
        ("segment", ("segment",), 100),
        ("sub_segment", ("sub_segment",), 100),
    ):
        value = text_or_none(_first(values, *names), size)
        if value is not None:
            fields[column] = value
    domain = domain_of(_first(values, "domain", "website"))
    if domain is not None:
        fields["domain"] = domain
    if not blank(values.get("arr")):
        fields["arr"] = parse_amount(values.get("arr"), "arr")
    if not blank(values.get("is_enterprise")):
        fields["is_enterprise"] = parse_bool(values.get("is_enterprise"), "is_enterprise")
    return fields


def upsert_account(
    session: Session, resolver: RefResolver | None, values: dict[str, Any]
) -> Upsert:
    name = clean_text(_first(values, "name", "account_name", "account"), 300, what="name")
    external_id = text_or_none(_first(values, "external_id", "id", "sfdc_id"), 100)
    fields = account_fields(values)
    if external_id is not None:
        account = session.scalars(select(Account).where(Account.external_id == external_id)).first()
    else:
        matches = session.scalars(
            select(Account).where(func.lower(Account.name) == name.lower())
        ).all()
        if len(matches) > 1:
            raise ValidationError(
                [f"{len(matches)} accounts are named {name!r}: add an external_id column"]
            )
        account = matches[0] if matches else None
    if account is None:
        session.add(
            Account(
                name=name,
                external_id=external_id,
                arr=fields.pop("arr", 0.0),
                is_enterprise=fields.pop("is_enterprise", False),
                created_at=utcnow(),
                updated_at=utcnow(),
                **fields,
            )
        )
        session.flush()
        return "created"
    return "updated" if _apply(account, {"name": name, **fields}) else "existing"


# ---------------------------------------------------------------------------- opportunities


def upsert_opportunity(
    session: Session, resolver: RefResolver | None, values: dict[str, Any]
) -> Upsert:
    resolver = resolver or RefResolver(session)
    name = clean_text(_first(values, "name", "opportunity_name"), 300, what="name")
    account_ref = text_or_none(_first(values, "account", "account_id", "account_name"))
    if account_ref is None:
        raise ValidationError(["account is required"])
    account_id = resolver.account(account_ref)
    external_id = text_or_none(_first(values, "external_id", "id", "sfdc_id"), 100)
    fields: dict[str, Any] = {"name": name, "account_id": account_id}
    stage = text_or_none(values.get("stage"), 100)
    if stage is not None:
        fields["stage"] = stage
    if not blank(values.get("arr")):
        fields["arr"] = parse_amount(values.get("arr"), "arr")
    close_date = parse_date(values.get("close_date"), "close_date")
    if close_date is not None:
        fields["close_date"] = close_date
    if external_id is not None:
        opp = session.scalars(
            select(Opportunity).where(Opportunity.external_id == external_id)
        ).first()
    else:
        opp = session.scalars(
            select(Opportunity).where(
                Opportunity.account_id == account_id, func.lower(Opportunity.name) == name.lower()
            )
        ).first()
    if opp is None:
        session.add(
            Opportunity(
                external_id=external_id,
                arr=fields.pop("arr", 0.0),
                created_at=utcnow(),
                **fields,
            )
        )
        session.flush()
        return "created"
    return "updated" if _apply(opp, fields) else "existing"


# ---------------------------------------------------------------------------- requests


def mark_historical(request: Request, now: datetime | None = None) -> None:
    """A request imported as shipped shipped in the system it comes from, which announced it:
    the shipped sensor must not announce it again. (Reminders need no marking: they only go
    out for requests created within the reminder window.)"""
    now = now or utcnow()
    if request.status == "shipped":
        request.shipped_at = request.shipped_at or request.updated_at or now
        request.shipped_notified_at = now


def upsert_request(
    session: Session, resolver: RefResolver | None, values: dict[str, Any]
) -> Upsert:
    resolver = resolver or RefResolver(session)
    title = clean_text(values.get("title"), 200, what="title")
    description = text_or_none(values.get("description")) or ""
    external_id = text_or_none(_first(values, "external_id", "id"), 100)
    slug_given = text_or_none(values.get("slug"))
    slug = slugify(slug_given or title, max_len=200)
    area_refs = split_list(_first(values, "areas", "area", "area_ids", "area_slugs"))
    status = (text_or_none(values.get("status")) or "open").lower()
    if status not in IMPORTABLE_REQUEST_STATUSES:
        raise ValidationError(
            [f"unknown status {status!r}: use {'|'.join(IMPORTABLE_REQUEST_STATUSES)}"]
        )
    creator_ref = text_or_none(_first(values, "creator", "creator_email", "created_by"))
    creator_id = resolver.user(creator_ref) if creator_ref else None
    created_at = parse_datetime(values.get("created_at"))

    if external_id is not None:
        request = session.scalars(select(Request).where(Request.external_id == external_id)).first()
    else:
        request = session.scalars(select(Request).where(Request.slug == slug)).first()
    if request is not None:
        changes: dict[str, Any] = {"title": title}
        if description:
            changes["description"] = description
        changed = _apply(request, changes)
        if area_refs:
            known = {area.id for area in request.areas}
            for area_id in _area_ids(resolver, area_refs):
                if area_id not in known:
                    request.areas.append(session.get(ProductArea, area_id))  # type: ignore[arg-type]
                    changed = True
        return "updated" if changed else "existing"

    if not area_refs:
        raise ValidationError(["areas is required (one or more area slugs or names)"])
    areas = [session.get(ProductArea, i) for i in _area_ids(resolver, area_refs)]
    if (
        external_id is not None
        and session.scalars(select(Request.id).where(Request.slug == slug)).first()
    ):
        slug = repo.unique_request_slug(session, slug)
    request = repo.create_request(
        session,
        title,
        description,
        [a for a in areas if a is not None],
        creator_id,
        status=status,
        slug=slug,
        external_id=external_id,
        created_at=created_at,
    )
    mark_historical(request)
    if creator_id is not None:
        repo.follow(session, creator_id, request.id)
    return "created"


def _area_ids(resolver: RefResolver, refs: list[str]) -> list[int]:
    ids: list[int] = []
    problems: list[str] = []
    for ref in refs:
        try:
            ids.append(resolver.area(ref))
        except repo.NotFoundError as exc:
            problems.append(str(exc))
    if problems:
        raise ValidationError(problems)
    return ids


def create_area(
    session: Session,
    name: str,
    slug: str | None = None,
    description: str = "",
    firehose_channel: str | None = None,
) -> tuple[ProductArea, bool]:
    """Idempotent by slug: returns (area, created); an existing area is left unchanged."""
    name = clean_text(name, 100, what="name")
    area_slug = slugify(slug or name)
    existing = session.scalars(select(ProductArea).where(ProductArea.slug == area_slug)).first()
    if existing is not None:
        return existing, False
    # The upsert checks what a new area must satisfy (unique name, description length).
    upsert_area(
        session,
        None,
        {
            "name": name,
            "slug": area_slug,
            "description": description,
            "firehose_channel": firehose_channel,
        },
    )
    return session.scalars(select(ProductArea).where(ProductArea.slug == area_slug)).one(), True


HANDLERS: dict[str, Callable[[Session, RefResolver | None, dict[str, Any]], Upsert]] = {
    "users": upsert_user,
    "areas": upsert_area,
    "accounts": upsert_account,
    "opportunities": upsert_opportunity,
    "requests": upsert_request,
}
