"""LLM tasks on an OpenAI-compatible chat endpoint: match judging and request drafting (thread
summaries, theme names and report narratives are in `ai/llm_reports.py`).

Plain Python, no Dagster. Every task asks for a JSON object and validates it with a pydantic
model (`model_validate_json`: strict types, finite numbers, no lone surrogates, bounded nesting,
the task's own rules in validators); an answer that does not fit returns None and the caller
takes its deterministic path. Nothing the model says can put an unknown request id, an unknown
area or a confidence outside [0, 1] into the data.

A call that fails (429, 5xx, timeout, connection after the client's retries; a run's token
budget spent) raises `LLMUnavailable` from the judge: routing must not decide another way
because the judge is down (`routing.engine` keeps the entry pending, later asks a human).

User text (pain, thread messages, titles, facts) only ever travels inside a JSON data block that
the system prompt declares untrusted; JSON encoding (with "<" escaped) means the text cannot close
the block. That limits prompt injection to what validation allows: it can still sway the choice
among the given candidates, which is why routing keeps a human approval tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field, StrictInt, StrictStr, ValidationInfo, field_validator

from gtm_feedback_dagster.ai.llm_client import (
    _DATA_RULE,
    Answer,
    ChatLLM,
    CleanText,
    LLMError,
    LLMUnavailable,
    _clean,
    _clip,
    _data_block,
    _is_number,
    ask,
    sentence_count,
)

if TYPE_CHECKING:
    from gtm_feedback_dagster.config import Settings

MAX_CANDIDATES = 50

__all__ = [
    "DESCRIPTION_MAX",
    "MAX_CANDIDATES",
    "TITLE_MAX",
    "TITLE_MIN",
    "_DATA_RULE",
    "Answer",
    "Candidate",
    "ChatLLM",
    "CleanText",
    "DraftAnswer",
    "JudgeAnswer",
    "JudgeVerdict",
    "LLMError",
    "LLMUnavailable",
    "RequestDraft",
    "_clean",
    "_clip",
    "_data_block",
    "_is_number",
    "ask",
    "build_llm",
    "draft_request",
    "judge_match",
    "sentence_count",
]


# --------------------------------------------------------------------------------------------
# Match judge
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    id: int
    title: str
    description: str
    areas: tuple[str, ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class JudgeVerdict:
    request_id: int | None
    confidence: float
    reason: str


class JudgeAnswer(Answer):
    request_id: StrictInt | None  # strict: "1", 1.0 and true are not ids
    confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)
    reason: CleanText | None = ""

    @field_validator("request_id")
    @classmethod
    def _offered(cls, value: int | None, info: ValidationInfo) -> int | None:
        offered = (info.context or {}).get("candidate_ids")
        if value is not None and offered is not None and value not in offered:
            raise ValueError("request_id is not among the candidates")
        return value


_JUDGE_SYSTEM = f"""You match a customer's pain point to existing feature requests of a B2B \
software product.

{_DATA_RULE}

The data holds "pain" (what the customer needs or struggles with) and "candidates" (existing \
feature requests with id, title, description, product areas and a vector similarity that is only \
a rough hint).

Decide which candidate, if any, describes the same need, and how confident you are:
- 0.9 to 1.0: exactly the same feature or issue
- 0.8 to 0.89: the same feature with minor differences
- 0.7 to 0.79: related but not identical
- 0.5 to 0.69: weak, possibly relevant
- below 0.5: no match
Be conservative: a shared topic or product area is not a match.

