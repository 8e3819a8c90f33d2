"""The weekly digest (reference §7.2): what happened in the last 7 days, as Slack text/blocks and
Markdown. Plain Python over plain rows.

Contents: new requests, new feedback entries and the requests that drew most of them (by ARR of
the distinct accounts behind the new entries), enterprise dealbreakers added, requests shipped
with their follower counts, and per-area counts.

"New this week" means first asked this week: a request created in the period whose first
feedback entry (if it has any) is also in the period. A request created by an import or the demo
for feedback given earlier is not new; its entries count in the week they were given
(`created_at`). The week's ARR totals count each account once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gtm_feedback_dagster.analytics.rows import AccountRow
from gtm_feedback_dagster.core.money import format_arr

LIST_LIMIT = 10
SLACK_SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters


@dataclass(frozen=True)
class DigestRequest:
    id: int
    slug: str
    title: str
    status: str
    created_at: datetime | None = None
    areas: list[str] = field(default_factory=list)
    followers: int = 0


@dataclass(frozen=True)
class DigestEntry:
    id: int
    request_id: int
    account_id: int | None
    severity: str | None
    created_at: datetime | None = None


@dataclass
class DigestData:
    start: datetime
    end: datetime
    areas: list[tuple[str, str]]  # (slug, name)
    new_requests: list[DigestRequest]
    shipped_requests: list[DigestRequest]
    other_requests: list[DigestRequest]  # older requests that received new entries
    entries: list[DigestEntry]  # entries created in the period, on non-merged requests
    accounts: dict[int, AccountRow]


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def iso_week(day: date) -> str:
    """`2026-W09`: the digest's idempotency key (one digest per ISO week)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def compute_digest(data: DigestData) -> dict[str, Any]:
    """The digest's numbers and lists (JSON-safe)."""
    requests = {r.id: r for r in (*data.other_requests, *data.shipped_requests, *data.new_requests)}
    by_request: dict[int, list[DigestEntry]] = defaultdict(list)
    for entry in data.entries:
        by_request[entry.request_id].append(entry)

    def request_ref(r: DigestRequest) -> dict[str, Any]:
        return {"id": r.id, "slug": r.slug, "title": r.title, "areas": r.areas}

    def distinct_arr(ids: set[int]) -> float:
        return float(sum(data.accounts[a].arr for a in ids if a in data.accounts))

    top = []
    for request_id, entries in by_request.items():
        if request_id not in requests:
            continue
        accounts = {e.account_id for e in entries if e.account_id is not None}
        top.append(
            {
                **request_ref(requests[request_id]),
                "newEntries": len(entries),
                "arr": distinct_arr(accounts),
            }
        )
    top.sort(key=lambda t: (-t["arr"], -t["newEntries"], t["id"]))

    dealbreakers = []
    for request_id, entries in by_request.items():
        if request_id not in requests:
            continue
        enterprise = {
            e.account_id
            for e in entries
            if e.severity == "high"
            and e.account_id in data.accounts
            and data.accounts[e.account_id].is_enterprise
        }
        if enterprise:
            dealbreakers.append(
                {
                    **request_ref(requests[request_id]),
                    "entries": sum(
                        1 for e in entries if e.severity == "high" and e.account_id in enterprise
                    ),
                    "accounts": sorted(data.accounts[a].name for a in enterprise),
                    "arr": distinct_arr(enterprise),
                }
            )
    dealbreakers.sort(key=lambda d: (-d["arr"], d["id"]))

    counters = ("newRequests", "newEntries", "dealbreakersAdded", "shipped")
    per_area: dict[str, dict[str, int]] = {
        slug: dict.fromkeys(counters, 0) for slug, _ in data.areas
    }

    def bump(slugs: Sequence[str], counter: str, by: int = 1) -> None:
        for slug in slugs:
            per_area.setdefault(slug, dict.fromkeys(counters, 0))[counter] += by

    for r in data.new_requests:
        bump(r.areas, "newRequests")
    for r in data.shipped_requests:
        bump(r.areas, "shipped")
    for request_id, entries in by_request.items():
        if request_id not in requests:
            continue
        bump(requests[request_id].areas, "newEntries", len(entries))
        bump(
            requests[request_id].areas,
            "dealbreakersAdded",
            sum(
                1
                for e in entries
                if e.severity == "high"
                and e.account_id in data.accounts
                and data.accounts[e.account_id].is_enterprise
            ),
        )
    names = dict(data.areas)
    asking = {e.account_id for e in data.entries if e.account_id is not None}
    enterprise_high = {
        e.account_id
        for e in data.entries
        if e.severity == "high"
        and e.request_id in requests
        and e.account_id in data.accounts
        and data.accounts[e.account_id].is_enterprise
    }
    return {
        "week": iso_week(data.end.date()),
        "start": data.start.isoformat(),
        "end": data.end.isoformat(),
        "totals": {
            "newRequests": len(data.new_requests),
            "newEntries": len(data.entries),
            "dealbreakerEntriesAdded": sum(d["entries"] for d in dealbreakers),
            "dealbreakerRequests": len(dealbreakers),
            "shipped": len(data.shipped_requests),
            # Distinct accounts (each once, however many entries or requests): the week's totals.
            "newEntryAccounts": len(asking),
            "newEntryArr": distinct_arr(asking),
            "dealbreakerAccounts": len(enterprise_high),
            "dealbreakerArr": distinct_arr(enterprise_high),
        },
        "newRequests": [
            request_ref(r)
            for r in sorted(data.new_requests, key=lambda r: (r.created_at or data.start, r.id))
        ],
        "topRequests": top[:LIST_LIMIT],
        "dealbreakers": dealbreakers[:LIST_LIMIT],
        "shipped": [
            {**request_ref(r), "followers": r.followers}
            for r in sorted(data.shipped_requests, key=lambda r: (-r.followers, r.id))
        ],
        "areas": [
            {"slug": slug, "name": names.get(slug, slug), **counts}
            for slug, counts in sorted(per_area.items())
        ],
    }


