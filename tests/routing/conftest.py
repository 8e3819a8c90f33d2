"""Fixtures for routing tests: a routing environment on a handmade data set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.routing.confidence import CalibratedScorer
from gtm_feedback_dagster.routing.engine import RoutingEnv, ensure_request_vectors
from gtm_feedback_dagster.runtime import local_index_from_table
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.vectors.base import VectorIndex

EnvFactory = Callable[..., RoutingEnv]


@pytest.fixture
def make_env(tmp_path: Path) -> EnvFactory:
    """`make_env(url, embedder, auto=0.9, ask=0.8, index=None, llm=None)`: a RoutingEnv whose
    index is filled from the table (local default) unless one is given."""

    def make(
        url: str,
        embedder: Embedder,
        auto: float = 0.90,
        ask: float = 0.80,
        index: VectorIndex | None = None,
        llm: object = None,
    ) -> RoutingEnv:
        settings = Settings(
            home=tmp_path, database_url=url, auto_attach_threshold=auto, ask_threshold=ask
        )

        def session():  # type: ignore[no-untyped-def]
            return session_scope(url)

        if index is None:
            with session() as s:
                index = local_index_from_table(s, embedder.model_id, embedder.dim)
        ensure_request_vectors(session, embedder, index)
        return RoutingEnv(
            settings=settings,
            session=session,
            embedder=embedder,
            index=index,
            scorer=CalibratedScorer(),
            llm=llm,  # type: ignore[arg-type]
        )

    return make
