from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gtm_feedback_dagster.feedback.csv_import import import_csv, infer_kind, parse_csv
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
from tests.intake.seed import seed_url

HEADER = b"text,severity,account,submitter,opportunity,links\n"


def _entries(url: str) -> list[Feedback]:
    with session_scope(url) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


# ---------------------------------------------------------------------------- parsing


def test_parse_csv_recovers_from_each_kind_of_malformed_line() -> None:
    data = (
        b"a,b,c\n"
        b"1,2,3\n"
        b'4,"x"y,6\n'  # text after a closing quote
        b"7,8\n"  # too few columns
        b"\xff\xfe9,10,11\n"  # not UTF-8
        b'"multi\nline",13,14\n'  # a legal quoted newline
        b'15,"never closed,16\n'  # swallows the rest unless recovered
        b"17,18,19\n"
        b"\n"
    )
    header, records = parse_csv(data)
    assert header == ["a", "b", "c"]
    by_line = {r.line: r for r in records}
    assert by_line[2].values == {"a": "1", "b": "2", "c": "3"} and by_line[2].problem is None
    assert "quoting" in (by_line[3].problem or "")
    assert by_line[4].problem == "expected 3 columns, got 2"
    assert "not valid UTF-8 (byte 0xff at column 1)" in (by_line[5].problem or "")
    assert by_line[6].values == {"a": "multi\nline", "b": "13", "c": "14"}
    assert by_line[6].problem is None
    assert "quot" in (by_line[8].problem or "")
    # The line after the unterminated quote is read on its own again.
    assert by_line[9].values == {"a": "17", "b": "18", "c": "19"}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 8, 9]


def test_a_stray_quote_closed_lines_later_does_not_hide_the_rows_between() -> None:
    _, records = parse_csv(b'a,b,c\n1,"stray,3\n4,5,6\n7",8,9\n10,11,12\n')
    by_line = {r.line: r for r in records}
    assert "check the quotes on this line" in (by_line[2].problem or "")
    assert by_line[3].values == {"a": "4", "b": "5", "c": "6"} and by_line[3].problem is None
    assert by_line[5].values == {"a": "10", "b": "11", "c": "12"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"a,a\n1,2\n", "twice"),
        (b"\xffa,b\n", "header line cannot be read"),
        (b"a,,b\n", "empty column name"),
    ],
)
def test_parse_csv_rejects_unusable_headers(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_csv(data)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["text", "severity", "account", "submitter"], "feedback"),
        (["customer_pain", "severity"], "feedback"),
        (["title", "description", "areas"], "requests"),
        (["email", "name"], "users"),
        (["external_id", "account", "name", "stage"], "opportunities"),
        (["name", "arr", "is_enterprise"], "accounts"),
        (["name", "slug", "description"], "areas"),
    ],
)
def test_infer_kind_from_header(header: list[str], kind: str) -> None:
    assert infer_kind(header) == kind


def test_infer_kind_asks_for_kind_when_unclear() -> None:
    with pytest.raises(ValueError, match="pass --kind"):
        infer_kind(["name"])


# ---------------------------------------------------------------------------- feedback rows


def test_feedback_import_keeps_valid_rows_next_to_invalid_ones_and_is_idempotent(
    db_url: str,
) -> None:
    seed_url(db_url)
    data = HEADER + (
        b'"Exports time out, badly",high,Acme,ann@example.com,Acme renewal,https://t/1\n'
        b"Needs SSO,Dealbreaker,Globex,bob@example.com,,\n"
        b"   ,medium,Acme,ann@example.com,,\n"  # empty text
        b"Too loud,unknown,Nobody Inc,ann@example.com,,\n"  # bad severity + unknown account
        b"Wants an API,low,Acme,zed@example.com,,\n"  # unknown submitter
        b'broken,"quote"here,Acme,ann@example.com,,\n'
        b"\xe9t\xe9 latin-1,low,Acme,ann@example.com,,\n"
        b"short row,low\n"
        b"Dark charts please,Nice to have,001GLOBEX,Bob Stone,006GLX1,\n"
    )
    report = import_csv(db_url, data)
    assert (report.kind, report.rows, report.created, report.invalid) == ("feedback", 9, 3, 6)
    reasons = {p.line: p.reason for p in report.problems}
    assert reasons[4] == "text is empty"  # the column as the file calls it
    assert (
        "unknown severity 'unknown'" in reasons[5] and "unknown account 'Nobody Inc'" in reasons[5]
    )
    assert "unknown user 'zed@example.com'" in reasons[6]
    assert "quoting" in reasons[7]
    assert "not valid UTF-8" in reasons[8]
    assert reasons[9] == "expected 6 columns, got 2"
    assert all(p.entry_id is not None for p in report.problems)

    entries = _entries(db_url)
    assert len(entries) == 9
    assert [e.status for e in entries].count("pending") == 3
    invalid = [e for e in entries if e.status == "invalid"]
    assert all(e.error and e.raw for e in invalid)
    assert {e.source for e in entries} == {"csv"}
    first = next(e for e in entries if e.customer_pain == "Exports time out, badly")
    assert (first.severity, first.links) == ("high", ["https://t/1"])
    assert first.opportunity_id is not None
    broken = next(e for e in invalid if e.raw and e.raw.get("line") == 7)
    assert broken.raw["text"].startswith("broken,")

    again = import_csv(db_url, data)
    assert (again.created, again.existing, again.invalid) == (0, 3, 6)
    assert len(_entries(db_url)) == 9


