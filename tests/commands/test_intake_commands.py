from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gtm_feedback_dagster.cli import cli
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Feedback, User
from tests.feedback.test_reference_import import small_export
from tests.intake.seed import seed_url


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _entries(url: str) -> list[Feedback]:
    with session_scope(url) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


def test_submit_stores_a_pending_entry(app_env: str) -> None:
    seed_url(app_env)
    result = _run(
        "submit",
        "-t",
        "Exports time out",
        "--severity",
        "Dealbreaker",
        "--account",
        "acme.com",
        "--submitter",
        "Ann Lee",
        "--opportunity",
        "006ACME1",
        "--link",
        "https://t/1",
        "--link",
        "https://t/2",
    )
    assert result.exit_code == 0, result.output
    (entry,) = _entries(app_env)
    assert result.output.strip() == f"entry {entry.id} stored (pending)"
    assert (entry.source, entry.severity, entry.links) == (
        "cli",
        "high",
        ["https://t/1", "https://t/2"],
    )
    assert entry.opportunity_id is not None


def test_submit_with_external_id_is_stored_once(app_env: str) -> None:
    seed_url(app_env)
    args = ["submit", "-t", "SSO", "-s", "low", "-a", "Acme", "--submitter", "ann@example.com"]
    first = _run(*args, "--external-id", "x-1")
    second = _run(*args, "--external-id", "x-1")
    assert first.exit_code == second.exit_code == 0
    assert "already stored (pending)" in second.output
    assert len(_entries(app_env)) == 1


