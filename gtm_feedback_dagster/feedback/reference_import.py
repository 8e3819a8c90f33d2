"""Migration from the reference system: loads an export in its seed shape
(users / areas / sfdcAccounts / sfdcOpportunities / requests / feedback, camelCase or snake_case
keys) into the app database.

Built for size (the benchmark file holds 30k requests and 300k entries): every table is read once
into dicts, new rows go in with many-row inserts, and nothing queries per row. Idempotent:
entities are keyed by their reference ids (kept in `external_id` columns; areas by slug), entries
by (source "reference", id or content hash), so a re-run stores nothing twice and changes only
what the export changed. Invalid entries are stored `invalid` with the reason and the original
record; invalid entities (which have nowhere to be stored) are reported.

`import_reference(session_or_url, data, route)` is the entry point for the CLI, the demo and the
benchmarks. Given a URL it commits phase by phase (and every few thousand entries), so an
interrupted run keeps its progress and a re-run finishes it; given a session it only flushes and
leaves the transaction to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gtm_feedback_dagster.catalog.entities import IMPORTABLE_REQUEST_STATUSES, account_fields
from gtm_feedback_dagster.core.validation import (
    DEFAULT_MAX_TEXT_CHARS,
    ValidationError,
    clean_text,
    parse_links,
    parse_severity,
    slugify,
)
from gtm_feedback_dagster.feedback.records import (
    blank,
    normalize_keys,
    parse_amount,
    parse_bool,
    parse_date,
    parse_datetime,
    split_list,
    stable_hash,
    text_or_none,
)
from gtm_feedback_dagster.feedback.submission import PreparedFeedback, entry_columns, revive
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
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

REFERENCE_SOURCE = "reference"
KINDS = ("users", "areas", "accounts", "opportunities", "requests", "followers", "feedback")
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("users",),
    "areas": ("areas", "product_areas", "productAreas"),
    "accounts": ("sfdcAccounts", "sfdc_accounts", "accounts"),
    "opportunities": ("sfdcOpportunities", "sfdc_opportunities", "opportunities"),
    "requests": ("requests",),
    "feedback": ("feedback",),
}
FEEDBACK_CHUNK = 5000
PROBLEM_LIMIT = 10_000  # keep the report bounded on a badly broken export


@dataclass
class KindCounts:
    created: int = 0
    existing: int = 0
    updated: int = 0
    invalid: int = 0


@dataclass
class ImportProblem:
    kind: str
    index: int  # position in the export's list
    ref: str | None
    reason: str
    stored: bool = False  # True when kept as an `invalid` entry; False = not imported / warning


@dataclass
class ImportSummary:
    counts: dict[str, KindCounts] = field(default_factory=lambda: {k: KindCounts() for k in KINDS})
    problems: list[ImportProblem] = field(default_factory=list)
    problems_dropped: int = 0
    seconds: float = 0.0

    @property
    def invalid(self) -> int:
        return sum(c.invalid for c in self.counts.values())

    def problem(self, kind: str, index: int, ref: Any, reason: str, stored: bool = False) -> None:
        if len(self.problems) >= PROBLEM_LIMIT:
            self.problems_dropped += 1
            return
        self.problems.append(
            ImportProblem(kind, index, None if ref is None else str(ref), reason, stored)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": {k: vars(v) for k, v in self.counts.items()},
            "problems": [vars(p) for p in self.problems],
            "problems_dropped": self.problems_dropped,
            "seconds": round(self.seconds, 3),
        }


def _section(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    for key in SECTION_KEYS[kind]:
        if key in data and data[key] is not None:
            value = data[key]
            if not isinstance(value, list):
                raise ValueError(f"{key!r} must be a list, got {type(value).__name__}")
            return value
    return []


class _Importer:
    def __init__(
        self,
        target: Session | str,
        route: bool,
        max_chars: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.target = target
        self.route = route
        self.max_chars = max_chars
        self.progress = progress or (lambda n: None)
        self.summary = ImportSummary()
        self.now = utcnow()
        # reference id -> our primary key
        self.users: dict[str, int] = {}
        self.users_by_email: dict[str, int] = {}
        self.areas: dict[str, int] = {}
        self.accounts: dict[str, int] = {}
        self.opportunities: dict[str, tuple[int, int]] = {}  # -> (id, account id)
        self.requests: dict[str, int] = {}

    @contextmanager
    def tx(self) -> Iterator[Session]:
        if isinstance(self.target, Session):
            with nullcontext(self.target) as session:
                yield session
                session.flush()
        else:
            with session_scope(self.target) as session:
                yield session

    # ------------------------------------------------------------------ users

    def users_phase(self, rows: list[dict[str, Any]]) -> None:
        counts = self.summary.counts["users"]
        with self.tx() as session:
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
                    self.summary.problem("users", index, ref, "a user needs an email address")
                    continue
                email = email.lower()
                name = text_or_none(row.get("name"), 200) or email.split("@")[0]
                try:
                    is_admin = parse_bool(row.get("is_admin"), "isAdmin")
                except ValidationError as exc:
                    counts.invalid += 1
                    self.summary.problem("users", index, ref, str(exc))
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
                            "created_at": self.now,
                        }
                        counts.created += 1
                    if ref:
                        new_refs[ref] = email
                    continue
                self.users[ref or email] = user_id
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
                self.users_by_email[email.lower()] = user_id
            for user_id, ext in session.execute(
                select(User.id, User.external_id).where(User.external_id.is_not(None))
            ):
                self.users[ext] = user_id
            for ref, email in new_refs.items():
                self.users.setdefault(ref, self.users_by_email[email])
        self.progress(len(rows))

    def user_id(self, ref: Any) -> int | None:
        text = text_or_none(ref)
        if text is None:
            return None
        return self.users.get(text) or self.users_by_email.get(text.lower())

    # ------------------------------------------------------------------ areas

    def areas_phase(self, rows: list[dict[str, Any]]) -> None:
        counts = self.summary.counts["areas"]
        with self.tx() as session:
            by_slug = {a.slug: a for a in session.scalars(select(ProductArea))}
            by_name = {a.name.lower(): a for a in by_slug.values()}
            for index, raw in enumerate(rows):
                row = normalize_keys(raw) if isinstance(raw, dict) else {}
                ref = text_or_none(row.get("id"))
                try:
                    name = clean_text(row.get("name"), 100, what="name")
                except ValidationError as exc:
                    counts.invalid += 1
                    self.summary.problem("areas", index, ref, str(exc))
                    continue
                slug = slugify(text_or_none(row.get("slug")) or name)
                description = (text_or_none(row.get("description")) or "")[:500]
                channel = repo.normalize_channel(text_or_none(row.get("firehose_channel")))
                area = by_slug.get(slug)
                same_name = by_name.get(name.lower())
                if area is None and same_name is not None:
                    counts.invalid += 1
                    self.summary.problem(
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
                self.areas[ref or slug] = area.id
            session.flush()
            # Requests may name areas by slug or name too.
            for area in by_slug.values():
                self.areas.setdefault(area.slug, area.id)
                self.areas.setdefault(area.name.lower(), area.id)
        self.progress(len(rows))

    def area_id(self, ref: str) -> int | None:
        """By reference id, slug or (case-insensitive) name."""
        return self.areas.get(ref) or self.areas.get(ref.lower()) or self.areas.get(slugify(ref))

    # ------------------------------------------------------------------ accounts

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

    def accounts_phase(self, rows: list[dict[str, Any]]) -> None:
        counts = self.summary.counts["accounts"]
        with self.tx() as session:
            columns = [getattr(Account, c) for c in ("id", "external_id", *self.ACCOUNT_COLUMNS)]
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
                    self.summary.problem("accounts", index, ref, str(exc))
                    continue
                fields["name"] = name
                current = known.get(ref)
                if current is None:
                    if ref in new:
                        counts.existing += 1
                        continue
                    new[ref] = {
                        **dict.fromkeys(self.ACCOUNT_COLUMNS),
                        "arr": 0.0,
                        "is_enterprise": False,
                        **fields,
                        "external_id": ref,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                    counts.created += 1
                    continue
                changes = {k: v for k, v in fields.items() if getattr(current, k) != v}
                if changes:
                    updates.append({"id": current.id, **changes, "updated_at": self.now})
                    counts.updated += 1
                else:
                    counts.existing += 1
            repo.bulk_insert_ignore(session, Account, list(new.values()), ["external_id"])
            if updates:
                session.execute(update(Account), updates)
            for account_id, ext in session.execute(
                select(Account.id, Account.external_id).where(Account.external_id.is_not(None))
            ):
                self.accounts[ext] = account_id
        self.progress(len(rows))

    # ------------------------------------------------------------------ opportunities

    def opportunities_phase(self, rows: list[dict[str, Any]]) -> None:
        counts = self.summary.counts["opportunities"]
        with self.tx() as session:
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
                    if account_ref not in self.accounts:
                        raise ValidationError([f"unknown account {account_ref!r}"])
                    fields = {
                        "account_id": self.accounts[account_ref],
                        "name": clean_text(row.get("name"), 300, what="name"),
                        "arr": parse_amount(row.get("arr"), "arr"),
                        "stage": text_or_none(row.get("stage"), 100),
                        "close_date": parse_date(row.get("close_date"), "closeDate"),
                    }
                except ValidationError as exc:
                    counts.invalid += 1
                    self.summary.problem("opportunities", index, ref, str(exc))
                    continue
                current = known.get(ref)
                if current is None:
                    if ref in new:
                        counts.existing += 1
                        continue
                    new[ref] = {**fields, "external_id": ref, "created_at": self.now}
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
                self.opportunities[ext] = (opp_id, account_id)
        self.progress(len(rows))

    # ------------------------------------------------------------------ requests

    def requests_phase(self, rows: list[dict[str, Any]]) -> None:
        counts = self.summary.counts["requests"]
        follower_counts = self.summary.counts["followers"]
        with self.tx() as session:
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
                            [
                                f"unknown status {status!r}: use {'|'.join(IMPORTABLE_REQUEST_STATUSES)}"
                            ]
                        )
                    area_refs = split_list(row.get("area_ids") or row.get("areas"))
                    area_ids = [i for i in map(self.area_id, area_refs) if i is not None]
                    if not area_ids:
                        raise ValidationError(
                            [f"none of its areas is known ({', '.join(area_refs) or 'none given'})"]
                        )
                    created_at = parse_datetime(row.get("created_at"), "createdAt") or self.now
                    meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
                except ValidationError as exc:
                    counts.invalid += 1
                    self.summary.problem("requests", index, ref, str(exc))
                    continue
                unknown_areas = [a for a in area_refs if self.area_id(a) is None]
                if unknown_areas:
                    self.summary.problem(
                        "requests",
                        index,
                        ref,
                        f"unknown areas left out: {', '.join(unknown_areas)}",
                    )
                wanted_areas[ref] = sorted(set(area_ids))
                followers = []
                for follower_ref in split_list(row.get("followers")):
                    user_id = self.user_id(follower_ref)
                    if user_id is None:
                        follower_counts.invalid += 1
                        self.summary.problem(
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
                        updates.append({"id": current.id, **changes, "updated_at": self.now})
                        counts.updated += 1
                    else:
                        counts.existing += 1
                    continue
                if ref in new:
                    counts.existing += 1
                    continue
                creator_ref = row.get("creator")
                creator_id = self.user_id(creator_ref)
                if creator_id is None and not blank(creator_ref):
                    self.summary.problem(
                        "requests",
                        index,
                        ref,
                        f"unknown creator {creator_ref!r}: stored without one",
                    )
                slug = self._unique_slug(
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
                    "shipped_notified_at": self.now if status == "shipped" else None,
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
                self.requests[ext] = request_id
                related_now[request_id] = related_id

            links = [
                {"request_id": self.requests[ref], "area_id": area_id}
                for ref, area_ids in wanted_areas.items()
                if ref in self.requests
                for area_id in area_ids
            ]
            repo.bulk_insert_ignore(session, RequestArea, links, ["request_id", "area_id"])

            existing_pairs = set(session.execute(select(Follower.user_id, Follower.request_id)))
            follows: dict[tuple[int, int], dict[str, Any]] = {}
            for ref, user_ids in wanted_followers.items():
                request_id = self.requests.get(ref)
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
                        "created_at": self.now,
                    }
            repo.bulk_insert_ignore(
                session, Follower, list(follows.values()), ["user_id", "request_id"]
            )
            follower_counts.created += len(follows)

            related_updates = []
            for ref, related_ref in wanted_related.items():
                request_id = self.requests.get(ref)
                related_id = self.requests.get(related_ref)
                if request_id is None:
                    continue
                if related_id is None:
                    self.summary.problem(
                        "requests", -1, ref, f"unknown related request {related_ref!r}"
                    )
                    continue
                if related_now.get(request_id) is None and related_id != request_id:
                    related_updates.append({"id": request_id, "related_request_id": related_id})
            if related_updates:
                session.execute(update(Request), related_updates)
        self.progress(len(rows))

    @staticmethod
    def _unique_slug(base: str, taken: set[str]) -> str:
        slug, n = base, 2
        while slug in taken:
            slug = f"{base}-{n}"
            n += 1
        taken.add(slug)
        return slug

    # ------------------------------------------------------------------ feedback

    def prepare_entry(self, row: dict[str, Any]) -> PreparedFeedback:
        problems: list[str] = []
        values: dict[str, Any] = {
            "customer_pain": "",
            "severity": None,
            "account_id": None,
            "opportunity_id": None,
            "submitter_id": None,
            "links": [],
        }
        pain = row.get("description", row.get("customer_pain"))
        try:
            values["customer_pain"] = clean_text(pain, self.max_chars, what="description")
        except ValidationError as exc:
            problems.extend(exc.problems)
            values["customer_pain"] = (
                pain.strip()[: self.max_chars] if isinstance(pain, str) else ""
            )
        try:
            values["severity"] = parse_severity(row.get("severity"))
        except ValidationError as exc:
            problems.extend(exc.problems)
        account_ref = text_or_none(row.get("account_id"))
        if account_ref is None:
            problems.append("accountId is required")
        elif account_ref in self.accounts:
            values["account_id"] = self.accounts[account_ref]
        else:
            problems.append(f"unknown account {account_ref!r}")
        opportunity_ref = text_or_none(row.get("opportunity_id"))
        if opportunity_ref is not None:
            found = self.opportunities.get(opportunity_ref)
            if found is None:
                problems.append(f"unknown opportunity {opportunity_ref!r}")
            elif values["account_id"] is not None and found[1] != values["account_id"]:
                problems.append(f"opportunity {opportunity_ref!r} belongs to another account")
            else:
                values["opportunity_id"] = found[0]
        creator_ref = text_or_none(row.get("creator"))
        if creator_ref is None:
            problems.append("creator is required")
        else:
            values["submitter_id"] = self.user_id(creator_ref)
            if values["submitter_id"] is None:
                problems.append(f"unknown user {creator_ref!r}")
        try:
            values["links"] = parse_links(row.get("external_links"))
        except ValidationError as exc:
            problems.extend(exc.problems)
        try:
            created_at = parse_datetime(row.get("created_at"), "createdAt")
            if created_at is not None:
                values["created_at"] = created_at
        except ValidationError as exc:
            problems.extend(exc.problems)
        request_id = None
        request_ref = text_or_none(row.get("request_id"))
        if request_ref is not None and not self.route:
            request_id = self.requests.get(request_ref)
            if request_id is None:
                problems.append(f"unknown request {request_ref!r}")
        return PreparedFeedback(values=values, problems=problems, request_id=request_id)

    def feedback_phase(self, rows: list[dict[str, Any]]) -> None:
        counts = self.summary.counts["feedback"]
        with self.tx() as session:
            existing: dict[str, tuple[int, str]] = {
                ext: (entry_id, status)
                for ext, entry_id, status in session.execute(
                    select(Feedback.external_id, Feedback.id, Feedback.status).where(
                        Feedback.source == REFERENCE_SOURCE
                    )
                )
            }
        seen: set[str] = set()
        for start in range(0, len(rows), FEEDBACK_CHUNK):
            chunk = rows[start : start + FEEDBACK_CHUNK]
            new_rows: list[dict[str, Any]] = []
            revived: list[tuple[int, PreparedFeedback]] = []
            for offset, raw in enumerate(chunk):
                index = start + offset
                if not isinstance(raw, dict):
                    counts.invalid += 1
                    self.summary.problem("feedback", index, None, "an entry must be an object")
                    continue
                row = normalize_keys(raw)
                ref = text_or_none(row.get("id"), 300)
                key = ref or "hash:" + stable_hash(row)
                if key in seen:
                    counts.existing += 1
                    continue
                seen.add(key)
                found = existing.get(key)
                if found is not None and found[1] != "invalid":
                    counts.existing += 1  # stored before; routing may have moved it since
                    continue
                prepared = self.prepare_entry(row)
                if found is not None:
                    if prepared.valid:
                        revived.append((found[0], prepared))
                        counts.updated += 1
                    else:
                        counts.invalid += 1
                        self.summary.problem(
                            "feedback", index, ref, "; ".join(prepared.problems), True
                        )
                    continue
                meta = dict(row["metadata"]) if isinstance(row.get("metadata"), dict) else {}
                request_ref = text_or_none(row.get("request_id"))
                if request_ref is not None:
                    # Kept even when routing decides (--route), to compare against afterwards.
                    meta.setdefault("referenceRequestId", request_ref)
                columns = entry_columns(prepared, raw, self.now)
                if prepared.request_id is not None:
                    columns["reason"] = "attached in the reference system"
                    columns["routed_at"] = columns["created_at"]
                columns.update(source=REFERENCE_SOURCE, external_id=key, meta=meta, attempts=0)
                new_rows.append(columns)
                if prepared.valid:
                    counts.created += 1
                else:
                    counts.invalid += 1
                    self.summary.problem("feedback", index, ref, "; ".join(prepared.problems), True)
            with self.tx() as session:
                repo.bulk_insert_ignore(session, Feedback, new_rows, ["source", "external_id"])
                for entry_id, prepared in revived:
                    entry = session.get(Feedback, entry_id)
                    if entry is not None:
                        revive(entry, prepared)
            self.progress(len(chunk))


def import_reference(
    session_or_url: Session | str,
    data: dict[str, Any],
    route: bool = False,
    *,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Loads a reference-system export (see the module docstring). With `route`, entries that
    name their request are stored `pending` so routing decides; otherwise they are stored
    `routed` (match type `manual`) on that request. `progress(n)` is called as items are done;
    `count_items(data)` is the total."""
    if not isinstance(data, dict):
        raise ValueError("the export must be a JSON object with users, areas, requests, ...")
    started = time.perf_counter()
    importer = _Importer(session_or_url, route, max_chars, progress)
    sections = {kind: _section(data, kind) for kind in SECTION_KEYS}
    importer.users_phase(sections["users"])
    importer.areas_phase(sections["areas"])
    importer.accounts_phase(sections["accounts"])
    importer.opportunities_phase(sections["opportunities"])
    importer.requests_phase(sections["requests"])
    importer.feedback_phase(sections["feedback"])
    importer.summary.seconds = time.perf_counter() - started
    return importer.summary


def count_items(data: dict[str, Any]) -> int:
    return sum(len(_section(data, kind)) for kind in SECTION_KEYS) if isinstance(data, dict) else 0
