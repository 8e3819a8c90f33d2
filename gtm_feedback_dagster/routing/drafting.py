"""A new request drafted from a customer's pain text without an LLM.

Deterministic, so a rerun drafts the same request. Sales notes open with context ("Call notes:",
"Had a call with Acme this morning.") and close with severity ("Dealbreaker for the renewal."),
so sentences are scored: ones that state the need ("they want…", "can't…", "any plans for…")
win, context and severity asides lose. The title is the best sentence's need, trimmed at a word
boundary; the description is the best two sentences in their original order (≤ 500 characters);
the areas are the ones most common among the nearest existing requests.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gtm_feedback_dagster.ai.llm import ChatLLM, draft_request
from gtm_feedback_dagster.core.calibration import content_words
from gtm_feedback_dagster.core.text import split_sentences, squash_whitespace
from gtm_feedback_dagster.routing.candidates import ScoredCandidate
from gtm_feedback_dagster.routing.names import name_pattern as _name_pattern
from gtm_feedback_dagster.routing.names import without_names

log = logging.getLogger(__name__)

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
_CLAUSE_BREAK = re.compile(r"\s*(?:[;:–—]|\s-\s|,\s+(?:but|because|so|which|since|as)\s)\s*")


@dataclass(frozen=True)
class Draft:
    title: str
    description: str
    area_slugs: tuple[str, ...]
    method: str  # llm | deterministic


# Issue-tracker style text: fenced code and logs, quoted replies, headings, emphasis, links.
_FENCE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)", re.DOTALL)
_QUOTED_LINE = re.compile(r"^\s*>.*$", re.MULTILINE)
_HEADING = re.compile(r"(?:^|(?<=\s))#{1,6}(?=\s)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]{0,200}>")
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)|`+|~~")
_MARKUP_LEFT = re.compile(r"[#*`<>\[\]|{}\\]")


_BREAK = "\u2029"  # a sentence break found in the layout (heading, list item, paragraph)


def strip_markup(text: str) -> str:
    """Plain sentences from markdown-ish text: code blocks and quoted replies dropped, a heading,
    list item or paragraph ends a sentence, emphasis, links (their text kept), URLs and HTML
    tags removed."""
    text = text.replace(_BREAK, " ")
    text = _FENCE.sub(_BREAK, text)
    text = _QUOTED_LINE.sub(_BREAK, text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    text = _LIST_MARK.sub(_BREAK, text)
    text = re.sub(r"^[ \t]*(#{1,6}[ \t]+[^\n]*)$", rf"\1{_BREAK}", text, flags=re.MULTILINE)
    text = _HEADING.sub(_BREAK, text)
    text = re.sub(r"\n[ \t]*\n", _BREAK, text)  # a paragraph
    text = re.sub(r"\n(?=[ \t]*[A-Z])", _BREAK, text)  # a new line that starts a sentence
    text = _EMPHASIS.sub("", text)
    text = _MARKUP_LEFT.sub(" ", text)
    text = re.sub(rf"([.!?])\s*(?:{_BREAK}\s*)+", r"\1 ", text)
    text = re.sub(rf"\s*(?:{_BREAK}\s*)+", ". ", text)
    text = re.sub(r"^[\s.]+", "", squash_whitespace(text))
    text = re.sub(r"([:;,])\.(?=\s|$)", r"\1", text)
    return re.sub(r"\s+([:;,.!?])(?=\s|$)", r"\1", text)


# Sales-note openers: where the note came from, never the need ("Spoke with their Director of
# FP&A today", "Per an email from their CFO, ...", "Had a call with Lumen this morning").
_OPENER = re.compile(
    r"^(?:(?:i |we )?(?:spoke|talked|chatted|met|caught up|synced|connected)\s+(?:with|to)\b|"
    r"per (?:an? |the |their |our )?(?:e-?mail|call|conversation|note|message|chat|ticket)\b|"
    r"(?:had|did|on|during|after|in|from|following)\s+(?:an? |the |our |my |their )?"
    r"(?:call|demo|meeting|qbr|sync|conversation|chat|e-?mail|onsite|workshop|discovery)\b|"
    r"(?:discovery |follow[- ]up |quick )?(?:call|demo|meeting|e-?mail|qbr|sync|notes?)\s+"
    r"(?:with|from|notes?)\b|heard (?:back )?from\b|"
    r"(?:their|the) (?:cfo|cto|ceo|vp|director|head|admin|champion|team)\b[^,.]{0,60}"
    r"\b(?:said|says|told|mentioned|asked|wrote|emailed)\b)",
    re.IGNORECASE,
)
# Instructions addressed to a model are never a title (prompt injection in customer text).
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules?|above|"
    r"previous|system)\b|\bsystem prompt\b|\byou are (?:now |an? )|\bas an ai\b|"
    r"\b(?:assistant|developer|system)\s*:|\bjailbreak\b|\bprompt injection\b|"
    r"\brespond with\b|\boutput (?:only|the)\b|\bset (?:the )?title\b|\btitle (?:it|this)\b",
    re.IGNORECASE,
)


# A title that ends on a connective was cut in the middle of a phrase.
_DANGLING = re.compile(
    r"\s(?:and|or|but|the|a|an|of|to|for|with|in|on|by|from|that|which|so|as|at|into)$",
    re.IGNORECASE,
)


def title_problems(title: str, names: Sequence[str] = ()) -> list[str]:
    """Why `title` is not one a PM would write (empty: it is fine). Checks the deterministic
    draft and an LLM-drafted title before it is stored."""
    problems: list[str] = []
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        problems.append(f"length {len(title)} outside {TITLE_MIN}-{TITLE_MAX}")
    if title != title.strip() or "\n" in title or "\r" in title:
        problems.append("surrounding whitespace or a line break")
    if _MARKUP_LEFT.search(title) or _URL.search(title) or "](" in title:
        problems.append("markup, a link or a URL")
    if _OPENER.search(title):
        problems.append("a sales-note opener")
    if _INJECTION.search(title):
        problems.append("instructions to a model")
    pattern = _name_pattern(names)
    if pattern is not None and pattern.search(title):
        problems.append("a customer or account name")
    if title and (title[-1] in "-–—,;:/&" or title.endswith("…") or _DANGLING.search(title)):
        problems.append("cut off")
    return problems


def _cut_at_word(text: str, limit: int, ellipsis: str = "") -> str:
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    cut = text[:room]
    if " " in cut and not text[room : room + 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—") + ellipsis


# "Call notes:", "Follow-up email from Garnet:", "Per an email from their CFO:" — a short label
# before a colon says where the note came from, not what the customer needs.
_LABEL = re.compile(r"^\s*([^:.!?]{1,60}):\s+(?=\S)")
_ASK_LEAD = re.compile(
    r"^(?:(?:the ask(?: is)?|ask|apparently|honestly|basically|so|also)\b)?[\s:,]*"
    r"(?:what they (?:really )?(?:want|need) is\s+|(?:the )?request is(?: basically)?\s+|"
    r"they(?:'re| are) asking for\s+(?:a way to\s+)?|"
    r"(?:i )?told them (?:i'd|i would|we'd) (?:check|look) (?:on|into)\s+|"
    r"(?:they |procurement )?asked (?:whether|if) we (?:have|support|plan)\s+)?"
    r"(?:(?:they(?:'d| would)?|we|customers?|folks(?: at \w+)?|their [\w ]{1,30}?)?\s*"
    r"(?:really |still |just |also )?"
    r"(?:want(?:s|ed)?|need(?:s|ed)?|would (?:love|like)|'d (?:love|like)|"
    r"(?:are |is )?(?:looking for|asking for|asking about|hoping for)|keep(?:s)? (?:coming back to|asking for)|"
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
    r"\s+(?:on the roadmap|this (?:half|quarter|year)|soon|asap|for them|again)\s*$",
    re.IGNORECASE,
)


_FILLER = re.compile(
    r"^(?:honestly|today|basically|apparently|also|so|right now|currently)[,:]?\s+"
    r"|^they told me (?:that )?(?=they )"
    r"|^(?:the |their )?(?:biggest |main |real )?(?:problem|issue|gripe|pain point|complaint) "
    r"is(?: that)?\s+",
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


def _strip_opener(sentence: str) -> str:
    """ "Per an email from their CFO, they need X" -> "they need X"; a sentence that is only an
    opener ("Spoke with their Director of FP&A today") is kept and scored down."""
    if _OPENER.search(sentence):
        head, sep, rest = sentence.partition(", ")
        if sep and len(head) <= 80 and len(rest) >= TITLE_MIN:
            return rest
    return sentence


def _ranked(text: str) -> list[tuple[int, int, str]]:
    """(score, position, sentence) best first; label prefixes and opener clauses removed."""
    parts = [_strip_opener(_strip_label(_LEAD_IN.sub("", part))) for part in split_sentences(text)]
    ranked = [
        (_score(part) - (20 if _OPENER.search(part) else 0), pos, part)
        for pos, part in enumerate(parts)
        if part.strip()
    ]
    return sorted(ranked, key=lambda item: (-item[0], item[1]))


def _need_phrase(sentence: str) -> str:
    """ "They want delete propagation from sources." -> "delete propagation from sources"."""
    stripped = _ASK_LEAD.sub("", sentence, count=1).strip()
    return stripped if len(stripped) >= TITLE_MIN else sentence


def _title_from(sentence: str, is_ask: bool, text: str, names: Sequence[str]) -> str:
    # Names first: "Sablewood asking about X" has its ask lead only once the name is gone.
    best = without_names(sentence, names)
    best = _need_phrase(best) if is_ask else best
    best = _FILLER.sub("", _TRAILING.sub("", best.rstrip(" .!?"))).strip()
    clause = _CLAUSE_BREAK.split(best)[0].strip()
    title = clause if len(clause) >= TITLE_MIN else best
    if len(title) < TITLE_MIN:
        title = without_names(text, names)  # very short sentences: take more of the text
    title = _cut_at_word(title, TITLE_TARGET).rstrip(" .!?,;:-–—/&")
    while _DANGLING.search(title) and len(title) > TITLE_MIN:
        title = _DANGLING.sub("", title).rstrip(" .!?,;:-–—/&")
    title = title.strip("\"'“”‘’ ").lstrip(".,;:-–—/&)] ")
    if len(title) < TITLE_MIN:
        title = f"Customer request: {title}" if title else FALLBACK_TITLE
    title = title[0].upper() + title[1:]
    return _cut_at_word(title, TITLE_MAX).rstrip(" ,;:-–—/&")


FALLBACK_TITLE = "Customer request without details"


def draft_title(pain: str, names: Sequence[str] = ()) -> str:
    """A clean title from the sentence that best states the need, 10–200 characters: no
    markdown, no customer/account name (`names`), no sales-note opener, never cut mid-word.
    Sentences are tried best first until one gives a title that passes `title_problems`."""
    text = _LEAD_IN.sub("", strip_markup(pain))
    ranked = _ranked(text)
    asks = [
        item
        for item in ranked
        if _ASK_CUES.search(item[2]) and not _ASIDE_CUES.search(item[2]) and item[0] > 0
    ]
    ask_positions = {item[1] for item in asks}
    order = asks + [item for item in ranked if item[1] not in ask_positions]
    if not order:
        order = [(0, 0, text)]
    first = ""
    for _, pos, sentence in order[:8]:
        title = _title_from(sentence, pos in ask_positions, text, names)
        first = first or title
        if not title_problems(title, names):
            return title
    return first if not title_problems(first, names) else FALLBACK_TITLE


def draft_description(pain: str) -> str:
    """The two most informative sentences, in their original order, at most 500 characters
    (markdown, code blocks and quoted replies removed)."""
    text = strip_markup(pain) or squash_whitespace(pain)
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
    candidates: Sequence[ScoredCandidate],
    all_area_slugs: Sequence[str],
    pain: str = "",
    area_texts: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The area of the evidence: the one most common among the nearest requests (ties: higher
    summed similarity), else — no neighbours — the area whose own name and description share
    the most content words with the entry; the first area only when nothing tells them apart."""
    votes: Counter[str] = Counter()
    weight: Counter[str] = Counter()
    for cand in candidates[:AREA_VOTE_DEPTH]:
        for slug in cand.request.area_slugs:
            if slug in all_area_slugs:
                votes[slug] += 1
                weight[slug] += cand.similarity
    words = content_words(pain) if pain and area_texts else frozenset()
    described: dict[str, float] = {}
    if words and area_texts:
        for slug in all_area_slugs:
            area_words = content_words(area_texts.get(slug, ""))
            described[slug] = len(words & area_words) / max(1, len(area_words)) ** 0.5
    if votes:
        best = sorted(votes, key=lambda s: (-votes[s], -weight[s], -described.get(s, 0.0), s))[0]
        return (best,)
    if not all_area_slugs:
        raise ValueError("cannot create a request: there are no product areas yet")
    if described and max(described.values()) > 0:
        order = {slug: i for i, slug in enumerate(all_area_slugs)}
        return (sorted(all_area_slugs, key=lambda s: (-described[s], order[s]))[0],)
    return (all_area_slugs[0],)


