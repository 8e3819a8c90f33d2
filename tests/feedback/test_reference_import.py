from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.demo.generator import generate_demo_dataset
from gtm_feedback_dagster.feedback.reference_import import import_reference
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import (
    Account,
    Feedback,
    Follower,
    Opportunity,
    ProductArea,
    Request,
    User,
)


def small_export() -> dict[str, Any]:
    """Camel-case and snake-case keys mixed, as exports from different versions are."""
    return {
        "users": [
            {"id": "u-ann", "name": "Ann", "email": "Ann@Example.com", "isAdmin": True},
            {"id": "u-bob", "name": "Bob", "email": "bob@example.com", "is_admin": False},
            {"id": "u-bad", "name": "No Mail"},
        ],
        "areas": [
            {
                "id": "dash",
                "name": "Dashboards",
                "slug": "dashboards",
                "description": "Charts",
                "firehoseChannel": "#firehose-dashboards",
            },
            {"id": "int", "name": "Integrations", "slug": "integrations", "description": ""},
        ],
        "sfdcAccounts": [
            {
                "id": "001A",
                "name": "Acme",
                "type": "Customer",
                "regionName": "EMEA",
                "arr": 100000,
                "isEnterprise": True,
                "website": "https://www.acme.com",
                "subSegment": "Strategic",
            },
            {"id": "001B", "name": "Globex", "region_name": "NA", "arr": "50000"},
        ],
        "sfdc_opportunities": [
            {
                "id": "006A",
                "accountId": "001A",
                "name": "Acme renewal",
                "arr": 1,
                "stage": "Discovery",
                "closeDate": "2027-01-31",
            },
            {"id": "006X", "account_id": "001Z", "name": "Nobody's deal"},
        ],
        "requests": [
            {
                "id": "r-dark",
                "title": "Dark mode",
                "description": "A dark theme.",
                "status": "open",
                "creator": "u-ann",
                "slug": "dark-mode",
                "areaIds": ["dash"],
                "followers": ["u-ann", "u-bob"],
                "relatedRequestId": "r-api",
                "createdAt": "2026-01-02T03:04:05Z",
                "metadata": {"priority": "p1"},
            },
            {
                "id": "r-api",
                "title": "Public API",
                "description": "Programmatic access.",
                "status": "shipped",
                "creator": "u-bob",
                "slug": "public-api",
                "area_ids": ["int", "dash"],
                "followers": ["u-bob", "u-ghost"],
            },
            {"id": "r-none", "title": "Nowhere", "description": "", "areaIds": ["gone"]},
        ],
        "feedback": [
            {
                "id": "f1",
                "requestId": "r-dark",
                "accountId": "001A",
                "opportunityId": "006A",
                "severity": "high",
                "description": "Night shift operators are blinded.",
                "creator": "u-bob",
                "externalLinks": ["https://support.example.com/1"],
                "createdAt": "2026-02-01T00:00:00Z",
                "metadata": {"truthRequestId": "r-dark", "segment": "ent"},
            },
            {
                "request_id": None,
                "account_id": "001B",
                "severity": "low",
                "description": "Would like a public API.",
                "creator": "u-ann",
                "external_links": [],
                "metadata": {"truthRequestId": "r-api"},
            },
            {
                "id": "f3",
                "requestId": "r-dark",
                "accountId": "001Q",
                "severity": "urgent",
                "description": "  ",
                "creator": "u-ann",
            },
        ],
    }


def _count(url: str, model: Any) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_reference_export_loads_and_reloads_without_changes(db_url: str) -> None:
    data = small_export()
    summary = import_reference(db_url, data, route=False)
    counts = {kind: vars(c) for kind, c in summary.counts.items()}
    assert counts["users"] == {"created": 2, "existing": 0, "updated": 0, "invalid": 1}
    assert counts["areas"]["created"] == 2
    assert counts["accounts"]["created"] == 2
    assert counts["opportunities"] == {"created": 1, "existing": 0, "updated": 0, "invalid": 1}
    assert counts["requests"] == {"created": 2, "existing": 0, "updated": 0, "invalid": 1}
    assert counts["followers"] == {"created": 3, "existing": 0, "updated": 0, "invalid": 1}
    assert counts["feedback"] == {"created": 2, "existing": 0, "updated": 0, "invalid": 1}
    reasons = {(p.kind, p.ref): p.reason for p in summary.problems}
    assert reasons[("opportunities", "006X")] == "unknown account '001Z'"
    assert "none of its areas is known (gone)" in reasons[("requests", "r-none")]
    assert "unknown follower 'u-ghost'" in reasons[("followers", "r-api")]
    assert "unknown account '001Q'" in reasons[("feedback", "f3")]

    with session_scope(db_url) as session:
        ann = session.scalars(select(User).where(User.email == "ann@example.com")).one()
        assert (ann.external_id, ann.is_admin) == ("u-ann", True)
        acme = session.scalars(select(Account).where(Account.external_id == "001A")).one()
        assert (acme.domain, acme.region, acme.sub_segment, acme.is_enterprise) == (
            "acme.com",
            "EMEA",
            "Strategic",
            True,
        )
        area = session.scalars(select(ProductArea).where(ProductArea.slug == "dashboards")).one()
        assert area.firehose_channel == "firehose-dashboards"
        dark = session.scalars(select(Request).where(Request.external_id == "r-dark")).one()
        api = session.scalars(select(Request).where(Request.external_id == "r-api")).one()
        assert dark.related_request_id == api.id
        assert (dark.slug, dark.meta, dark.created_at.year) == (
            "dark-mode",
            {"priority": "p1"},
            2026,
        )
        assert [a.slug for a in api.areas] == ["dashboards", "integrations"]
        assert api.shipped_notified_at is not None  # history: not announced again
        assert dark.shipped_notified_at is None
        entries = {e.external_id: e for e in session.scalars(select(Feedback))}
        f1 = entries["f1"]
        assert (f1.status, f1.match_type, f1.request_id, f1.source) == (
            "routed",
            "manual",
            dark.id,
            "reference",
        )
        assert f1.meta["truthRequestId"] == "r-dark"
        assert f1.opportunity_id is not None and f1.links == ["https://support.example.com/1"]
        hashed = next(e for key, e in entries.items() if key.startswith("hash:"))
        assert (hashed.status, hashed.request_id) == ("pending", None)
        f3 = entries["f3"]
        assert f3.status == "invalid" and "unknown severity 'urgent'" in (f3.error or "")
        assert f3.raw is not None and f3.raw["accountId"] == "001Q"

    totals = [_count(db_url, m) for m in (User, Account, Opportunity, Request, Follower, Feedback)]
    again = import_reference(db_url, copy.deepcopy(data), route=False)
    assert again.counts["feedback"].created == 0 and again.counts["feedback"].existing == 2
    assert all(c.created == 0 and c.updated == 0 for c in again.counts.values())
    assert [
        _count(db_url, m) for m in (User, Account, Opportunity, Request, Follower, Feedback)
    ] == totals