def _fmt_period(digest: dict[str, Any]) -> str:
    start = datetime.fromisoformat(digest["start"]).date()
    end = datetime.fromisoformat(digest["end"]).date()
    return f"{start:%b %-d} – {end:%b %-d, %Y}"


def _link(app_url: str | None, slug: str, title: str, slack: bool) -> str:
    if not app_url:
        return title
    url = f"{app_url}/requests/{slug}"
    if slack:
        return f"<{url}|{title.replace('>', '').replace('|', '/')}>"
    return f"[{title.replace(']', ')').replace('[', '(')}]({url})"


def _bullet_lists(
    digest: dict[str, Any], app_url: str | None, slack: bool
) -> list[tuple[str, list[str]]]:
    bold = "*" if slack else "**"
    more = len(digest["newRequests"]) - LIST_LIMIT
    lists: list[tuple[str, list[str]]] = [
        (
            f"{bold}🆕 New requests, first asked this week ({digest['totals']['newRequests']})"
            f"{bold}",
            [
                f"• {_link(app_url, r['slug'], r['title'], slack)}"
                + (f" — {', '.join(r['areas'])}" if r["areas"] else "")
                for r in digest["newRequests"][:LIST_LIMIT]
            ]
            + ([f"• …and {more} more"] if more > 0 else []),
        ),
        (
            f"{bold}📈 Most new feedback "
            f"({plural(digest['totals']['newEntries'], 'entry', 'entries')}){bold}",
            [
                f"• {_link(app_url, r['slug'], r['title'], slack)}: {r['newEntries']} new, "
                f"{format_arr(r['arr'])} ARR (this request's accounts)"
                for r in digest["topRequests"][:5]
            ],
        ),
        (
            f"{bold}🚨 Enterprise dealbreakers added "
            f"({digest['totals']['dealbreakerEntriesAdded']}){bold}",
            [
                f"• {_link(app_url, d['slug'], d['title'], slack)}: {format_arr(d['arr'])} ARR "
                f"({', '.join(d['accounts'][:3])}{'…' if len(d['accounts']) > 3 else ''})"
                for d in digest["dealbreakers"]
            ],
        ),
        (
            f"{bold}🚀 Shipped ({digest['totals']['shipped']}){bold}",
            [
                f"• {_link(app_url, s['slug'], s['title'], slack)} — "
                f"{s['followers']} follower{'s' if s['followers'] != 1 else ''} told"
                for s in digest["shipped"][:LIST_LIMIT]
            ],
        ),
        (
            f"{bold}🗂 By product area{bold}",
            [
                f"• {a['name']}: {plural(a['newRequests'], 'new request')}, "
                f"{plural(a['newEntries'], 'entry', 'entries')}, "
                f"{plural(a['dealbreakersAdded'], 'dealbreaker')}, {a['shipped']} shipped"
                for a in digest["areas"]
                if any(a[k] for k in ("newRequests", "newEntries", "dealbreakersAdded", "shipped"))
            ],
        ),
    ]
    return [(title, lines or ["• none this week"]) for title, lines in lists]


def _headline(digest: dict[str, Any]) -> str:
    t = digest["totals"]
    who = ""
    if t.get("newEntryAccounts"):
        who = (
            f" from {plural(t['newEntryAccounts'], 'account')} ({format_arr(t['newEntryArr'])} ARR)"
        )
    breakers = plural(t["dealbreakerEntriesAdded"], "enterprise dealbreaker")
    if t.get("dealbreakerAccounts"):
        breakers += (
            f" from {plural(t['dealbreakerAccounts'], 'account')} "
            f"({format_arr(t['dealbreakerArr'])} ARR)"
        )
    return (
        f"{plural(t['newRequests'], 'new request')} (first asked this week), "
        f"{plural(t['newEntries'], 'new feedback entry', 'new feedback entries')}{who}, "
        f"{breakers} and {t['shipped']} shipped."
    )


def render_slack(
    digest: dict[str, Any], app_url: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) of the digest."""
    title = f"GTM feedback digest — {_fmt_period(digest)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _headline(digest)}},
    ]
    text_parts = [f"*{title}*", _headline(digest)]
    for heading, lines in _bullet_lists(digest, app_url, slack=True):
        body = heading + "\n" + "\n".join(lines)
        if len(body) > SLACK_SECTION_LIMIT:
            body = body[: SLACK_SECTION_LIMIT - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
        text_parts.append(body)
    if app_url:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{app_url}/requests|All requests>"}],
            }
        )
    return "\n\n".join(text_parts), blocks


def render_markdown(digest: dict[str, Any], app_url: str | None = None) -> str:
    lines = [f"# GTM feedback digest — {_fmt_period(digest)} ({digest['week']})", ""]
    lines += [_headline(digest), ""]
    for heading, items in _bullet_lists(digest, app_url, slack=False):
        lines += [heading, ""] + [item.replace("• ", "- ", 1) for item in items] + [""]
    return "\n".join(lines).rstrip() + "\n"


def digest_channel(configured: str | None) -> str:
    """SLACK_DIGEST_CHANNEL_ID when set, else the conventional channel name."""
    return configured or "gtm-feedback-digest"
