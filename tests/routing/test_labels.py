"""The deployment's labels: which human decisions count (and which do not), merged requests
followed, conflicts left out, and the examples scored exactly as routing scores an entry."""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, update

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.core.calibration import (
    CandidateText,
    content_words,
    default_params,
    feature_rows,
)
from gtm_feedback_dagster.core.text import query_text
from gtm_feedback_dagster.routing.candidates import ROUTING_TOP_K
from gtm_feedback_dagster.routing.engine import ensure_request_vectors
from gtm_feedback_dagster.routing.labels import collect_labels, score_labels, split_of
from gtm_feedback_dagster.runtime import local_index_from_table
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Request, RequestVector
from gtm_feedback_dagster.vectors.base import VectorIndex
from tests.routing.labelled import (
    add_attached,
    add_declined,
    decline,
    seed_world,
    texts_for,
)

PDF = "Export dashboards to PDF"


def test_labels_come_from_human_decisions_only(sqlite_url: str) -> None:
    w = seed_world(sqlite_url)
    pdf, ip, sso = w.rid("Export dashboards"), w.rid("IP allow"), w.rid("SAML")
    reports, audit = w.rid("Scheduled email"), w.rid("Audit log")

    approved = add_attached(w, "Acme wants dashboards as PDF", pdf, "approved")
    manual = add_attached(w, "Globex needs an IP allowlist", ip, "manual")
    declined = add_declined(w, "Initech wants SSO with Google", sso)
    # Declined for one request, then attached to another in triage: both labels hold.
    moved = add_attached(w, "Hooli wants the audit log as CSV", audit, "manual")
    decline(w, moved, reports)
    # Declined, then attached to that very request in triage: people disagree - left out.
    disputed = add_attached(w, "Stark wants reports by email", reports, "manual")
    decline(w, disputed, reports)
    # Not labels: routing's own decisions, an unanswered or expired question, an empty text.
    auto = add_attached(w, "Wayne wants PDF exports", pdf, "auto")
    created = add_attached(w, "Tyrell wants a dark mode", pdf, "new_request")
    decline(w, auto, sso, status="expired")
    decline(w, created, ip, status="pending")
    blank = add_attached(w, "   ", ip, "manual")

    with session_scope(sqlite_url) as session:
        labels = collect_labels(session)
    assert labels.positives == {approved: pdf, manual: ip, moved: audit}
    assert labels.negatives == {declined: {sso}, moved: {reports}}
    assert labels.conflicts == 1
    assert labels.entries == 5  # approved, manual, declined, moved, disputed
    assert labels.negative_count == 2
    assert set(labels.texts) == {approved, manual, declined, moved}
    assert auto not in labels.texts and created not in labels.texts and blank not in labels.texts


def test_a_label_on_a_merged_request_follows_it_to_the_survivor(sqlite_url: str) -> None:
    w = seed_world(sqlite_url)
    pdf, reports, audit = w.rid("Export dashboards"), w.rid("Scheduled email"), w.rid("Audit")
    on_duplicate = add_attached(w, "Acme wants reports emailed weekly", reports, "approved")
    declined = add_declined(w, "Globex wants the audit trail", reports)
    # reports merged into audit, audit into pdf (a chain, as old imports can leave it), with the
    # entries and answers left on the duplicate.
    with session_scope(sqlite_url) as session:
        for duplicate, target in ((reports, audit), (audit, pdf)):
            session.execute(
                update(Request)
                .where(Request.id == duplicate)
                .values(status="merged", merged_into_id=target)
            )
    with session_scope(sqlite_url) as session:
        labels = collect_labels(session)
    assert labels.positives == {on_duplicate: pdf}
    assert labels.negatives == {declined: {pdf}}


def test_examples_are_scored_as_routing_scores_the_entry(
    sqlite_url: str, local_embedder: LocalEmbedder
) -> None:
    w = seed_world(sqlite_url)
    pdf, sso = w.rid("Export dashboards"), w.rid("SAML")
    text = texts_for(PDF)[0]
    attached = add_attached(w, text, pdf, "approved")
    declined = add_declined(w, "Acme needs single sign-on with Okta for everyone", sso)
    far = add_declined(w, "Acme wants offline mobile maps", sso)
    depth = default_params().rerank_top_k

    # The serving index has every request; then half the stored vectors go (a request edited
    # since the last sync): the refit embeds those itself, and the cosines stay the same.
    index = _serving_index(sqlite_url, local_embedder)
    with session_scope(sqlite_url) as session:
        session.execute(delete(RequestVector).where(RequestVector.request_id % 2 == 0))
    with session_scope(sqlite_url) as session:
        labels = collect_labels(session)
        examples = score_labels(session, local_embedder, labels, depth=depth)

    by_kind = {(e.entry_id, e.kind): e for e in examples}
    assert set(by_kind) == {
        (attached, "attached"),
        (attached, "without_request"),
        (declined, "rejected"),
        (far, "rejected"),  # 8 requests: every one is among the scored rows
    }

    # The attached entry against the serving index: same candidates, order, cosines, features.
    query = local_embedder.embed([query_text(text)])
    (hits,) = index.search(query, ROUTING_TOP_K)
    ex = by_kind[(attached, "attached")]
    assert ex.request_ids == tuple(h.id for h in hits)
    assert np.allclose(ex.scores, [h.score for h in hits], atol=1e-5)
    with session_scope(sqlite_url) as session:
        cands = [
            CandidateText.of(r.title, r.description)
            for r in (session.get(Request, i) for i in ex.request_ids[:depth])
            if r is not None
        ]
    expected = feature_rows(content_words(text), ex.scores, cands, rows=depth)
    assert np.allclose(ex.rows, expected)
    assert ex.request_ids[0] == pdf and ex.label == pdf
    rows, y = ex.targets()
    assert len(rows) == len(ex.rows) and y.tolist() == [1.0] + [0.0] * (len(y) - 1)

    # Without its request: the same entry, a catalogue without PDF export, nothing right.
    without = by_kind[(attached, "without_request")]
    assert pdf not in without.request_ids
    assert without.targets()[1].sum() == 0
    # Declined: only the declined request's row is labelled, as a negative.
    rejected = by_kind[(declined, "rejected")]
    rows, y = rejected.targets()
    assert len(rows) == 1 and y.tolist() == [0.0]
    assert all(e.split == split_of(e.entry_id) for e in examples)


def _serving_index(url: str, embedder: LocalEmbedder) -> VectorIndex:
    """The index routing searches, after routing's own vector sync."""

    def session():  # type: ignore[no-untyped-def]
        return session_scope(url)

    with session() as s:
        index = local_index_from_table(s, embedder.model_id, embedder.dim)
    ensure_request_vectors(session, embedder, index)
    return index


def test_split_is_stable_and_close_to_60_20_20() -> None:
    splits = [split_of(i) for i in range(1, 2001)]
    assert splits == [split_of(i) for i in range(1, 2001)]
    shares = {name: splits.count(name) / len(splits) for name in ("train", "validation", "test")}
    assert abs(shares["train"] - 0.6) < 0.04
    assert abs(shares["validation"] - 0.2) < 0.04
    assert abs(shares["test"] - 0.2) < 0.04
