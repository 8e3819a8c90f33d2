"""The requests phase of a reference import: requests, their areas, followers and related
requests. A ship in the export was announced there, so it is not announced again here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from gtm_feedback_dagster.catalog.entities import IMPORTABLE_REQUEST_STATUSES
from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import (
    ValidationError,
    blank,
    clean_text,
    json_safe,
    normalize_keys,
    parse_datetime,
    split_list,
    text_or_none,
)
from gtm_feedback_dagster.feedback.reference_import.context import ImportContext
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import Follower, Request, RequestArea


def import_requests(ctx: ImportContext, rows: list[dict[str, Any]]) -> None:
    counts = ctx.summary.counts["requests"]
    follower_counts = ctx.summary.counts["followers"]
    with ctx.tx() as session:
        known = {
            row.external_id: row
            for row in session.execute(
                select(
                    Request.id,
                    Request.external_id,
                    Request.title,
                    Request.description,
                    Request.related_request_id,
                ).where(Request.external_id.is_not(None))
            )
        }
        taken_slugs = set(session.scalars(select(Request.slug)))
        new: dict[str, dict[str, Any]] = {}
        updates: list[dict[str, Any]] = []
        wanted_areas: dict[str, list[int]] = {}
        wanted_followers: dict[str, list[int]] = {}
        wanted_related: dict[str, str] = {}
        for index, raw in enumerate(rows):
            row = normalize_keys(raw) if isinstance(raw, dict) else {}
            ref = text_or_none(row.get("id"), 100)
            try:
                if ref is None:
                    raise ValidationError(["a request needs its id"])
                title = clean_text(row.get("title"), 200, what="title")
                description = text_or_none(row.get("description")) or ""
                status = (text_or_none(row.get("status")) or "open").lower()
                if status not in IMPORTABLE_REQUEST_STATUSES:
                    raise ValidationError(
                        [f"unknown status {status!r}: use {'|'.join(IMPORTABLE_REQUEST_STATUSES)}"]
                    )
                area_refs = split_list(row.get("area_ids") or row.get("areas"))
                area_ids = [i for i in map(ctx.area_id, area_refs) if i is not None]
                if not area_ids:
                    raise ValidationError(
                        [f"none of its areas is known ({', '.join(area_refs) or 'none given'})"]
                    )
                created_at = parse_datetime(row.get("created_at"), "createdAt") or ctx.now
                meta = json_safe(row["metadata"]) if isinstance(row.get("metadata"), dict) else {}
            except ValidationError as exc:
                counts.invalid += 1
                ctx.summary.problem("requests", index, ref, str(exc))
                continue
            unknown_areas = [a for a in area_refs if ctx.area_id(a) is None]
            if unknown_areas:
                ctx.summary.problem(
                    "requests",
                    index,
                    ref,
                    f"unknown areas left out: {', '.join(unknown_areas)}",
                )
            wanted_areas[ref] = sorted(set(area_ids))
            followers = []
            for follower_ref in split_list(row.get("followers")):
                user_id = ctx.user_id(follower_ref)
                if user_id is None:
                    follower_counts.invalid += 1
                    ctx.summary.problem(
                        "followers", index, ref, f"unknown follower {follower_ref!r}"
                    )
                else:
                    followers.append(user_id)
            wanted_followers[ref] = followers
            related = text_or_none(row.get("related_request_id"))
            if related:
                wanted_related[ref] = related
            current = known.get(ref)
            if current is not None:
                changes = {
                    k: v
                    for k, v in (("title", title), ("description", description))
                    if getattr(current, k) != v
                }
                if changes:
                    updates.append({"id": current.id, **changes, "updated_at": ctx.now})
                    counts.updated += 1
                else:
                    counts.existing += 1
                continue
            if ref in new:
                counts.existing += 1
                continue
            creator_ref = row.get("creator")
            creator_id = ctx.user_id(creator_ref)
            if creator_id is None and not blank(creator_ref):
                ctx.summary.problem(
                    "requests",
                    index,
                    ref,
                    f"unknown creator {creator_ref!r}: stored without one",
                )
            slug = unique_slug(
                slugify(text_or_none(row.get("slug")) or title, max_len=200), taken_slugs
            )
            # A ship in the export was announced there: not announced again here.
            new[ref] = {
                "external_id": ref,
                "slug": slug,
                "title": title,
                "description": description,
                "status": status,
                "creator_id": creator_id,
                "related_request_id": None,
                "merged_into_id": None,
                "notes": text_or_none(row.get("notes")),
                "links": split_list(row.get("related_links")),
                "meta": meta,
                "created_by_routing": False,
                "created_at": created_at,
                "updated_at": created_at,
                "shipped_at": created_at if status == "shipped" else None,
                "shipped_notified_at": ctx.now if status == "shipped" else None,
                "reminder_sent_at": None,
            }
            counts.created += 1
        repo.bulk_insert_ignore(session, Request, list(new.values()), ["external_id"])
        if updates:
            session.execute(update(Request), updates)
        related_now: dict[int, int | None] = {}
        for request_id, ext, related_id in session.execute(
            select(Request.id, Request.external_id, Request.related_request_id).where(
                Request.external_id.is_not(None)
            )
        ):
            ctx.requests[ext] = request_id
            related_now[request_id] = related_id

        links = [
            {"request_id": ctx.requests[ref], "area_id": area_id}
            for ref, area_ids in wanted_areas.items()
            if ref in ctx.requests
            for area_id in area_ids
        ]
        repo.bulk_insert_ignore(session, RequestArea, links, ["request_id", "area_id"])

        existing_pairs = set(session.execute(select(Follower.user_id, Follower.request_id)))
        follows: dict[tuple[int, int], dict[str, Any]] = {}
        for ref, user_ids in wanted_followers.items():
            request_id = ctx.requests.get(ref)
            for user_id in user_ids:
                pair = (user_id, request_id)
                if request_id is None or pair in follows:
                    continue
                if pair in existing_pairs:
                    follower_counts.existing += 1
                    continue
                follows[pair] = {
                    "user_id": user_id,
                    "request_id": request_id,
                    "created_at": ctx.now,
                }
        repo.bulk_insert_ignore(
            session, Follower, list(follows.values()), ["user_id", "request_id"]
        )
        follower_counts.created += len(follows)

        related_updates = []
        for ref, related_ref in wanted_related.items():
            request_id = ctx.requests.get(ref)
            related_id = ctx.requests.get(related_ref)
            if request_id is None:
                continue
            if related_id is None:
                ctx.summary.problem("requests", -1, ref, f"unknown related request {related_ref!r}")
                continue
            if related_now.get(request_id) is None and related_id != request_id:
                related_updates.append({"id": request_id, "related_request_id": related_id})
        if related_updates:
            session.execute(update(Request), related_updates)
    ctx.progress(len(rows))


def unique_slug(base: str, taken: set[str]) -> str:
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    taken.add(slug)
    return slug
