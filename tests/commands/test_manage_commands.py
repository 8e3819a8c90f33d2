from __future__ import annotations

import json

from click.testing import CliRunner, Result
from sqlalchemy import select

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, Opportunity, OutboxMessage, Request
from tests.intake.seed import seed_url


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _attach_feedback(url: str) -> int:
    with session_scope(url) as session:
        request = repo.resolve_request(session, "dark-mode")
        for account in ("Acme", "Acme", "Globex"):
            repo.add_feedback(
                session,
                {
                    "source": "cli",
                    "customer_pain": f"{account} wants it dark",
                    "severity": "medium",
                    "account_id": repo.resolve_account(session, account).id,
                    "submitter_id": repo.resolve_user(session, "ann@example.com").id,
                    "status": "routed",
                    "request_id": request.id,
                    "match_type": "manual",
                },
            )
        failed, _ = repo.add_feedback(
            session,
            {
                "source": "cli",
                "customer_pain": "Timeouts",
                "severity": "low",
                "account_id": repo.resolve_account(session, "Acme").id,
                "submitter_id": repo.resolve_user(session, "bob@example.com").id,
                "status": "failed",
                "error": "embedding service unavailable",
            },
        )
        return failed.id


def test_requests_commands(app_env: str) -> None:
    seed_url(app_env)
    _attach_feedback(app_env)
    listing = _ok("requests", "list")
    header, row = listing.splitlines()
    assert header.split() == [
        "ID",
        "SLUG",
        "STATUS",
        "AREAS",
        "ENTRIES",
        "ACCOUNTS",
        "ARR",
        "FOLLOWERS",
        "TITLE",
    ]
    assert row.split()[1:8] == ["dark-mode", "open", "dashboards", "3", "2", "$150,000", "0"]
    assert header.index("SLUG") == row.index("dark-mode")  # aligned columns

    rows = json.loads(_ok("requests", "list", "--json", "--area", "dashboards", "--status", "open"))
    assert [(r["slug"], r["arr"], r["accounts"]) for r in rows] == [("dark-mode", 150000.0, 2)]
    assert _ok("requests", "list", "--status", "shipped").strip() == "(none)"

    shown = _ok("requests", "show", "dark-mode")
    assert "$150,000 (distinct accounts)" in shown and "entries   3 (medium 3)" in shown
    detail = json.loads(
        _ok("requests", "show", "http://localhost:8000/requests/dark-mode", "--json")
    )
    assert detail["entries"] == 3 and detail["areas"] == [
        {"slug": "dashboards", "name": "Dashboards"}
    ]

    created = _ok(
        "requests",
        "create",
        "--title",
        "SAML SSO",
        "--description",
        "Okta login.",
        "--area",
        "integrations",
        "--area",
        "Dashboards",
        "--creator",
        "bob@example.com",
    )
    assert "request" in created and "saml-sso" in created
    assert (
        json.loads(_ok("requests", "show", "saml-sso", "--json"))["followers"][0]["email"]
        == "bob@example.com"
    )

    shipped_out = _ok("requests", "ship", "saml-sso")
    assert "marked as shipped" in shipped_out
    # The CLI queues the notices itself and says who delivers them.
    assert "queued 1 follower DM(s)" in shipped_out and "gtm-feedback outbox send" in shipped_out
    assert "already shipped" in _ok("requests", "ship", "saml-sso")
    with session_scope(app_env) as session:
        request = session.scalars(select(Request).where(Request.slug == "saml-sso")).one()
        assert request.status == "shipped" and request.shipped_at is not None
        assert request.shipped_notified_at is not None  # claimed: the sensor will not re-send
        queued = session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.request_id == request.id)
        ).all()
        assert [k for k in queued if k.startswith("shipped:")] == [
            f"shipped:{request.id}:{repo.resolve_user(session, 'bob@example.com').id}"
        ]
    assert "deprioritized (was shipped)" in _ok("requests", "deprioritize", "saml-sso")
    assert "reopened (was deprioritized)" in _ok("requests", "reopen", "saml-sso")
    assert "already open" in _ok("requests", "reopen", "saml-sso")


