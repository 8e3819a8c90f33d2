"""A lost or reset Upstash index is refilled from the table before routing decides, so a
near-copy of an existing request is never made a new request for want of a vector."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.search import ensure_request_vectors, search_requests
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.vectors.upstash_index import UpstashIndex
from tests.routing.handmade import seed_requests
from tests.standins.upstash_standin import UpstashStandin


class CountingEmbedder:
    """The real model, counting what it is asked to embed."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.texts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> Any:
        self.texts += len(texts)
        return self.inner.embed(texts)


def _sessions(url: str) -> Callable[[], AbstractContextManager[Session]]:
    return lambda: session_scope(url)


def test_reset_index_is_refilled_from_the_table_without_re_embedding(
    sqlite_url: str, upstash_standin: UpstashStandin, local_embedder: LocalEmbedder
) -> None:
    seed_requests(sqlite_url)
    index = UpstashIndex(url=upstash_standin.url, token="upstash-token", retries=0, dim=384)
    embedder = CountingEmbedder(local_embedder)
    embedded = ensure_request_vectors(_sessions(sqlite_url), embedder, index)  # type: ignore[arg-type]
    assert embedded > 0 and index.count() == embedded
    first_texts = embedder.texts

    # The index is emptied behind our back (an index reset).
    index.delete(list(range(1, 1000)))
    assert index.count() == 0

    assert ensure_request_vectors(_sessions(sqlite_url), embedder, index) == 0  # type: ignore[arg-type]
    assert index.count() == embedded  # refilled
    assert embedder.texts == first_texts  # from the stored vectors, not the model
    with session_scope(sqlite_url) as session:
        top = search_requests(
            session, local_embedder, index, CalibratedScorer(), "export dashboards to PDF", limit=1
        )
    assert top and top[0].request.title == "Export dashboards to PDF"
