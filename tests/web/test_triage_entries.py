"""The web /triage page's "Feedback to place" section (issue 11 item 4): entries a submitter
declined or left unanswered, attached or turned into a request with one click, through the same
use case as `gtm-feedback triage` (routing/triage.py); a second click changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Approval, Feedback, Request
from tests.web.conftest import make_client, sign_in
from tests.web.support import csrf_of


def _decline(url: str, approval_id: int) -> None:
    """The state "Not a match" leaves with GTM_FEEDBACK_DECLINE_TO=triage (the default)."""
    with session_scope(url) as s:
        s.execute(update(Approval).where(Approval.id == approval_id).values(status="rejected"))


def test_attach_a_triaged_entry_once(web_env: Any) -> None:
    url, seed = web_env
    _decline(url, seed.approval)
    client = make_client()
    sign_in(client)
    page = client.get("/triage")
    assert f'id="entry-{seed.entry}"' in page.text
    assert f"ask-{seed.approval}" not in page.text
    csrf = csrf_of(page.text)
    data = {"entry": seed.entry, "request": seed.base.dark_mode, "csrf": csrf}
    first = client.post("/triage/entry-attach", data=data)
    assert first.status_code == 303 and "attached" in first.headers["location"]
    second = client.post("/triage/entry-attach", data=data)
    assert second.status_code == 303 and "already" in second.headers["location"]
    with session_scope(url) as s:
        entry = s.get(Feedback, seed.entry)
        assert entry is not None
        assert (entry.status, entry.match_type, entry.request_id) == (
            "routed",
            "manual",
            seed.base.dark_mode,
        )
    assert f'id="entry-{seed.entry}"' not in client.get("/triage").text


def test_create_from_a_triaged_entry_and_bad_input(web_env: Any, local_embedder: Any) -> None:
    url, seed = web_env
    _decline(url, seed.approval)
    client = make_client(embedder=local_embedder)
    sign_in(client)
    csrf = csrf_of(client.get("/triage").text)
    bad = client.post(
        "/triage/entry-attach", data={"entry": seed.entry, "request": "999999", "csrf": csrf}
    )
    assert bad.status_code == 400
    assert client.post("/triage/entry-create", data={"entry": "x", "csrf": csrf}).status_code == 400
    r = client.post("/triage/entry-create", data={"entry": seed.entry, "csrf": csrf})
    assert r.status_code == 303 and "created" in r.headers["location"]
    with session_scope(url) as s:
        entry = s.get(Feedback, seed.entry)
        assert entry is not None and entry.match_type == "new_request"
        assert s.get(Request, entry.request_id) is not None
        created = entry.request_id
    again = client.post("/triage/entry-create", data={"entry": seed.entry, "csrf": csrf})
    assert again.status_code == 303 and "already" in again.headers["location"]
    with session_scope(url) as s:
        entry = s.get(Feedback, seed.entry)
        assert entry is not None and entry.request_id == created
