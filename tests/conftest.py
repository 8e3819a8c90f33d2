"""Shared pytest fixtures. Keep each fixture small and documented; group by area."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gtm_feedback_dagster.ai.local_model import LocalEmbedder
from tests.standins.openai_standin import OpenAIStandin
from tests.standins.upstash_standin import UpstashStandin

# --- AI and vectors ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The packaged all-MiniLM-L6-v2 model, loaded once for the whole session (≈5 s)."""
    embedder = LocalEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def openai_standin() -> Iterator[OpenAIStandin]:
    """A local OpenAI API (embeddings + chat); point clients at `openai_standin.base_url`."""
    with OpenAIStandin() as server:
        yield server
    assert not server.errors, f"stand-in failed while serving: {server.errors}"


@pytest.fixture
def upstash_standin() -> Iterator[UpstashStandin]:
    """A local 384-dim COSINE Upstash Vector index; point clients at `upstash_standin.url`."""
    with UpstashStandin(dimension=384) as server:
        yield server
    assert not server.errors, f"stand-in failed while serving: {server.errors}"