def test_route_leaves_the_request_to_routing_but_remembers_it(sqlite_url: str) -> None:
    import_reference(sqlite_url, small_export(), route=True)
    with session_scope(sqlite_url) as session:
        f1 = session.scalars(select(Feedback).where(Feedback.external_id == "f1")).one()
        assert (f1.status, f1.request_id, f1.match_type) == ("pending", None, None)
        assert f1.meta["referenceRequestId"] == "r-dark"


def test_changed_export_updates_descriptive_fields_and_revives_fixed_entries(
    sqlite_url: str,
) -> None:
    data = small_export()
    import_reference(sqlite_url, data)
    data["sfdcAccounts"][0]["arr"] = 150000
    data["requests"][0]["title"] = "Dark mode everywhere"
    data["sfdcAccounts"].append({"id": "001Q", "name": "Quux"})
    data["feedback"][2].update(severity="high", description="Blinding white screens.")
    summary = import_reference(sqlite_url, data)
    assert summary.counts["accounts"].updated == 1 and summary.counts["accounts"].created == 1
    assert summary.counts["requests"].updated == 1
    assert summary.counts["feedback"].updated == 1 and summary.counts["feedback"].invalid == 0
    with session_scope(sqlite_url) as session:
        f3 = session.scalars(select(Feedback).where(Feedback.external_id == "f3")).one()
        assert (f3.status, f3.error, f3.request_id) == ("routed", None, f3.request_id)
        assert f3.request_id is not None
        assert session.scalars(
            select(Request.title).where(Request.external_id == "r-dark")
        ).one() == ("Dark mode everywhere")


def test_slug_taken_by_a_local_request_gets_a_suffix(sqlite_url: str) -> None:
    # (areas may be named by reference id, slug or name)
    data = small_export()
    import_reference(
        sqlite_url,
        {
            "areas": data["areas"],
            "requests": [
                {
                    "id": "local",
                    "title": "Dark mode",
                    "slug": "dark-mode",
                    "areaIds": ["Dashboards"],
                }
            ],
        },
    )
    import_reference(sqlite_url, data)
    with session_scope(sqlite_url) as session:
        slugs = set(session.scalars(select(Request.slug)))
    assert {"dark-mode", "dark-mode-2", "public-api"} <= slugs


def test_session_mode_leaves_the_transaction_to_the_caller(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as session:
        import_reference(session, small_export())
        session.rollback()
    assert _count(sqlite_url, Feedback) == 0
    with session_scope(sqlite_url) as session:
        import_reference(session, small_export())
    assert _count(sqlite_url, Feedback) == 3


@pytest.mark.parametrize("bad", [[], {"feedback": {"not": "a list"}}])
def test_bad_export_shape_is_a_clear_error(sqlite_url: str, bad: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        import_reference(sqlite_url, bad)


def test_demo_dataset_imports_completely_and_keeps_truth_labels(sqlite_url: str) -> None:
    data = generate_demo_dataset(seed=7, scale=1)
    summary = import_reference(sqlite_url, data)
    assert summary.invalid == 0, summary.problems[:5]
    assert summary.counts["feedback"].created == len(data["feedback"])
    assert summary.counts["requests"].created == len(data["requests"])
    with session_scope(sqlite_url) as session:
        attached = session.scalar(
            select(func.count(Feedback.id)).where(Feedback.status == "routed")
        )
        expected = sum(1 for f in data["feedback"] if f.get("requestId"))
        assert attached == expected
        truth = session.scalars(select(Feedback.meta).limit(50)).all()
        assert all("truthRequestId" in meta for meta in truth)
    assert import_reference(sqlite_url, data).counts["feedback"].existing == len(data["feedback"])
