"""A new request drafted from a customer's pain text without an LLM.

Deterministic, so a rerun drafts the same request: the title is the first clause of the text,
trimmed at a word boundary; the description is the text cut to two sentences / 500 characters;
the areas are the ones most common among the nearest existing requests.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from gtm_feedback_dagster.ai.llm import ChatLLM, draft_request
from gtm_feedback_dagster.routing.candidates import ScoredCandidate

TITLE_MIN, TITLE_MAX = 10, 200
TITLE_TARGET = 90  # titles read best short; the description carries the rest
DESCRIPTION_MAX = 500
AREA_VOTE_DEPTH = 5

# "Customer says:", "Feedback:", "Acme:" style lead-ins carry no meaning for a title.
_LEAD_IN = re.compile(
    r"^\s*(?:(?:customer|client|prospect|feedback|note|pain|request|ask)\s*(?:says|said|asks|"
    r"asked|wants|wanted)?\s*[:\-–—]\s*)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_CLAUSE_BREAK = re.compile(r"\s*(?:[;:–—]|\s-\s|,\s+(?:but|because|so|which|since|as)\s)\s*")


@dataclass(frozen=True)
class Draft:
    title: str
    description: str
    area_slugs: tuple[str, ...]
    method: str  # llm | deterministic


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _cut_at_word(text: str, limit: int, ellipsis: str = "") -> str:
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    cut = text[:room]
    if " " in cut and not text[room : room + 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—") + ellipsis


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(_squash(text)) if s.strip()]


def draft_title(pain: str) -> str:
    """A clean title from the first sentence's first clause, 10–200 characters."""
    text = _LEAD_IN.sub("", _squash(pain))
    first = sentences(text)[0] if sentences(text) else text
    clause = _CLAUSE_BREAK.split(first)[0].strip()
    title = clause if len(clause) >= TITLE_MIN else first
    if len(title) < TITLE_MIN:
        title = text  # very short sentences: take more of the text
    title = _cut_at_word(title, TITLE_TARGET).rstrip(" .!?,;:")
    title = title.strip("\"'“”‘’ ")
    if len(title) < TITLE_MIN:
        title = f"Customer request: {title}" if title else "Customer request without details"
    title = title[0].upper() + title[1:]
    return _cut_at_word(title, TITLE_MAX)


def draft_description(pain: str) -> str:
    """The pain text as at most two sentences and 500 characters."""
    text = _squash(pain)
    kept = " ".join(sentences(text)[:2]) or text
    return _cut_at_word(kept, DESCRIPTION_MAX, ellipsis="…")


def vote_areas(
    candidates: Sequence[ScoredCandidate], all_area_slugs: Sequence[str]
) -> tuple[str, ...]:
    """The area most common among the nearest requests (ties: higher summed similarity, then
    slug); the first area when there are no neighbours."""
    votes: Counter[str] = Counter()
    weight: Counter[str] = Counter()
    for cand in candidates[:AREA_VOTE_DEPTH]:
        for slug in cand.request.area_slugs:
            if slug in all_area_slugs:
                votes[slug] += 1
                weight[slug] += cand.similarity
    if votes:
        best = sorted(votes, key=lambda s: (-votes[s], -weight[s], s))[0]
        return (best,)
    if not all_area_slugs:
        raise ValueError("cannot create a request: there are no product areas yet")
    return (all_area_slugs[0],)


def deterministic_draft(
    pain: str, candidates: Sequence[ScoredCandidate], all_area_slugs: Sequence[str]
) -> Draft:
    return Draft(
        title=draft_title(pain),
        description=draft_description(pain),
        area_slugs=vote_areas(candidates, all_area_slugs),
        method="deterministic",
    )


def draft_new_request(
    pain: str,
    candidates: Sequence[ScoredCandidate],
    areas: Sequence[tuple[str, str, str]],
    llm: ChatLLM | None = None,
) -> Draft:
    """LLM draft when configured and valid, else the deterministic one. `areas` are
    (slug, name, description) of every product area, in their canonical order."""
    slugs = [a[0] for a in areas]
    if llm is not None:
        drafted = draft_request(llm, pain, areas)
        if drafted is not None:
            return Draft(drafted.title, drafted.description, drafted.area_slugs, "llm")
    return deterministic_draft(pain, candidates, slugs)