def test_submit_bad_input_is_a_clear_error_with_exit_2(app_env: str) -> None:
    seed_url(app_env)
    cases = [
        (
            ["-t", "  ", "-s", "low", "-a", "Acme", "--submitter", "ann@example.com"],
            "customer_pain is empty",
        ),
        (
            ["-t", "x" * 5001, "-s", "low", "-a", "Acme", "--submitter", "ann@example.com"],
            "too long (5001 > 5000",
        ),
        (
            ["-t", "ok", "-s", "whenever", "-a", "Acme", "--submitter", "ann@example.com"],
            "unknown severity 'whenever'",
        ),
        (
            ["-t", "ok", "-s", "low", "-a", "Umbrella", "--submitter", "ann@example.com"],
            "unknown account 'Umbrella'",
        ),
        (["-t", "ok", "-s", "low", "-a", "Acme", "--submitter", "zed"], "unknown user 'zed'"),
        (
            [
                "-t",
                "ok",
                "-s",
                "low",
                "-a",
                "Acme",
                "--submitter",
                "ann@example.com",
                "-o",
                "006GLX1",
            ],
            "belongs to account 'Globex', not 'Acme'",
        ),
        (
            [
                "-t",
                "ok",
                "-s",
                "low",
                "-a",
                "Acme",
                "--submitter",
                "ann@example.com",
                "--link",
                "nope",
            ],
            "not an http(s) link",
        ),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, ["submit", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "error: " in result.stderr and message in result.stderr, result.stderr
        assert "Traceback" not in result.output
    assert _entries(app_env) == []


def test_import_reports_invalid_rows_and_exits_1(app_env: str, tmp_path: Path) -> None:
    seed_url(app_env)
    path = tmp_path / "feedback.csv"
    path.write_bytes(
        b"text,severity,account,submitter\n"
        b"Slow exports,high,Acme,ann@example.com\n"
        b"Huh,sometimes,Acme,ann@example.com\n"
        b"\xff bad bytes,low,Acme,ann@example.com\n"
    )
    result = CliRunner().invoke(cli, ["import", str(path)])
    assert result.exit_code == 1, result.output
    assert "feedback: 3 rows — created 1, existing 0, updated 0, invalid 2" in result.stdout
    assert "unknown severity 'sometimes'" in result.stdout
    assert "not valid UTF-8" in result.stdout
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [line[0] for line in lines] == ["3", "4"]
    assert "importing feedback.csv" in result.stderr  # the progress bar goes to stderr

    again = CliRunner().invoke(cli, ["import", str(path), "--json"])
    assert again.exit_code == 1
    report = json.loads(again.stdout)
    assert (report["created"], report["existing"], report["invalid"]) == (0, 1, 2)
    assert [p["line"] for p in report["problems"]] == [3, 4]
    assert len(_entries(app_env)) == 3


def test_import_of_a_clean_file_exits_0_and_kind_can_be_given(app_env: str, tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text("name\nDashboards\nIntegrations\n")
    assert _run("import", str(path)).exit_code == 2  # the header alone does not tell the kind
    result = _run("import", str(path), "--kind", "areas")
    assert result.exit_code == 0, result.output
    assert "areas: 2 rows — created 2" in result.output


def test_import_bad_files_are_clear_errors(app_env: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = CliRunner().invoke(cli, ["import", str(empty)])
    assert (result.exit_code, "error: the file is empty" in result.stderr) == (2, True)
    missing = CliRunner().invoke(cli, ["import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_migrate_reference(app_env: str, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(small_export()))
    result = CliRunner().invoke(cli, ["migrate-reference", str(path)])
    assert result.exit_code == 1, result.output  # the export has invalid rows
    counts_table = result.stdout.split("\n\n")[0]
    table = {line.split()[0]: line.split()[1:] for line in counts_table.splitlines()[1:]}
    assert table["feedback"] == ["2", "0", "0", "1"]
    assert table["requests"] == ["2", "0", "0", "1"]
    assert "unknown account '001Q'" in result.stdout and "invalid entry" in result.stdout

    again = CliRunner().invoke(cli, ["migrate-reference", str(path), "--json", "--route"])
    summary = json.loads(again.stdout)
    assert summary["counts"]["feedback"]["existing"] == 2
    assert all(c["created"] == 0 for c in summary["counts"].values())


def test_migrate_reference_of_clean_data_exits_0(app_env: str, tmp_path: Path) -> None:
    data = small_export()
    data["users"].pop()  # drop the broken rows
    data["sfdc_opportunities"].pop()
    data["requests"].pop()
    data["requests"][1]["followers"] = ["u-bob"]
    data["feedback"].pop()
    path = tmp_path / "clean.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["migrate-reference", str(path)])
    assert result.exit_code == 0, result.output


def test_migrate_reference_rejects_non_json(app_env: str, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(b'{"users": [')
    result = CliRunner().invoke(cli, ["migrate-reference", str(path)])
    assert result.exit_code == 2 and "is not valid JSON" in result.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_the_intake_service(app_env: str, tmp_path: Path, workers: int) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "GTM_FEEDBACK_API_TOKEN": "serve-test-token"}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gtm_feedback_dagster.cli", "serve", "--port", str(port)),
            *("--workers", str(workers), "--forwarded-allow-ips", "127.0.0.1"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        # `serve` warms the model and index at start-up; /healthz says how far it got.
        health = response.json()
        assert health["ok"] is True and health["search"] in ("cold", "warming", "ready"), health
        denied = httpx.post(f"http://127.0.0.1:{port}/api/feedback", json={})
        assert denied.status_code == 401
        if workers > 1:  # a warm search, then every worker answers: poll until ready
            while httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["search"] in (
                "cold",
                "warming",
            ):
                assert time.monotonic() < deadline + 120, "search did not warm up"
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=15)


# ---------------------------------------------------------------------------- issue 15: bad input

HUGE = "99999999999999999999"  # > 2^63
BASE = {"-t": "Exports time out", "-s": "high", "-a": "Acme", "-u": "ann@example.com"}


def _submit(**options: str):  # type: ignore[no-untyped-def]
    args = [part for pair in {**BASE, **options}.items() for part in pair]
    return CliRunner().invoke(cli, ["submit", *args])


@pytest.mark.parametrize("option", ["-a", "-u", "-o"])
def test_submit_with_an_id_above_2_63_is_a_validation_error(app_env: str, option: str) -> None:
    seed_url(app_env)
    result = _submit(**{option: HUGE})
    assert result.exit_code == 2, result.output
    assert HUGE in result.stderr and not isinstance(result.exception, OverflowError)
    assert _entries(app_env) == []


def test_submit_refuses_a_reused_external_id_with_other_text(app_env: str) -> None:
    seed_url(app_env)
    assert _submit(**{"--external-id": "case-1"}).exit_code == 0
    again = _submit(**{"--external-id": "case-1"})
    assert again.exit_code == 0 and "already stored" in again.output
    changed = _submit(**{"--external-id": "case-1", "-t": "Something else"})
    assert changed.exit_code == 2 and "already stored with other content" in changed.stderr
    (entry,) = _entries(app_env)
    assert entry.customer_pain == "Exports time out"


def test_submit_cleans_control_characters_and_keeps_the_original(app_env: str) -> None:
    seed_url(app_env)
    assert _submit(**{"-t": "Bad \u202eexe.txt\u202c file\x07"}).exit_code == 0
    (entry,) = _entries(app_env)
    assert entry.customer_pain == "Bad exe.txt file"
    assert (
        entry.raw is not None and entry.raw["customer_pain"] == "Bad \u202eexe.txt\u202c file\x07"
    )


def test_import_of_a_file_with_a_huge_account_id_stores_the_good_rows(
    app_env: str, tmp_path: Path
) -> None:
    seed_url(app_env)
    path = tmp_path / "f.csv"
    path.write_text(
        "text,severity,account,submitter\n"
        "Good,high,Acme,ann@example.com\n"
        f"Bad,high,{HUGE},ann@example.com\n"
        f"Worse,high,Acme,{HUGE}\n"
    )
    result = CliRunner().invoke(cli, ["import", str(path)])
    assert result.exit_code == 1 and "created 1" in result.output, result.output
    assert [e.status for e in _entries(app_env)] == ["pending", "invalid", "invalid"]


def _seed_once(url: str) -> None:
    """Hypothesis runs many examples on one database: seed it for the first."""
    with session_scope(url) as session:
        if session.scalars(select(User.id)).first() is not None:
            return
    seed_url(url)


cli_value = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**63 - 2, max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=30,
    ),
    st.sampled_from(["Acme", "ann@example.com", "Acme renewal", "high", "-1"]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(account=cli_value, submitter=cli_value, opportunity=cli_value, text=cli_value)
def test_submit_exits_0_or_2_on_edge_values(
    app_env: str, account: str, submitter: str, opportunity: str, text: str
) -> None:
    _seed_once(app_env)
    result = CliRunner().invoke(
        cli, ["submit", "-t", text, "-s", "high", "-a", account, "-u", submitter, "-o", opportunity]
    )
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