Answer with one JSON object and nothing else:
{{"request_id": <the id of the best candidate, copied from the data, or null if none reaches \
0.5>, "confidence": <number between 0 and 1 for that candidate>, "reason": "<one short sentence>"}}"""


def judge_match(llm: ChatLLM, pain: str, candidates: Sequence[Candidate]) -> JudgeVerdict | None:
    """The LLM's best match among `candidates` (at most the first 50) with a rubric confidence;
    None when there is nothing to judge or the answer does not validate. Raises LLMUnavailable
    when the call fails (after the client's retries) or the run's token budget is spent."""
    pain = pain.strip()
    cands = list(candidates)[:MAX_CANDIDATES]
    if not pain or not cands:
        return None
    data = {
        "pain": _clip(pain, 4000),
        "candidates": [
            {
                "id": c.id,
                "title": _clip(c.title, 300),
                "description": _clip(c.description, 600),
                "areas": list(c.areas),
                "vector_similarity": round(float(c.score), 3),
            }
            for c in cands
        ],
    }
    answer = ask(
        llm,
        "judge",
        _JUDGE_SYSTEM,
        _data_block(data),
        JudgeAnswer,
        context={"candidate_ids": {c.id for c in cands}},
        raise_unavailable=True,
    )
    if answer is None:
        return None
    return JudgeVerdict(
        request_id=answer.request_id,
        confidence=float(answer.confidence),
        reason=_clip(answer.reason or "", 500),
    )


# --------------------------------------------------------------------------------------------
# Request drafting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestDraft:
    title: str
    description: str
    area_slugs: tuple[str, ...]


TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX = 10, 200, 500


class DraftAnswer(Answer):
    title: CleanText
    description: CleanText
    area_slugs: list[StrictStr] = Field(min_length=1, max_length=20)

    @field_validator("title")
    @classmethod
    def _title_length(cls, value: str) -> str:
        if not TITLE_MIN <= len(value) <= TITLE_MAX:
            raise ValueError(f"title length {len(value)} outside {TITLE_MIN}-{TITLE_MAX}")
        return value

    @field_validator("description")
    @classmethod
    def _description_shape(cls, value: str) -> str:
        if not 1 <= len(value) <= DESCRIPTION_MAX:
            raise ValueError(f"description length {len(value)} outside 1-{DESCRIPTION_MAX}")
        if sentence_count(value) > 2:
            raise ValueError("description has more than two sentences")
        return value

    @field_validator("area_slugs")
    @classmethod
    def _known_areas(cls, value: list[str], info: ValidationInfo) -> list[str]:
        allowed = (info.context or {}).get("area_slugs")
        unknown = [s for s in value if allowed is not None and s not in allowed]
        if unknown:
            raise ValueError(f"unknown area slugs {unknown[:5]}")
        return list(dict.fromkeys(value))


_DRAFT_SYSTEM = f"""You write a new feature request for a B2B software product from one \
customer's pain point.

{_DATA_RULE}

The data holds "pain" and "areas" (the product areas, each with slug, name and description).

Rules:
- title: 10 to 200 characters, a concise statement of the need or problem (not a solution, not \
a customer name).
- description: one or two sentences, at most 500 characters, describing the pain and its impact \
rather than a solution; leave out customer names and deal details.
- area_slugs: one or more slugs copied exactly from the areas in the data, most relevant first.

Answer with one JSON object and nothing else:
{{"title": "...", "description": "...", "area_slugs": ["..."]}}"""


def draft_request(
    llm: ChatLLM, pain: str, areas: Sequence[tuple[str, str, str]]
) -> RequestDraft | None:
    """A new request drafted from `pain`; areas are (slug, name, description). None when the
    call fails or the answer does not validate (drafting has a deterministic path)."""
    pain = pain.strip()
    allowed = [a[0] for a in areas]
    if not pain or not allowed:
        return None
    data = {
        "pain": _clip(pain, 4000),
        "areas": [
            {"slug": slug, "name": name, "description": _clip(description, 300)}
            for slug, name, description in areas
        ],
    }
    answer = ask(
        llm, "draft", _DRAFT_SYSTEM, _data_block(data), DraftAnswer, {"area_slugs": set(allowed)}
    )
    if answer is None:
        return None
    return RequestDraft(
        title=answer.title, description=answer.description, area_slugs=tuple(answer.area_slugs)
    )


# --------------------------------------------------------------------------------------------


def build_llm(settings: Settings) -> ChatLLM | None:
    """The configured LLM, or None (deterministic fallbacks) unless GTM_FEEDBACK_LLM_MODEL and
    OPENAI_API_KEY are both set."""
    if not settings.llm_enabled or settings.llm_model is None:
        return None
    from gtm_feedback_dagster.config import load_secrets

    api_key = load_secrets().openai_api_key or ""
    return ChatLLM(api_key=api_key, model=settings.llm_model, base_url=settings.openai_base_url)