def test_requests_bad_input(app_env: str) -> None:
    seed_url(app_env)
    for args, message in [
        (("requests", "show", "nope"), "unknown request 'nope'"),
        (("requests", "ship", "nope"), "unknown request 'nope'"),
        (("requests", "list", "--area", "nowhere"), "unknown product area 'nowhere'"),
        (("requests", "list", "--status", "done"), "unknown status 'done'"),
        (
            (
                "requests",
                "create",
                "--title",
                "X",
                "--description",
                " ",
                "--area",
                "x",
                "--creator",
                "ann@example.com",
            ),
            "description is empty",
        ),
    ]:
        result = _run(*args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output


def test_entries_commands(app_env: str) -> None:
    seed_url(app_env)
    failed_id = _attach_feedback(app_env)
    listing = _ok("entries", "list")
    assert len(listing.splitlines()) == 5
    assert json.loads(_ok("entries", "list", "--status", "failed", "--json"))[0]["id"] == failed_id
    routed = json.loads(_ok("entries", "list", "--request", "dark-mode", "--json", "--limit", "2"))
    assert len(routed) == 2 and {r["request"] for r in routed} == {"dark-mode"}

    shown = _ok("entries", "show", str(failed_id))
    assert "error        embedding service unavailable" in shown and "Timeouts" in shown
    assert json.loads(_ok("entries", "show", str(failed_id), "--json"))["status"] == "failed"

    assert f"entry {failed_id}: failed -> pending" in _ok("entries", "retry", str(failed_id))
    assert "nothing to retry" in _ok("entries", "retry", str(failed_id))
    with session_scope(app_env) as session:
        entry = session.get(Feedback, failed_id)
        assert entry is not None and (entry.status, entry.error) == ("pending", None)

    assert "0 of 0 entries back to pending" in _ok("entries", "retry", "--all-failed")
    for args, message in [
        (("entries", "show", "999"), "unknown entry 999"),
        (
            (
                "entries",
                "retry",
            ),
            "give an entry id or --all-failed",
        ),
        (("entries", "list", "--status", "lost"), "unknown status 'lost'"),
    ]:
        result = _run(*args)
        assert (result.exit_code, message in result.stderr) == (2, True), result.output


def test_entries_retry_exits_1_when_still_invalid(app_env: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed_url(app_env)
    path = tmp_path / "f.csv"
    path.write_text("text,severity,account,submitter\nNeeds SAML,high,Initech,ann@example.com\n")
    assert _run("import", str(path)).exit_code == 1
    result = _run("entries", "retry", "--all-failed")
    assert result.exit_code == 1 and "still invalid: unknown account 'Initech'" in result.stdout
    _ok("accounts", "create", "Initech", "--arr", "25k")
    assert "invalid -> pending" in _ok("entries", "retry", "--all-failed")


def test_areas_accounts_users_and_following(app_env: str) -> None:
    seed_url(app_env)
    _attach_feedback(app_env)
    created = _ok("areas", "create", "API & Developer Tools", "--firehose-channel", "#api")
    assert (
        "area 'api-developer-tools' created" in created
        and "product_area_partitions_sensor" in created
    )
    assert "already exists" in _ok("areas", "create", "API & Developer Tools")
    areas = json.loads(_ok("areas", "list", "--json"))
    assert [(a["slug"], a["firehose_channel"], a["open_requests"]) for a in areas] == [
        ("api-developer-tools", "firehose-api", 0),
        ("dashboards", None, 1),
        ("integrations", None, 0),
    ]
    assert "FIREHOSE_CHANNEL" in _ok("areas", "list")

    accounts = json.loads(_ok("accounts", "list", "--json"))
    assert [(a["name"], a["entries"], a["requests"]) for a in accounts] == [
        ("Acme", 3, 1),
        ("Globex", 1, 1),
    ]
    assert "$100,000" in _ok("accounts", "list")
    shown = _ok("accounts", "show", "001ACME")
    assert "Acme renewal" in shown and "dark-mode" in shown
    assert json.loads(_ok("accounts", "show", "Globex", "--json"))["enterprise"] is True
    assert "account 'Initech' created" in _ok(
        "accounts", "create", "Initech", "--arr", "1.5m", "--enterprise"
    )
    assert "account 'Initech' updated" in _ok("accounts", "create", "Initech", "--arr", "2m")
    bad = _run("accounts", "create", "Initech", "--arr", "many")
    assert bad.exit_code == 2 and "arr must be a number" in bad.stderr

    assert "user carl@example.com created" in _ok(
        "users", "create", "Carl@Example.com", "--name", "Carl"
    )
    users = json.loads(_ok("users", "list", "--json"))
    assert [u["email"] for u in users] == ["ann@example.com", "bob@example.com", "carl@example.com"]
    assert "U_ANN" in _ok("users", "list")
    bad = _run("users", "create", "not-an-email")
    assert bad.exit_code == 2 and "not an email address" in bad.stderr

    assert "now follows dark-mode" in _ok("follow", "dark-mode", "--user", "carl@example.com")
    assert "already follows" in _ok("follow", "dark-mode", "--user", "Carl")
    assert "no longer follows" in _ok("unfollow", "dark-mode", "--user", "carl@example.com")
    missing = _run("follow", "dark-mode", "--user", "nobody")
    assert missing.exit_code == 2 and "unknown user 'nobody'" in missing.stderr


# ---------------------------------------------------------------------------- issue 15: bad input

HUGE = "99999999999999999999"  # > 2^63


def test_ids_above_2_63_are_unknown_not_tracebacks(app_env: str) -> None:
    seed_url(app_env)
    for args, message in [
        (("entries", "show", HUGE), f"unknown entry {HUGE}"),
        (("entries", "retry", HUGE), f"unknown entry {HUGE}"),
        (("requests", "show", HUGE), f"unknown request '{HUGE}'"),
        (("accounts", "show", HUGE), f"unknown account '{HUGE}'"),
        (("follow", HUGE, "--user", HUGE), f"unknown request '{HUGE}'"),
    ]:
        result = _run(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), result
        assert (result.exit_code, message in result.stderr) == (2, True), (args, result.output)
    for args in (("entries", "list", "--limit", HUGE), ("requests", "list", "--limit", HUGE)):
        assert _run(*args).exit_code == 0, args


def test_entries_are_printed_without_control_characters(app_env: str) -> None:
    seeded = seed_url(app_env)
    with session_scope(app_env) as session:  # stored before intake cleaned text
        entry, _ = repo.add_feedback(
            session,
            {
                "source": "cli",
                "customer_pain": "Pay \u202eexe.pdf\u202c now\x1b[2J",
                "severity": "low",
                "account_id": seeded.acme,
                "submitter_id": seeded.ann,
            },
        )
        entry_id = entry.id
    for output in (_ok("entries", "list"), _ok("entries", "show", str(entry_id))):
        assert "Pay exe.pdf now[2J" in output
        assert "\u202e" not in output and "\x1b" not in output


def test_non_latin_area_names_get_transliterated_slugs(app_env: str) -> None:
    seed_url(app_env)
    assert "area 'cafe-reservation' created" in _ok("areas", "create", "Café Réservation")
    assert "area 'ri-ben-yu' created" in _ok("areas", "create", "日本語")


def test_requests_show_lists_entries_accounts_opportunities(app_env: str) -> None:
    seed_url(app_env)
    _attach_feedback(app_env)
    with session_scope(app_env) as session:
        request = repo.resolve_request(session, "dark-mode")
        entry = session.scalars(select(Feedback).where(Feedback.request_id == request.id)).first()
        entry.opportunity_id = session.scalars(
            select(Opportunity.id).where(Opportunity.name == "Globex expansion")
        ).one()
    detail = json.loads(_ok("requests", "show", "dark-mode", "--json"))
    assert len(detail["entry_list"]) == 3
    assert {e["account"] for e in detail["entry_list"]} == {"Acme", "Globex"}
    assert [(a["name"], a["arr"], a["entries"]) for a in detail["account_list"]] == [
        ("Acme", 100_000.0, 2),
        ("Globex", 50_000.0, 1),
    ]
    shown = _ok("requests", "show", "dark-mode", "--entries", "2")
    assert "accounts (ARR counted once per account):" in shown
    assert "$100,000" in shown and "Globex wants it dark" in shown
    assert "entries (newest 2 of 3):" in shown
    assert "opportunities:" in shown and "followers:" in shown
    assert [o["name"] for o in detail["opportunities"]] == ["Globex expansion"]


def test_requests_list_sorts(app_env: str) -> None:
    seed_url(app_env)
    _attach_feedback(app_env)
    _ok(
        "requests", "create", "--title", "SAML SSO", "--description", "Okta login.",
        "--area", "integrations", "--creator", "bob@example.com",
    )  # fmt: skip
    recent = json.loads(_ok("requests", "list", "--json"))
    assert [r["slug"] for r in recent] == ["saml-sso", "dark-mode"]
    by_arr = json.loads(_ok("requests", "list", "--json", "--sort", "arr"))
    assert [r["slug"] for r in by_arr] == ["dark-mode", "saml-sso"]
    by_entries = json.loads(_ok("requests", "list", "--json", "--sort", "entries", "--limit", "1"))
    assert [r["slug"] for r in by_entries] == ["dark-mode"]
    only = json.loads(_ok("requests", "list", "--json", "--sort", "arr", "--area", "integrations"))
    assert [r["slug"] for r in only] == ["saml-sso"]
    assert _run("requests", "list", "--sort", "votes").exit_code != 0


def test_requests_edit(app_env: str) -> None:
    seed_url(app_env)
    out = _ok(
        "requests", "edit", "dark-mode", "--title", "Dark theme", "--slug", "dark-theme",
        "--description", "A dark theme for every page.", "--add-area", "integrations",
        "--remove-area", "dashboards",
    )  # fmt: skip
    assert "title: 'Dark mode' -> 'Dark theme'" in out
    assert "slug: dark-mode -> dark-theme" in out
    assert "area added: integrations" in out and "area removed: dashboards" in out
    detail = json.loads(_ok("requests", "show", "dark-mode", "--json"))  # the old slug redirects
    assert detail["slug"] == "dark-theme" and detail["title"] == "Dark theme"
    assert detail["description"] == "A dark theme for every page."
    assert [a["slug"] for a in detail["areas"]] == ["integrations"]
    assert detail["old_slugs"] == ["dark-mode"]
    assert "dark-theme" in _ok("requests", "show", "http://localhost:8000/requests/dark-mode")
    assert "nothing changed" in _ok("requests", "edit", "dark-theme", "--title", "Dark theme")
    listing = json.loads(_ok("requests", "list", "--json", "--area", "integrations"))
    assert [r["slug"] for r in listing] == ["dark-theme"]

    for args, message in [
        (("requests", "edit", "dark-theme"), "nothing to change"),
        (("requests", "edit", "dark-theme", "--remove-area", "integrations"), "at least one area"),
        (("requests", "edit", "dark-theme", "--add-area", "nowhere"), "unknown product area"),
        (("requests", "edit", "nope", "--title", "x"), "unknown request 'nope'"),
    ]:
        result = _run(*args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    _ok(
        "requests", "create", "--title", "SAML SSO", "--description", "Okta login.",
        "--area", "integrations", "--creator", "bob@example.com",
    )  # fmt: skip
    taken = _run("requests", "edit", "saml-sso", "--slug", "dark-theme")
    assert taken.exit_code != 0 and "is taken by request" in taken.output
