"""Plain rows an area insight report is computed from (no database types)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

# Rows are NamedTuples: a report loads tens of thousands of them, and a tuple is built several
# times faster than a frozen dataclass.


class AccountRow(NamedTuple):
    id: int
    name: str
    arr: float = 0.0
    is_enterprise: bool = False
    region: str | None = None
    industry: str | None = None
    territory: str | None = None
    segment: str | None = None
    sub_segment: str | None = None


class OpportunityRow(NamedTuple):
    id: int
    account_id: int
    arr: float = 0.0
    stage: str | None = None


class RequestRow(NamedTuple):
    id: int
    slug: str
    title: str
    status: str = "open"
    created_at: datetime | None = None
    shipped_at: datetime | None = None


class FeedbackRow(NamedTuple):
    id: int
    request_id: int
    account_id: int | None
    severity: str | None
    opportunity_id: int | None = None
    created_at: datetime | None = None


@dataclass
class AreaData:
    """Everything one area's report needs, loaded with a few set-based queries."""

    area_id: int
    slug: str
    name: str
    requests: list[RequestRow]  # every non-merged request tagged with the area
    feedback: list[FeedbackRow]  # feedback attached to those requests
    accounts: dict[int, AccountRow]
    opportunities: dict[int, OpportunityRow] = field(default_factory=dict)
    # Stored related-graph edges (request_id, related_id, similarity) of the area's requests.
    edges: list[tuple[int, int, float]] = field(default_factory=list)
    # Per open request: its title and its entries' text (for themes when the graph has none).
    texts: dict[int, str] = field(default_factory=dict)


ThemeNamer = Callable[[list[str]], str | None]
