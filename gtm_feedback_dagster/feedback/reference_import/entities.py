"""The entity phases of a reference import: users, areas, accounts, opportunities. Each reads
its table once, inserts new rows in bulk, updates changed ones, and fills the context's id maps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from gtm_feedback_dagster.catalog.entities import account_fields
from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import (
    ValidationError,
    clean_text,
    normalize_keys,
    parse_amount,
    parse_bool,
    parse_date,
    text_or_none,
)
from gtm_feedback_dagster.feedback.reference_import.context import ImportContext
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import Account, Opportunity, ProductArea, User


def import_users(ctx: ImportContext, rows: list[dict[str, Any]]) -> None:
    counts = ctx.summary.counts["users"]
    with ctx.tx() as session:
        known = {
            u.id: u
            for u in session.execute(
                select(User.id, User.email, User.name, User.external_id, User.is_admin)
            ).all()
        }
        by_email = {u.email.lower(): u.id for u in known.values()}
        by_ext = {u.external_id: u.id for u in known.values() if u.external_id}
        new: dict[str, dict[str, Any]] = {}
        new_refs: dict[str, str] = {}
        updates: dict[int, dict[str, Any]] = {}
        for index, raw in enumerate(rows):
            row = normalize_keys(raw) if isinstance(raw, dict) else {}
            ref = text_or_none(row.get("id"), 100)
            email = text_or_none(row.get("email"))
            if email is None or "@" not in email:
                counts.invalid += 1
                ctx.summary.problem("users", index, ref, "a user needs an email address")
                continue
            email = email.lower()
            name = text_or_none(row.get("name"), 200) or email.split("@")[0]
            try:
                is_admin = parse_bool(row.get("is_admin"), "isAdmin")
            except ValidationError as exc:
                counts.invalid += 1
                ctx.summary.problem("users", index, ref, str(exc))
                continue
            user_id = (by_ext.get(ref) if ref else None) or by_email.get(email)
            if user_id is None:
                if email in new:
                    counts.existing += 1
                else:
                    # Two users of the export with one id: the second keeps no external id.
                    external_id = ref if ref and ref not in new_refs else None
                    new[email] = {
                        "email": email,
                        "name": name,
                        "external_id": external_id,
                        "is_admin": is_admin,
                        "slack_user_id": None,
                        "created_at": ctx.now,
                    }
                    counts.created += 1
                if ref:
                    new_refs[ref] = email
                continue
            ctx.users[ref or email] = user_id
            current = known[user_id]
            changes: dict[str, Any] = {}
            if current.name != name:
                changes["name"] = name
            if bool(current.is_admin) != is_admin:
                changes["is_admin"] = is_admin
            if ref and current.external_id is None and ref not in by_ext:
                changes["external_id"] = ref
                by_ext[ref] = user_id
            if changes:
                updates[user_id] = {"id": user_id, **changes}
                counts.updated += 1
            else:
                counts.existing += 1
        repo.bulk_insert_ignore(session, User, list(new.values()), ["email"])
        if updates:
            session.execute(update(User), list(updates.values()))
        for user_id, email in session.execute(select(User.id, User.email)):
            ctx.users_by_email[email.lower()] = user_id
        for user_id, ext in session.execute(
            select(User.id, User.external_id).where(User.external_id.is_not(None))
        ):
            ctx.users[ext] = user_id
        for ref, email in new_refs.items():
            ctx.users.setdefault(ref, ctx.users_by_email[email])
    ctx.progress(len(rows))


def import_areas(ctx: ImportContext, rows: list[dict[str, Any]]) -> None:
    counts = ctx.summary.counts["areas"]
    with ctx.tx() as session:
        by_slug = {a.slug: a for a in session.scalars(select(ProductArea))}
        by_name = {a.name.lower(): a for a in by_slug.values()}
        for index, raw in enumerate(rows):
            row = normalize_keys(raw) if isinstance(raw, dict) else {}
            ref = text_or_none(row.get("id"))
            try:
                name = clean_text(row.get("name"), 100, what="name")
            except ValidationError as exc:
                counts.invalid += 1
                ctx.summary.problem("areas", index, ref, str(exc))
                continue
            slug = slugify(text_or_none(row.get("slug")) or name)
            description = (text_or_none(row.get("description")) or "")[:500]
            channel = repo.normalize_channel(text_or_none(row.get("firehose_channel")))
            area = by_slug.get(slug)
            same_name = by_name.get(name.lower())
            if area is None and same_name is not None:
                counts.invalid += 1
                ctx.summary.problem(
                    "areas",
                    index,
                    ref,
                    f"an area named {name!r} already has slug {same_name.slug!r}",
                )
                continue
            if area is None:
                area, _ = repo.create_area(
                    session, name, description, slug=slug, firehose_channel=channel
                )
                by_slug[slug] = area
                by_name[name.lower()] = area
                counts.created += 1
            else:
                changes = {"description": description, "firehose_channel": channel}
                if same_name is None:  # a rename must not take another area's name
                    changes["name"] = name
                changed = {k: v for k, v in changes.items() if getattr(area, k) != v}
                for column, value in changed.items():
                    setattr(area, column, value)
                if changed:
                    by_name[area.name.lower()] = area
                    counts.updated += 1
                else:
                    counts.existing += 1
            ctx.areas[ref or slug] = area.id
        session.flush()
        # Requests may name areas by slug or name too.
        for area in by_slug.values():
            ctx.areas.setdefault(area.slug, area.id)
            ctx.areas.setdefault(area.name.lower(), area.id)
    ctx.progress(len(rows))


ACCOUNT_COLUMNS = (
    "name",
    "domain",
    "type",
    "arr",
    "is_enterprise",
    "region",
    "industry",
    "territory",
    "segment",
    "sub_segment",
)


def import_accounts(ctx: ImportContext, rows: list[dict[str, Any]]) -> None:
    counts = ctx.summary.counts["accounts"]
    with ctx.tx() as session:
        columns = [getattr(Account, c) for c in ("id", "external_id", *ACCOUNT_COLUMNS)]
        known = {
            row.external_id: row
            for row in session.execute(select(*columns).where(Account.external_id.is_not(None)))
        }
        new: dict[str, dict[str, Any]] = {}
        updates: list[dict[str, Any]] = []
        for index, raw in enumerate(rows):
            row = normalize_keys(raw) if isinstance(raw, dict) else {}
            ref = text_or_none(row.get("id"), 100)
            try:
                if ref is None:
                    raise ValidationError(["an account needs its id"])
                name = clean_text(row.get("name"), 300, what="name")
                fields = account_fields(row)
            except ValidationError as exc:
                counts.invalid += 1
                ctx.summary.problem("accounts", index, ref, str(exc))
                continue
            fields["name"] = name
            current = known.get(ref)
            if current is None:
                if ref in new:
                    counts.existing += 1
                    continue
                new[ref] = {
                    **dict.fromkeys(ACCOUNT_COLUMNS),
                    "arr": 0.0,
                    "is_enterprise": False,
                    **fields,
                    "external_id": ref,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                }
                counts.created += 1
                continue
            changes = {k: v for k, v in fields.items() if getattr(current, k) != v}
            if changes:
                updates.append({"id": current.id, **changes, "updated_at": ctx.now})
                counts.updated += 1
            else:
                counts.existing += 1
        repo.bulk_insert_ignore(session, Account, list(new.values()), ["external_id"])
        if updates:
            session.execute(update(Account), updates)
        for account_id, ext in session.execute(
            select(Account.id, Account.external_id).where(Account.external_id.is_not(None))
        ):
            ctx.accounts[ext] = account_id
    ctx.progress(len(rows))


def import_opportunities(ctx: ImportContext, rows: list[dict[str, Any]]) -> None:
    counts = ctx.summary.counts["opportunities"]
    with ctx.tx() as session:
        known = {
            row.external_id: row
            for row in session.execute(
                select(
                    Opportunity.id,
                    Opportunity.external_id,
                    Opportunity.account_id,
                    Opportunity.name,
                    Opportunity.arr,
                    Opportunity.stage,
                    Opportunity.close_date,
                ).where(Opportunity.external_id.is_not(None))
            )
        }
        new: dict[str, dict[str, Any]] = {}
        updates: list[dict[str, Any]] = []
        for index, raw in enumerate(rows):
            row = normalize_keys(raw) if isinstance(raw, dict) else {}
            ref = text_or_none(row.get("id"), 100)
            try:
                if ref is None:
                    raise ValidationError(["an opportunity needs its id"])
                account_ref = text_or_none(row.get("account_id"))
                if account_ref is None:
                    raise ValidationError(["accountId is required"])
                if account_ref not in ctx.accounts:
                    raise ValidationError([f"unknown account {account_ref!r}"])
                fields = {
                    "account_id": ctx.accounts[account_ref],
                    "name": clean_text(row.get("name"), 300, what="name"),
                    "arr": parse_amount(row.get("arr"), "arr"),
                    "stage": text_or_none(row.get("stage"), 100),
                    "close_date": parse_date(row.get("close_date"), "closeDate"),
                }
            except ValidationError as exc:
                counts.invalid += 1
                ctx.summary.problem("opportunities", index, ref, str(exc))
                continue
            current = known.get(ref)
            if current is None:
                if ref in new:
                    counts.existing += 1
                    continue
                new[ref] = {**fields, "external_id": ref, "created_at": ctx.now}
                counts.created += 1
                continue
            changes = {k: v for k, v in fields.items() if getattr(current, k) != v}
            if changes:
                updates.append({"id": current.id, **changes})
                counts.updated += 1
            else:
                counts.existing += 1
        repo.bulk_insert_ignore(session, Opportunity, list(new.values()), ["external_id"])
        if updates:
            session.execute(update(Opportunity), updates)
        for opp_id, ext, account_id in session.execute(
            select(Opportunity.id, Opportunity.external_id, Opportunity.account_id).where(
                Opportunity.external_id.is_not(None)
            )
        ):
            ctx.opportunities[ext] = (opp_id, account_id)
    ctx.progress(len(rows))
