"""What one routing run did: the outcome of each entry and the run's figures (Dagster metadata)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gtm_feedback_dagster.store.vectors import RequestForEmbedding


@dataclass
class EntryOutcome:
    entry_id: int
    tier: str  # attach | ask | new | failed | skipped | waiting (for the LLM judge, pending)
    request_id: int | None = None
    confidence: float | None = None
    method: str | None = None
    error: str | None = None
    note: str | None = None  # e.g. "llm unavailable; asked"


@dataclass
class BatchReport:
    requested: int = 0
    outcomes: list[EntryOutcome] = field(default_factory=list)
    requests_embedded: int = 0
    exemplars_embedded: int = 0  # confirmed entries embedded before deciding
    # Product area slug -> ids of the requests whose vectors this run stored (requests it
    # created, and requests it found without a current vector): the `request_embeddings`
    # partitions it changed.
    vectors_written: dict[str, list[int]] = field(default_factory=dict)
    stale_hits: int = 0
    embedding_tokens: int = 0
    llm_tokens: dict[str, int] = field(default_factory=dict)
    llm_token_budget: int | None = None
    llm_budget_hit: bool = False
    llm_unavailable: str | None = None  # the first failure of the judge in this run
    digests: int = 0  # submitters asked several questions in one DM
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    TIERS = ("attach", "ask", "new", "failed", "skipped", "waiting")

    @property
    def counts(self) -> dict[str, int]:
        tiers = Counter(o.tier for o in self.outcomes)
        return {k: tiers.get(k, 0) for k in self.TIERS}

    def wrote_vectors(self, request_id: int, area_slugs: Iterable[str]) -> None:
        for slug in area_slugs:
            ids = self.vectors_written.setdefault(slug, [])
            if request_id not in ids:
                ids.append(request_id)

    def caught_up(self, requests: Sequence[RequestForEmbedding]) -> None:
        """Requests found without a current vector and embedded before deciding."""
        self.requests_embedded = len(requests)
        for request in requests:
            self.wrote_vectors(request.id, request.area_slugs)

    def counts_by_note(self, note: str) -> int:
        return sum(1 for o in self.outcomes if o.note == note)

    @property
    def methods(self) -> dict[str, int]:
        return dict(Counter(o.method for o in self.outcomes if o.method))

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            **{f"tier_{k}": v for k, v in self.counts.items()},
            "methods": self.methods,
            "requests_embedded": self.requests_embedded,
            "confirmed_entries_embedded": self.exemplars_embedded,
            "stale_index_hits": self.stale_hits,
            "question_digests": self.digests,
            "embedding_tokens": self.embedding_tokens,
            "llm_tokens": dict(self.llm_tokens),
            "llm": {
                "calls": self.llm_tokens.get("calls", 0),
                "tokens": self.llm_tokens.get("prompt_tokens", 0)
                + self.llm_tokens.get("completion_tokens", 0),
                "token_budget": self.llm_token_budget or 0,
                "budget_hit": self.llm_budget_hit,
                "unavailable": self.llm_unavailable or "",
            },
            "timings_seconds": {k: round(v, 4) for k, v in self.timings.items()},
        }
