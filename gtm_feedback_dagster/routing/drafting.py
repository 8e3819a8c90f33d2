"""A new request drafted from a customer's pain text without an LLM.

Deterministic, so a rerun drafts the same request. Sales notes open with context ("Call notes:",
"Had a call with Acme this morning.") and close with severity ("Dealbreaker for the renewal."),
so sentences are scored: ones that state the need ("they want…", "can't…", "any plans for…")
win, context and severity asides lose. The title is the best sentence's need, trimmed at a word
boundary; the description is the best two sentences in their original order (≤ 500 characters);
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


# "Call notes:", "Follow-up email from Garnet:", "Per an email from their CFO:" — a short label
# before a colon says where the note came from, not what the customer needs.
_LABEL = re.compile(r"^\s*([^:.!?]{1,60}):\s+(?=\S)")
_ASK_LEAD = re.compile(
    r"^(?:the ask(?: is)?|ask|apparently|honestly|basically|so|also)?[\s:,]*"
    r"(?:what they (?:really )?(?:want|need) is\s+|(?:the )?request is(?: basically)?\s+|"
    r"they(?:'re| are) asking for\s+(?:a way to\s+)?|"
    r"(?:i )?told them (?:i'd|i would|we'd) (?:check|look) (?:on|into)\s+|"
    r"(?:they |procurement )?asked (?:whether|if) we (?:have|support|plan)\s+)?"
    r"(?:(?:they(?:'d| would)?|we|customers?|folks(?: at \w+)?|their [\w ]{1,30}?)?\s*"
    r"(?:really |still |just |also )?"
    r"(?:want(?:s|ed)?|need(?:s|ed)?|would (?:love|like)|'d (?:love|like)|"
    r"(?:are |is )?(?:looking for|asking for|hoping for)|keep(?:s)? (?:coming back to|asking for)|"
    r"(?:any plans for|anything on the roadmap for|can we get(?: them)?|"
    r"hoping we can (?:ship|get|add)))\s+)?(?:to have |to get |a way to |an? |the )?",
    re.IGNORECASE,
)
_NEED_CUES = re.compile(
    r"\b(?:want|need|ask|looking for|hoping|would love|would like|keep coming back|any plans|"
    r"roadmap|can we get|can't|cannot|can not|unable|no way to|missing|lack|problem is|"
    r"pain point|gripe|struggle|stuck|fail|break|lose|lost|confus|manual|by hand)",
    re.IGNORECASE,
)
_ASK_CUES = re.compile(
    r"\b(?:want|need|ask|looking for|hoping|would love|would like|keep coming back|any plans|"
    r"roadmap|can we get|check on|asked whether|asked if)",
    re.IGNORECASE,
)
_ASIDE_CUES = re.compile(
    r"\b(?:calls?|demos?|onsite|on-site|emailed about|pinged|qbr|review|meeting|ticket|"
    r"slack channel|mentioned|raised|came up|asked about this|shared a screenshot|competitor|"
    r"looker|tableau|power bi|renewal|blocker|dealbreaker|deal breaker|nice to have|wish-list|"
    r"priority|not urgent|flagging|end of (?:the )?quarter|an answer|an update|procurement|"
    r"whether it's on|workaround|stopgap|for now|displace)\b",
    re.IGNORECASE,
)


_TRAILING = re.compile(
    r"\\s+(?:on the roadmap|this (?:half|quarter|year)|soon|asap|for them)\\s*$", re.IGNORECASE
)


_FILLER = re.compile(
    r"^(?:honestly|today|basically|apparently|also|so|right now|currently)[,:]?\s+"
    r"|^they told me (?:that )?(?=they )",
    re.IGNORECASE,
)


def _capitalize(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:] if sentence else sentence


def _strip_label(sentence: str) -> str:
    match = _LABEL.match(sentence)
    if match and len(match.group(1).split()) <= 8:
        return sentence[match.end() :]
    return sentence


def _score(sentence: str) -> int:
    words = len(sentence.split())
    score = min(words, 14)
    if _NEED_CUES.search(sentence):
        score += 8
    if _ASK_CUES.search(sentence):
        score += 4
    if _ASIDE_CUES.search(sentence):
        score -= 12
    if words <= 3:
        score -= 6
    return score


def _ranked(text: str) -> list[tuple[int, int, str]]:
    """(score, position, sentence) best first; label prefixes removed."""
    parts = [_strip_label(_LEAD_IN.sub("", part)) for part in sentences(text)]
    ranked = [(_score(part), pos, part) for pos, part in enumerate(parts) if part.strip()]
    return sorted(ranked, key=lambda item: (-item[0], item[1]))


def _need_phrase(sentence: str) -> str:
    """ "They want delete propagation from sources." -> "delete propagation from sources"."""
    stripped = _ASK_LEAD.sub("", sentence, count=1).strip()
    return stripped if len(stripped) >= TITLE_MIN else sentence


def draft_title(pain: str) -> str:
    """A clean title from the sentence that best states the need, 10–200 characters."""
    text = _LEAD_IN.sub("", _squash(pain))
    ranked = _ranked(text)
    asks = [
        item
        for item in ranked
        if _ASK_CUES.search(item[2]) and not _ASIDE_CUES.search(item[2]) and item[0] > 0
    ]
    best = (asks or ranked)[0][2] if ranked else text
    best = _need_phrase(best) if asks else best
    best = _FILLER.sub("", _TRAILING.sub("", best.rstrip(" .!?"))).strip()
    clause = _CLAUSE_BREAK.split(best)[0].strip()
    title = clause if len(clause) >= TITLE_MIN else best
    if len(title) < TITLE_MIN:
        title = text  # very short sentences: take more of the text
    title = _cut_at_word(title, TITLE_TARGET).rstrip(" .!?,;:")
    title = title.strip("\"'“”‘’ ")
    if len(title) < TITLE_MIN:
        title = f"Customer request: {title}" if title else "Customer request without details"
    title = title[0].upper() + title[1:]
    return _cut_at_word(title, TITLE_MAX)


def draft_description(pain: str) -> str:
    """The two most informative sentences, in their original order, at most 500 characters."""
    text = _squash(pain)
    ranked = _ranked(text)
    if len(ranked) <= 2:
        ordered = sorted(ranked, key=lambda item: item[1])
        kept = " ".join(_capitalize(part) for _, _, part in ordered) or text
    else:
        best = sorted(ranked[:2], key=lambda item: item[1])
        kept = " ".join(_capitalize(part) for _, _, part in best)
    kept = _capitalize(kept)
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
