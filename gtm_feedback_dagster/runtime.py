"""The runtime: the clients of one process, built once from the settings.

The CLI, the intake service and the Dagster resources all build their parts here, the same
way: the app database's sessions, the embedder, the serving vector index, the LLM and the Slack
client. Each part is built on first use (the CLI's `requests list` never loads the model) and
then kept for the life of the process.

Layering: this module sits under the use cases and over the providers (`store/`, `ai/`,
`vectors/`, `messaging/`); it never imports a use case, so every feature can take a `Runtime`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from gtm_feedback_dagster.config import Secrets, Settings, load_secrets, load_settings
from gtm_feedback_dagster.store import db
from gtm_feedback_dagster.store.vectors import load_matrix, vectors_fingerprint

if TYPE_CHECKING:
    from gtm_feedback_dagster.ai.embedders import Embedder
    from gtm_feedback_dagster.ai.llm import ChatLLM
    from gtm_feedback_dagster.messaging.slack_client import SlackClient
    from gtm_feedback_dagster.vectors.base import VectorIndex


# -- part builders: one place per provider, used by the Runtime and by the Dagster resources --


def build_embedder(settings: Settings, openai_api_key: str | None) -> Embedder:
    from gtm_feedback_dagster.ai import embedders

    return embedders.build_embedder(settings, openai_api_key)


def build_llm(settings: Settings, openai_api_key: str | None) -> ChatLLM | None:
    """The configured LLM, or None (deterministic fallbacks) without a model or a key."""
    if not settings.llm_model or not openai_api_key:
        return None
    from gtm_feedback_dagster.ai.llm import ChatLLM

    return ChatLLM(
        api_key=openai_api_key, model=settings.llm_model, base_url=settings.openai_base_url
    )


def build_slack(settings: Settings, bot_token: str | None) -> SlackClient | None:
    """The Slack Web API client, or None (outbox-only mode) without a bot token."""
    if settings.slack_mode == "outbox":
        return None
    if not bot_token:
        if settings.slack_mode == "api":
            raise ValueError("GTM_FEEDBACK_SLACK_MODE=api but SLACK_BOT_TOKEN is not set")
        return None
    from gtm_feedback_dagster.messaging.slack_client import SlackClient

    return SlackClient(bot_token, base_url=settings.slack_base_url)


def local_index_from_table(session: Session, model_id: str, dim: int) -> VectorIndex:
    """An exact faiss index of the stored vectors of `model_id` (vectors of another model live
    in another space and are left out)."""
    from gtm_feedback_dagster.vectors.faiss_index import FaissIndex

    index = FaissIndex(dim=dim)
    ids, matrix, stored_dim = load_matrix(session, model_id)
    if ids:
        if stored_dim != dim:
            raise ValueError(
                f"stored vectors of {model_id} have dimension {stored_dim}, expected {dim}"
            )
        index.upsert(ids, matrix)
    return index


def open_vector_index(
    settings: Settings,
    session: Session,
    model_id: str,
    dim: int,
    upstash_url: str | None,
    upstash_token: str | None,
) -> VectorIndex:
    """The configured index, ready to search: local faiss filled from `request_vectors`, or
    Upstash Vector."""
    if settings.vector_index == "local":
        return local_index_from_table(session, model_id, dim)
    from gtm_feedback_dagster.vectors.base import build_vector_index

    return build_vector_index(settings, dim=dim, url=upstash_url, token=upstash_token)


class IndexCache:
    """A long-lived process keeps one serving index and rebuilds a local one only when the
    stored vectors changed (row count or newest update differ)."""

    def __init__(self, settings: Settings, secrets: Secrets) -> None:
        self.settings = settings
        self._secrets = secrets
        self._lock = threading.Lock()
        self._key: Any = None
        self._index: VectorIndex | None = None

    def get(self, session: Session, model_id: str, dim: int) -> VectorIndex:
        remote = self.settings.vector_index != "local"
        key = (model_id, dim, None if remote else vectors_fingerprint(session, model_id))
        with self._lock:
            if self._index is None or key != self._key:
                self._index = open_vector_index(
                    self.settings,
                    session,
                    model_id,
                    dim,
                    self._secrets.upstash_url,
                    self._secrets.upstash_token,
                )
                self._key = key
            return self._index


@dataclass
class Runtime:
    """The clients of one process. Build it with `Runtime.from_settings()`."""

    settings: Settings
    secrets: Secrets = field(default_factory=Secrets, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, secrets: Secrets | None = None
    ) -> Runtime:
        return cls(
            settings=settings or load_settings(),
            secrets=secrets if secrets is not None else load_secrets(),
        )

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return db.session_factory(self.settings.database_url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error."""
        with db.session_scope(self.settings.database_url) as session:
            yield session

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings, self.secrets.openai_api_key)

    @cached_property
    def llm(self) -> ChatLLM | None:
        return build_llm(self.settings, self.secrets.openai_api_key)

    @cached_property
    def slack(self) -> SlackClient | None:
        return build_slack(self.settings, self.secrets.slack_bot_token)

    @cached_property
    def _index_cache(self) -> IndexCache:
        return IndexCache(self.settings, self.secrets)

    def vector_index(self, session: Session, model_id: str, dim: int) -> VectorIndex:
        """The serving index for vectors of `model_id`, kept across calls."""
        return self._index_cache.get(session, model_id, dim)
