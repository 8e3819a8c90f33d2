"""Dagster resources for embeddings, the vector index and the LLM.

Small shells around the runtime's part builders (`gtm_feedback_dagster.runtime`), so a run
builds its clients exactly as the CLI and the intake service do. Which provider is bound is
decided once, from the settings, when the code location loads (`resources_for`); secrets are
bound as `dg.EnvVar` only for the providers that need them, so the embedded default runs with no
variable set and no secret ever appears in run config or metadata.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.ai.llm import ChatLLM
from gtm_feedback_dagster.config import (
    OPENAI_API_KEY,
    UPSTASH_VECTOR_REST_TOKEN,
    UPSTASH_VECTOR_REST_URL,
    Settings,
    load_settings,
)
from gtm_feedback_dagster.runtime import build_embedder, build_llm, local_index_from_table
from gtm_feedback_dagster.vectors.base import VectorIndex


class EmbedderResource(dg.ConfigurableResource):
    """Text embeddings: the packaged all-MiniLM-L6-v2 (`local`, default) or OpenAI
    `text-embedding-3-small` at 384 dimensions (`openai`). One embedder per run, so its token
    usage adds up across the run's calls; the local model itself is loaded once per process."""

    provider: str = Field(default="local", description="local | openai")
    api_key: str | None = Field(default=None, description="OpenAI key (openai only)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL")
    model: str = Field(default="text-embedding-3-small", description="OpenAI embedding model")
    dimensions: int = 384

    _embedder: Embedder | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._embedder = None  # a fresh usage counter per run

    def get(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._build()
        return self._embedder

    def _build(self) -> Embedder:
        if self.provider not in {"local", "openai"}:
            raise dg.Failure(
                f"unknown embedder provider {self.provider!r} (local | openai)", allow_retries=False
            )
        settings = replace(
            load_settings(),
            embedder=self.provider,
            openai_base_url=self.base_url,
            openai_embedding_model=self.model,
        )
        return build_embedder(settings, self.api_key or "")


class VectorIndexResource(dg.ConfigurableResource):
    """The serving vector index: an exact in-process faiss index filled from the
    `request_vectors` table (`local`, default) or Upstash Vector (`upstash`, cosine, 384)."""

    provider: str = Field(default="local", description="local | upstash")
    url: str | None = Field(default=None, description="UPSTASH_VECTOR_REST_URL (upstash only)")
    token: str | None = Field(default=None, description="Upstash token (upstash only)")
    namespace: str = ""

    def open(self, session: Session, model_id: str, dim: int) -> VectorIndex:
        """The index, ready to search vectors of `model_id`."""
        if self.provider == "local":
            return local_index_from_table(session, model_id, dim)
        if self.provider == "upstash":
            if not self.url or not self.token:
                raise dg.Failure(
                    "the upstash vector index needs UPSTASH_VECTOR_REST_URL and "
                    "UPSTASH_VECTOR_REST_TOKEN",
                    allow_retries=False,
                )
            from gtm_feedback_dagster.vectors.upstash_index import UpstashIndex

            return UpstashIndex(url=self.url, token=self.token, namespace=self.namespace, dim=dim)
        raise dg.Failure(
            f"unknown vector index provider {self.provider!r} (local | upstash)",
            allow_retries=False,
        )


class LLMResource(dg.ConfigurableResource):
    """The OpenAI-compatible chat model for judging matches and drafting requests. Without a
    model (the default) `get()` is None and routing takes its deterministic, calibrated path."""

    model: str | None = Field(default=None, description="chat model; empty disables the LLM")
    api_key: str | None = None
    base_url: str | None = None

    _llm: ChatLLM | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._llm = None

    def get(self) -> ChatLLM | None:
        if self._llm is None:
            settings = replace(load_settings(), llm_model=self.model, openai_base_url=self.base_url)
            self._llm = build_llm(settings, self.api_key)
        return self._llm


def resources_for(settings: Settings) -> dict[str, Any]:
    """The AI resources for the configured providers."""
    if settings.embedder == "openai":
        embedder = EmbedderResource(
            provider="openai",
            api_key=dg.EnvVar(OPENAI_API_KEY),
            base_url=settings.openai_base_url,
            model=settings.openai_embedding_model,
        )
    else:
        embedder = EmbedderResource(provider="local")
    if settings.vector_index == "upstash":
        index = VectorIndexResource(
            provider="upstash",
            url=dg.EnvVar(UPSTASH_VECTOR_REST_URL),
            token=dg.EnvVar(UPSTASH_VECTOR_REST_TOKEN),
            namespace=settings.upstash_namespace,
        )
    else:
        index = VectorIndexResource(provider="local")
    if settings.llm_model:
        llm = LLMResource(
            model=settings.llm_model,
            api_key=dg.EnvVar(OPENAI_API_KEY),
            base_url=settings.openai_base_url,
        )
    else:
        llm = LLMResource()
    return {"embedder": embedder, "vector_index": index, "llm": llm}