def test_fixed_rows_revive_their_invalid_entries(db_url: str) -> None:
    seed_url(db_url)
    header = b"external_id,text,severity,account,submitter\n"
    first = import_csv(db_url, header + b"row-1,Needs SSO,huge,Acme,ann@example.com\n")
    assert first.invalid == 1
    (entry,) = _entries(db_url)
    assert entry.status == "invalid"

    fixed = import_csv(db_url, header + b"row-1,Needs SSO,high,Acme,ann@example.com\n")
    assert (fixed.updated, fixed.invalid) == (1, 0)
    (entry_after,) = _entries(db_url)
    assert entry_after.id == entry.id
    assert (entry_after.status, entry_after.severity, entry_after.error) == (
        "pending",
        "high",
        None,
    )
    assert entry_after.raw is None


def test_rows_naming_a_request_are_routed_manually_unless_route(sqlite_url: str) -> None:
    seeded = seed_url(sqlite_url)
    data = (
        b"text,severity,account,submitter,request\n"
        b"Dark theme for night shifts,low,Acme,bob@example.com,dark-mode\n"
        b"Wants an unknown thing,low,Acme,bob@example.com,no-such-request\n"
    )
    report = import_csv(sqlite_url, data)
    assert (report.created, report.invalid) == (1, 1)
    assert "unknown request 'no-such-request'" in report.problems[0].reason
    entries = _entries(sqlite_url)
    routed = entries[0]
    assert (routed.status, routed.request_id, routed.match_type) == (
        "routed",
        seeded.dark_mode,
        "manual",
    )
    with session_scope(sqlite_url) as session:
        follower = session.scalars(
            select(Follower).where(
                Follower.user_id == seeded.bob, Follower.request_id == seeded.dark_mode
            )
        ).first()
    assert follower is not None  # the submitter follows, like on every attach

    routed_later = import_csv(sqlite_url, data.replace(b"night shifts", b"late shifts"), route=True)
    # With --route the request column is not looked at: the new row is stored pending and the
    # row that was invalid only for its unknown request is now valid, so its entry is revived.
    assert (routed_later.created, routed_later.updated, routed_later.invalid) == (1, 1, 0)
    entries = _entries(sqlite_url)
    assert [e.status for e in entries] == ["routed", "pending", "pending"]
    assert entries[1].request_id is None and entries[2].request_id is None


