"""LLM tasks for people reading the product: Slack thread summaries, theme names and report
narratives (the match judge and request drafting are in `ai/llm.py`, with the client).

Same rules as every LLM task: user text travels only inside the untrusted JSON data block, every
answer is validated by a pydantic model (`ai.llm.ask`), and an answer that does not fit (or a
failed call) returns None so the caller takes its deterministic path. A narrative may not state a
number the facts do not hold.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationInfo, field_validator

from gtm_feedback_dagster.ai.llm_client import (
    _DATA_RULE,
    Answer,
    ChatLLM,
    CleanText,
    _clip,
    _data_block,
    _is_number,
    ask,
    sentence_count,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Thread summary, theme name, narrative
# --------------------------------------------------------------------------------------------

SUMMARY_MAX = 2000

_SUMMARY_SYSTEM = f"""You read a Slack conversation in which colleagues discuss a customer and \
state the customer's pain point.

{_DATA_RULE}

Write the core problem or desired capability in one to three sentences: concrete enough to tell it \
apart from similar issues, about the product rather than the conversation, without customer \
names unless they are essential.

Answer with one JSON object and nothing else: {{"summary": "..."}}"""


class SummaryAnswer(Answer):
    summary: CleanText

    @field_validator("summary")
    @classmethod
    def _length(cls, value: str) -> str:
        if not value:
            raise ValueError("summary is empty")
        if len(value) > SUMMARY_MAX:
            raise ValueError(f"summary is {len(value)} characters")
        return value


def summarize_thread(llm: ChatLLM, messages: Sequence[str]) -> str | None:
    """The customer pain in a thread, 1–3 sentences; None if no text or the answer is unusable."""
    texts = [m.strip() for m in messages if isinstance(m, str) and m.strip()]
    if not texts:
        return None
    # Bound the prompt: the thread's opening message plus the latest ones carry the pain.
    if len(texts) > 40:
        texts = texts[:1] + texts[-39:]
    data = {"messages": [f"Message {i + 1}: {_clip(t, 2000)}" for i, t in enumerate(texts)]}
    answer = ask(llm, "summary", _SUMMARY_SYSTEM, _data_block(data), SummaryAnswer)
    return answer.summary if answer is not None else None


_THEME_SYSTEM = f"""You name the common theme of a group of feature request titles.

{_DATA_RULE}

Give a theme name of two to six words in title case, without quotes or trailing punctuation, \
naming the shared customer need (e.g. "Single Sign-On Setup").

Answer with one JSON object and nothing else: {{"name": "..."}}"""


class ThemeAnswer(Answer):
    name: CleanText

    @field_validator("name")
    @classmethod
    def _words(cls, value: str) -> str:
        value = value.strip("\"'“”‘’`").rstrip(".!?:;,").strip()
        if not 2 <= len(value.split()) <= 6 or len(value) > 80:
            raise ValueError("name is not 2-6 words")
        return value


def name_theme(llm: ChatLLM, titles: Sequence[str]) -> str | None:
    """A 2–6 word name for what `titles` have in common."""
    items = [_clip(t, 200) for t in titles if isinstance(t, str) and t.strip()][:50]
    if not items:
        return None
    answer = ask(llm, "theme", _THEME_SYSTEM, _data_block({"titles": items}), ThemeAnswer)
    return answer.name if answer is not None else None


NARRATIVE_MAX = 1200

_NARRATIVE_SYSTEM = f"""You write a short summary for a product manager of an insight report \
about one product area: customer demand weighted by revenue.

{_DATA_RULE}

Write two to four plain sentences on what matters most (the biggest revenue at stake, dealbreakers, \
notable trends). Use only the facts in the data. Every number you write must appear in the data \
exactly as given; do not compute new numbers, percentages or totals. No markdown, no lists.

Answer with one JSON object and nothing else: {{"narrative": "..."}}"""

_NUMBER = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%|[kKmMbB](?![A-Za-z]))?")
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "b": 1e9}


def _numbers_in_text(text: str) -> list[tuple[float, float, bool]]:
    """(value, tolerance, is_percent) for each number written in `text`; the tolerance is half a
    unit of the last digit shown, so "$1.2M" matches 1,234,567 but not 1,300,000."""
    found = []
    for m in _NUMBER.finditer(text):
        whole, frac, suffix = m.group(1), m.group(2) or "", (m.group(3) or "").lower()
        value = float(whole.replace(",", "") + frac)
        multiplier = _MULTIPLIERS.get(suffix, 1.0)
        decimals = len(frac) - 1 if frac else 0
        tolerance = 0.5 * (10.0**-decimals) * multiplier
        found.append((value * multiplier, tolerance, suffix == "%"))
    return found


def _fact_numbers(value: Any, out: list[float]) -> None:
    if _is_number(value):
        if math.isfinite(value):
            out.append(float(value))
    elif isinstance(value, str):
        out.extend(v for v, _, _ in _numbers_in_text(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _fact_numbers(k, out)
            _fact_numbers(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _fact_numbers(v, out)


def unsupported_numbers(text: str, facts: Any) -> list[str]:
    """Numbers written in `text` that no fact supports (percentages may match fractions)."""
    known: list[float] = []
    _fact_numbers(facts, known)
    bad = []
    for m, (value, tolerance, is_percent) in zip(
        _NUMBER.finditer(text), _numbers_in_text(text), strict=True
    ):
        candidates = known + ([k * 100 for k in known] if is_percent else [])
        if not any(abs(value - k) <= tolerance + 1e-9 * max(1.0, abs(k)) for k in candidates):
            bad.append(m.group(0))
    return bad


class NarrativeAnswer(Answer):
    narrative: CleanText

    @field_validator("narrative")
    @classmethod
    def _grounded(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise ValueError("narrative is empty")
        if len(value) > NARRATIVE_MAX:
            raise ValueError(f"narrative is {len(value)} characters")
        if sentence_count(value) > 4:
            raise ValueError("narrative has more than four sentences")
        invented = unsupported_numbers(value, (info.context or {}).get("facts", {}))
        if invented:
            raise ValueError(f"numbers not in the facts: {invented[:5]}")
        return value


def write_narrative(llm: ChatLLM, facts: dict) -> str | None:
    """A 2–4 sentence summary of an area report built only from `facts`. An answer that writes a
    number absent from the facts is rejected: put every figure the summary may quote (shares,
    totals, counts) into the facts."""
    if not facts:
        return None
    answer = ask(
        llm, "narrative", _NARRATIVE_SYSTEM, _data_block(facts), NarrativeAnswer, {"facts": facts}
    )
    return answer.narrative if answer is not None else None
