"""Weekly digest maths and rendering on hand-built rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gtm_feedback_dagster.analytics.digest import (
    DigestData,
    DigestEntry,
    DigestRequest,
    compute_digest,
    digest_channel,
    iso_week,
    render_markdown,
    render_slack,
)
from gtm_feedback_dagster.analytics.rows import AccountRow

END = datetime(2026, 3, 9, 13, tzinfo=UTC)  # Monday
START = END - timedelta(days=7)


def data() -> DigestData:
    accounts = {
        1: AccountRow(1, "Acme", 300_000, True),
        2: AccountRow(2, "Globex", 250_000, True),
        3: AccountRow(3, "Initech", 50_000, False),
    }
    new = [
        DigestRequest(10, "sso", "SSO login", "open", START + timedelta(days=1), ["identity"]),
        DigestRequest(11, "pdf", "Invoice PDF", "open", START + timedelta(days=2), ["billing"]),
    ]
    shipped = [
        DigestRequest(20, "audit", "Audit log", "shipped", None, ["identity"], followers=3),
    ]
    older = [DigestRequest(30, "api", "Usage API", "open", None, ["billing", "identity"])]
    entries = [
        DigestEntry(1, 10, 1, "high"),  # enterprise dealbreaker on SSO
        DigestEntry(2, 10, 1, "high"),  # same account again: ARR counted once
        DigestEntry(3, 10, 3, "high"),  # not enterprise
        DigestEntry(4, 30, 2, "high"),  # enterprise dealbreaker on an older request
        DigestEntry(5, 30, 3, "low"),
        DigestEntry(6, 11, None, "medium"),
    ]
    return DigestData(
        START,
        END,
        [("billing", "Billing"), ("identity", "Identity"), ("search", "Search")],
        new,
        shipped,
        older,
        entries,
        accounts,
    )


def test_digest_numbers() -> None:
    d = compute_digest(data())
    assert d["week"] == "2026-W11"
    assert d["totals"] == {
        "newRequests": 2,
        "newEntries": 6,
        "dealbreakerEntriesAdded": 3,
        "dealbreakerRequests": 2,
        "shipped": 1,
        # Distinct accounts: Acme (twice), Initech (twice) and Globex count once each.
        "newEntryAccounts": 3,
        "newEntryArr": 600_000,
        "dealbreakerAccounts": 2,
        "dealbreakerArr": 550_000,
    }
    # Most new feedback by ARR of distinct accounts: SSO (Acme + Initech 350K), Usage API
    # (Globex + Initech 300K), Invoice PDF (no account).
    assert [(t["id"], t["arr"], t["newEntries"]) for t in d["topRequests"]] == [
        (10, 350_000, 3),
        (30, 300_000, 2),
        (11, 0, 1),
    ]
    assert [(x["id"], x["arr"], x["entries"], x["accounts"]) for x in d["dealbreakers"]] == [
        (10, 300_000, 2, ["Acme"]),
        (30, 250_000, 1, ["Globex"]),
    ]
    assert d["shipped"] == [
        {"id": 20, "slug": "audit", "title": "Audit log", "areas": ["identity"], "followers": 3}
    ]
    areas = {a["slug"]: a for a in d["areas"]}
    assert areas["identity"] == {
        "slug": "identity",
        "name": "Identity",
        "newRequests": 1,
        "newEntries": 5,  # 3 on SSO + 2 on Usage API (in both areas)
        "dealbreakersAdded": 3,
        "shipped": 1,
    }
    assert areas["billing"]["newEntries"] == 3 and areas["billing"]["dealbreakersAdded"] == 1
    assert areas["search"]["newEntries"] == 0


def test_digest_rendering() -> None:
    d = compute_digest(data())
    text, blocks = render_slack(d, app_url="http://app")
    assert blocks[0]["type"] == "header" and "Mar 2 – Mar 9, 2026" in blocks[0]["text"]["text"]
    assert "<http://app/requests/sso|SSO login>" in text
    assert "Audit log> — 3 followers told" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert len(blocks) <= 50
    md = render_markdown(d, app_url="http://app")
    assert md.startswith("# GTM feedback digest — Mar 2 – Mar 9, 2026 (2026-W11)")
    assert "- [SSO login](http://app/requests/sso): $300.0K ARR (Acme)" in md
    assert "Search" not in md  # areas with nothing to report are left out


def test_empty_week_and_long_lists() -> None:
    empty = compute_digest(DigestData(START, END, [], [], [], [], [], {}))
    text, _ = render_slack(empty)
    assert "• none this week" in text
    many = data()
    many.new_requests = [
        DigestRequest(100 + i, f"r{i}", "A long title " * 20, "open", START, ["identity"])
        for i in range(300)
    ]
    _, blocks = render_slack(compute_digest(many), app_url="http://app")
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_iso_week_and_channel() -> None:
    assert iso_week(date(2026, 1, 1)) == "2026-W01"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"
    assert iso_week(date(2026, 3, 9)) == iso_week(date(2026, 3, 15)) != iso_week(date(2026, 3, 16))
    assert digest_channel(None) == "gtm-feedback-digest"
    assert digest_channel("C0123") == "C0123"


def test_digest_headline_counts_accounts_once_and_pluralises() -> None:
    text = render_markdown(compute_digest(data()))
    assert (
        "2 new requests (first asked this week), 6 new feedback entries from 3 accounts "
        "($600.0K ARR), 3 enterprise dealbreakers from 2 accounts ($550.0K ARR) and 1 shipped."
    ) in text
    one = data()
    one.entries = one.entries[:1]
    one.new_requests = one.new_requests[:1]
    single = render_markdown(compute_digest(one))
    assert "1 new request (first asked this week), 1 new feedback entry from 1 account" in single
    assert "Identity: 1 new request, 1 entry, 1 dealbreaker, 1 shipped" in single