def deterministic_draft(
    pain: str,
    candidates: Sequence[ScoredCandidate],
    all_area_slugs: Sequence[str],
    names: Sequence[str] = (),
    area_texts: Mapping[str, str] | None = None,
) -> Draft:
    return Draft(
        title=draft_title(pain, names),
        description=draft_description(pain),
        area_slugs=vote_areas(candidates, all_area_slugs, pain, area_texts),
        method="deterministic",
    )


def draft_new_request(
    pain: str,
    candidates: Sequence[ScoredCandidate],
    areas: Sequence[tuple[str, str, str]],
    llm: ChatLLM | None = None,
    names: Sequence[str] = (),
) -> Draft:
    """LLM draft when configured and valid, else the deterministic one. `areas` are
    (slug, name, description) of every product area, in their canonical order; `names` are the
    entry's customer/account/people names, which a title must not contain. An LLM title is
    validated like the deterministic one (`title_problems`: no names, no markup, no sales-note
    opener, no instructions) and the deterministic title replaces it when it fails."""
    slugs = [a[0] for a in areas]
    texts = {slug: f"{name}. {description}" for slug, name, description in areas}
    fallback = deterministic_draft(pain, candidates, slugs, names, texts)
    if llm is not None:
        drafted = draft_request(llm, pain, areas)
        if drafted is not None:
            problems = title_problems(drafted.title, names)
            if not problems:
                return Draft(drafted.title, drafted.description, drafted.area_slugs, "llm")
            log.warning("drafted title refused (%s); using the deterministic one", problems)
            return Draft(fallback.title, drafted.description, drafted.area_slugs, "llm+title")
    return fallback