def test_duplicate_rows_in_one_file_are_stored_once(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    row = b"Slow dashboards,medium,Acme,ann@example.com,,\n"
    report = import_csv(sqlite_url, HEADER + row + row.replace(b"medium", b" medium "))
    assert (report.created, report.existing) == (1, 1)
    assert len(_entries(sqlite_url)) == 1


def test_many_rows_across_batches(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    lines = [HEADER]
    for i in range(1200):  # more than two batches
        account = "Acme" if i % 2 else "Globex"
        severity = "low" if i % 100 else "extreme"  # every 100th row is invalid
        lines.append(f"Pain number {i},{severity},{account},ann@example.com,,\n".encode())
    data = b"".join(lines)
    progress: list[int] = []
    report = import_csv(sqlite_url, data, progress=progress.append)
    assert sum(progress) == 1200 and len(progress) == 3
    assert (report.created, report.invalid) == (1188, 12)
    with session_scope(sqlite_url) as session:
        assert session.scalar(select(func.count(Feedback.id))) == 1200
    assert import_csv(sqlite_url, data).existing == 1188


# ---------------------------------------------------------------------------- entity rows


def test_entity_imports_upsert_by_natural_key(db_url: str) -> None:
    areas = b"name,slug,description,firehose_channel\nDashboards,,Charts,#dash\nAPI & Tools,,,api\n"
    report = import_csv(db_url, areas)
    assert (report.kind, report.created) == ("areas", 2)
    assert import_csv(db_url, areas).existing == 2
    changed = import_csv(db_url, areas.replace(b"Charts", b"Charts and filters"))
    assert (changed.updated, changed.existing) == (1, 1)

    users = (
        b"email,name,slack_user_id,is_admin\n"
        b"Ann@Example.com,Ann,U1,yes\n"
        b"bob@example.com,Bob,,\n"
        b"not-an-email,X,,\n"
        b"carl@example.com,Carl,U1,\n"  # slack id taken by Ann
    )
    report = import_csv(db_url, users)
    assert (report.kind, report.created, report.invalid) == ("users", 2, 2)
    assert {p.line for p in report.problems} == {4, 5}
    assert "already belongs to user ann@example.com" in report.problems[1].reason

    accounts = (
        b"external_id,name,arr,is_enterprise,website,region_name\n"
        b'001A,Acme,"$120,000",true,https://www.acme.com,NA\n'
        b"001B,Globex,50k,no,,EMEA\n"
        b"001C,Initech,lots,no,,\n"
    )
    report = import_csv(db_url, accounts)
    assert (report.kind, report.created, report.invalid) == ("accounts", 2, 1)
    assert "arr must be a number" in report.problems[0].reason

    opportunities = (
        b"external_id,account,name,arr,stage,close_date\n"
        b"006A,001A,Acme renewal,1000,Discovery,2027-01-31\n"
        b"006B,Nobody,Lost deal,,Closed Lost,\n"
        b"006C,Globex,Globex new,5,Proposal,31/01/2027\n"
    )
    report = import_csv(db_url, opportunities)
    assert (report.kind, report.created, report.invalid) == ("opportunities", 1, 2)

    requests = (
        b"title,description,areas,creator,status,external_id\n"
        b"Dark mode,Night theme,dashboards,ann@example.com,open,R1\n"
        b"Public API,Programmatic access,api-tools;dashboards,bob@example.com,shipped,R2\n"
        b"Orphan,No area,nowhere,ann@example.com,open,R3\n"
        b"Odd,Bad status,dashboards,ann@example.com,someday,R4\n"
    )
    report = import_csv(db_url, requests)
    assert (report.kind, report.created, report.invalid) == ("requests", 2, 2)
    assert "unknown product area 'nowhere'" in report.problems[0].reason
    assert "unknown status 'someday'" in report.problems[1].reason
    assert import_csv(db_url, requests).existing == 2

    with session_scope(db_url) as session:
        assert session.scalar(select(func.count(ProductArea.id))) == 2
        ann = session.scalars(select(User).where(User.email == "ann@example.com")).one()
        assert (ann.name, ann.slack_user_id, ann.is_admin) == ("Ann", "U1", True)
        acme = session.scalars(select(Account).where(Account.external_id == "001A")).one()
        assert (acme.arr, acme.is_enterprise, acme.domain, acme.region) == (
            120000.0,
            True,
            "acme.com",
            "NA",
        )
        opp = session.scalars(select(Opportunity)).one()
        assert (opp.account_id, str(opp.close_date)) == (acme.id, "2027-01-31")
        shipped = session.scalars(select(Request).where(Request.external_id == "R2")).one()
        assert [a.slug for a in shipped.areas] == ["api-tools", "dashboards"]
        # A ship imported from elsewhere was announced there: not announced again.
        assert shipped.shipped_at is not None and shipped.shipped_notified_at is not None
        dark = session.scalars(select(Request).where(Request.external_id == "R1")).one()
        assert dark.shipped_notified_at is None and dark.reminder_sent_at is None


# ---------------------------------------------------------------------------- delimiters, names


def test_a_semicolon_separated_file_is_read_as_such(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    data = (
        b"Text;Severity;Account;Submitter\n"
        b"Exports time out, badly;high;Acme;ann@example.com\n"
        b"Needs SSO;Dealbreaker;Globex;bob@example.com\n"
    )
    report = import_csv(sqlite_url, data)
    assert (report.kind, report.rows, report.created, report.invalid) == ("feedback", 2, 2, 0)
    assert report.as_dict()["delimiter"] == "semicolon"
    assert {e.customer_pain for e in _entries(sqlite_url)} == {
        "Exports time out, badly",
        "Needs SSO",
    }
    tabbed = import_csv(
        sqlite_url, b"Text\tSeverity\tAccount\tSubmitter\nTabs\tlow\tAcme\tann@example.com\n"
    )
    assert (tabbed.created, tabbed.delimiter) == (1, "\t")


def test_a_one_column_header_with_semicolons_gets_a_delimiter_hint() -> None:
    with pytest.raises(ValueError, match="separated by something other than commas"):
        infer_kind(["name;slug_x;desc"])


def test_comma_files_with_semicolons_in_values_stay_comma_separated() -> None:
    header, records = parse_csv(b'text,severity\n"a; b; c",low\n')
    assert header == ["text", "severity"] and records[0].values == {
        "text": "a; b; c",
        "severity": "low",
    }


def test_an_empty_text_column_is_reported_under_the_files_column_name(sqlite_url: str) -> None:
    seed_url(sqlite_url)
    report = import_csv(
        sqlite_url, b"Customer Pain,Severity,Customer,User\n ,low,Acme,ann@example.com\n"
    )
    assert [p.reason for p in report.problems] == ["Customer Pain is empty"]
    report = import_csv(sqlite_url, b"Pain;Severity;Account;Submitter\n;low;Acme;ann@example.com\n")
    assert [p.reason for p in report.problems] == ["Pain is empty"]
