"""bench/public_eval.py without a route run: the reference file it builds from a collected JSONL
(here a tiny invented one: 3 originals, 2 duplicates, 1 new) and the scoring of a handmade
database state. No model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.public_eval import (
    build_reference,
    child_env,
    format_report,
    load_items,
    read_state,
    score,
    select_items,
)
from gtm_feedback_dagster.feedback.reference_import import import_reference
from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.schema import Approval, Feedback, Request

ROWS = [
    {
        "id": "acme-1",
        "kind": "original",
        "repo": "acme/widgets",
        "title": "Export widgets as spreadsheets",
        "text": "Let users download any widget table as an xlsx file.",
        "url": "https://example.com/acme/widgets/issues/1",
    },
    {
        "id": "acme-2",
        "kind": "original",
        "repo": "acme/widgets",
        "title": "Dark colour scheme",
        "text": "A dark theme for the whole app.",
    },
    {
        "id": "zeta-1",
        "kind": "original",
        "repo": "zeta/pipes",
        "title": "Retry failed pipe runs automatically",
        "text": "",
    },
    {
        "id": "acme-3",
        "kind": "duplicate",
        "duplicate_of": "acme-1",
        "repo": "acme/widgets",
        "title": "Download table to Excel",
        "text": "I need the widget data in Excel, CSV is not enough.",
    },
    {
        "id": "zeta-2",
        "kind": "duplicate",
        "duplicate_of": "zeta-1",
        "confidence": "same-need",
        "repo": "zeta/pipes",
        "title": "Automatic retries",
        "text": "Runs that fail on a timeout should be retried.",
    },
    {
        "id": "zeta-3",
        "kind": "new",
        "repo": "zeta/pipes",
        "title": "Pipe run history export",
        "text": "Export the list of past runs.",
    },
]


@pytest.fixture()
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n\n", encoding="utf-8")
    return path


def test_reference_file_holds_requests_and_entries_but_no_truth(jsonl: Path) -> None:
    items = load_items(jsonl)
    export, truth = build_reference(items)

    assert [a["slug"] for a in export["areas"]] == ["acme-widgets", "zeta-pipes"]
    assert [r["id"] for r in export["requests"]] == ["acme-1", "acme-2", "zeta-1"]
    assert export["requests"][0]["areaIds"] == ["acme-widgets"]
    assert export["requests"][0]["description"].startswith("Let users download")
    assert [f["id"] for f in export["feedback"]] == ["acme-3", "zeta-2", "zeta-3"]
    first = export["feedback"][0]
    assert first["description"].startswith("Download table to Excel\n\nI need")
    # Nothing of the truth reaches the app: no request id, no metadata on entries.
    assert all("requestId" not in f and "metadata" not in f for f in export["feedback"])
    assert "duplicate" not in json.dumps(export["feedback"])
    assert truth["requests"] == ["acme-1", "acme-2", "zeta-1"]
    assert truth["entries"]["acme-3"] == {
        "kind": "duplicate",
        "request": "acme-1",
        "repo": "acme/widgets",
    }
    assert truth["entries"]["zeta-3"]["request"] is None

    assert [i.id for i in select_items(items, "label")] == [
        "acme-1",
        "acme-2",
        "zeta-1",
        "acme-3",
        "zeta-3",
    ]


def test_the_reference_file_imports_cleanly(jsonl: Path, tmp_path: Path) -> None:
    export, _ = build_reference(load_items(jsonl))
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    summary = import_reference(url, export, route=True)
    assert not summary.problems
    with db.session_scope(url) as s:
        assert s.scalar(select(Request.id).where(Request.external_id == "acme-1")) is not None
        statuses = s.execute(select(Feedback.external_id, Feedback.status)).all()
    assert sorted(statuses) == [
        ("acme-3", "pending"),
        ("zeta-2", "pending"),
        ("zeta-3", "pending"),
    ]


def test_bad_files_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**ROWS[3], "duplicate_of": "nope"}) + "\n")
    with pytest.raises(ValueError, match="acme-3 -> nope"):
        load_items(path)
    path.write_text(json.dumps({**ROWS[0], "kind": "maybe"}) + "\n")
    with pytest.raises(ValueError, match="line 1"):
        load_items(path)


def test_scoring_a_handmade_database_state(jsonl: Path, tmp_path: Path) -> None:
    """First state: acme-3 auto-attached to its original (right), zeta-3 (should be new)
    auto-attached to acme-2 (wrong), zeta-2 got a new request (which duplicates zeta-1). Second
    state: zeta-2 and zeta-3 asked instead, zeta-2 with its original suggested."""
    export, truth = build_reference(load_items(jsonl))
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    import_reference(url, export, route=True)
    with db.session_scope(url) as s:
        req = dict(s.execute(select(Request.external_id, Request.id)).all())
        fb = dict(s.execute(select(Feedback.external_id, Feedback.id)).all())

        def routed(ext: str, tier: str, request_id: int | None, status: str = "routed") -> None:
            entry = s.get(Feedback, fb[ext])
            assert entry is not None
            entry.status = status
            entry.request_id = request_id
            entry.meta = {**(entry.meta or {}), "routing": {"tier": tier}}

        routed("acme-3", "attach", req["acme-1"])
        routed("zeta-3", "attach", req["acme-2"])
        created = Request(
            slug="automatic-retries",
            title="Automatic retries",
            created_by_routing=True,
            meta={"from_feedback_id": fb["zeta-2"]},
        )
        s.add(created)
        s.flush()
        routed("zeta-2", "new", created.id)

    result = score(truth, *read_state(url))
    assert result["entries"] == 3
    assert result["auto_attached"] == 2
    assert result["attach_precision"] == 0.5
    assert result["should_be_new_auto_attached"] == 1
    assert result["duplicates_auto_attached_to_original"] == 1
    assert result["asked"] == 0
    assert result["new_requests"] == 1
    assert result["new_requests_duplicating_existing"] == 1
    assert result["tiers"] == {"attach": 2, "new": 1}

    # Now zeta-2 is asked instead, with its original suggested, and zeta-3 asked about acme-1.
    with db.session_scope(url) as s:
        s.delete(s.get(Request, created.id))
        for ext in ("zeta-2", "zeta-3"):
            entry = s.get(Feedback, fb[ext])
            assert entry is not None
            entry.status, entry.request_id = "awaiting_approval", None
            entry.meta = {"routing": {"tier": "ask"}}
        s.add(Approval(feedback_id=fb["zeta-2"], request_id=req["zeta-1"], confidence=0.85))
        s.add(Approval(feedback_id=fb["zeta-3"], request_id=req["acme-1"], confidence=0.81))
    result = score(truth, *read_state(url))
    assert result["asked"] == 2 and result["asked_share"] == round(2 / 3, 4)
    assert result["asked_duplicates"] == 1 and result["asked_right_suggestion"] == 1
    assert result["asked_should_be_new"] == 1
    assert result["new_requests"] == 0
    assert "asked a human: 2 (67%)" in format_report(result)


def test_child_environment_is_offline_and_isolated(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.setenv("GTM_FEEDBACK_LLM_MODEL", "some-model")
    monkeypatch.setenv("GTM_FEEDBACK_DATABASE_URL", "postgresql://elsewhere/db")
    env = child_env(tmp_path)
    assert env["GTM_FEEDBACK_HOME"] == str(tmp_path)
    assert env["HF_HUB_OFFLINE"] == "1" and env["GTM_FEEDBACK_EMBEDDER"] == "local"
    for key in ("OPENAI_API_KEY", "GTM_FEEDBACK_LLM_MODEL", "GTM_FEEDBACK_DATABASE_URL"):
        assert key not in env
