"""An extractive summary of a Slack message or thread: the customer pain in its own words.

Used for `:gtm-feedback:` reactions when no LLM is configured (or its answer does not validate).
Deterministic: Slack markup is cleaned (mentions, channel links, URLs, emoji codes, formatting),
the text is split into sentences, and the most informative ones — many distinct content words,
words the thread keeps coming back to, pain vocabulary ("can't", "need", "slow", "error", ...) —
are kept in their original order, within `max_chars`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from gtm_feedback_dagster.core.text import STOPWORDS, split_message_sentences

MAX_SUMMARY_CHARS = 500

_USER_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_CHANNEL_LINK = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(?:here|channel|everyone|subteam\^[A-Z0-9]+)(?:\|[^>]*)?>")
_LABELED_URL = re.compile(r"<(?:https?|mailto):[^|>]+\|([^>]*)>")
_URL = re.compile(r"<(?:https?|mailto):[^>]*>|https?://\S+")
_EMOJI = re.compile(r":[a-z0-9_+\-']+(?:::skin-tone-\d)?:")
_FORMAT = re.compile(r"(?<!\w)[*_~`]+|[*_~`]+(?!\w)")
_ENTITY = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_WORD = re.compile(r"[a-zA-Z][a-zA-Z0-9'\-]+")

# Chat filler on top of the common stopwords: a Slack thread is full of it.
_CHAT_FILLER = frozenset(
    [
        "also",
        "get",
        "got",
        "one",
        "thing",
        "things",
        "really",
        "think",
        "know",
        "yeah",
        "yes",
        "ok",
        "okay",
        "hey",
        "hi",
        "thanks",
        "thank",
        "please",
        "lol",
        "sure",
        "cool",
        "great",
        "guys",
        "folks",
        "team",
        "like",
    ]
)
_STOPWORDS = STOPWORDS | _CHAT_FILLER
# Words that signal a problem or an ask: sentences carrying them are what the summary is for.
_PAIN_WORDS_TEXT = """can't cannot cant unable impossible need needs needed want wants wanted wish missing lack
    lacks lacking without slow slower fail fails failed failing failure error errors broken
    break breaks bug bugs crash crashes issue issues problem problems pain painful blocker
    blocked blocking block dealbreaker churn churning frustrated frustrating annoying manual
    manually workaround hard difficult confusing timeout timeouts limit limits limited support
    supported request requested requesting feature asked asking require requires required
    customer customers prospect renewal deal"""
_PAIN_WORDS = frozenset(_PAIN_WORDS_TEXT.split())
_MIN_SENTENCE_WORDS = 3
MIN_RELATIVE_SCORE = 0.3


def clean_slack_text(text: str) -> str:
    """Slack mrkdwn -> plain text without mentions, URLs, emoji codes or formatting marks."""
    text = _USER_MENTION.sub("", text)
    text = _CHANNEL_LINK.sub(lambda m: f"#{m.group(1)}" if m.group(1) else "", text)
    text = _SPECIAL.sub("", text)
    text = _LABELED_URL.sub(lambda m: m.group(1), text)
    text = _URL.sub("", text)
    text = _EMOJI.sub("", text)
    text = _FORMAT.sub("", text)
    for entity, char in _ENTITY.items():
        text = text.replace(entity, char)
    lines = [re.sub(r"[ \t]+", " ", line).strip(" >\t") for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _content_words(text: str) -> list[str]:
    return [w for w in _words(text) if w not in _STOPWORDS and len(w) > 2]


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def extractive_summary(messages: Sequence[str], max_chars: int = MAX_SUMMARY_CHARS) -> str:
    """The most informative sentences of `messages` (in order), at most `max_chars`; "" when
    nothing meaningful is left after cleaning."""
    cleaned = [clean_slack_text(m) for m in messages if isinstance(m, str)]
    sentences: list[tuple[int, int, str]] = []  # (message index, position, sentence)
    seen: set[str] = set()
    for mi, text in enumerate(cleaned):
        for pos, sentence in enumerate(split_message_sentences(text)):
            key = " ".join(_words(sentence))
            if len(_words(sentence)) < _MIN_SENTENCE_WORDS or key in seen:
                continue
            seen.add(key)
            sentences.append((mi, pos, sentence))
    if not sentences:
        # Short messages ("SSO please!") are still the pain: keep the longest cleaned text.
        fallback = max((c.replace("\n", " ") for c in cleaned), key=len, default="").strip()
        return _clip(fallback, max_chars)

    # How many messages mention a word: what the thread keeps coming back to.
    spread: Counter[str] = Counter()
    for text in cleaned:
        spread.update(set(_content_words(text)))

    def score(item: tuple[int, int, str]) -> float:
        mi, pos, sentence = item
        words = set(_content_words(sentence))
        value = len(words) + 0.5 * sum(spread[w] - 1 for w in words)
        value += 2.0 * len(words & _PAIN_WORDS) + (1.5 if "?" not in sentence else 0.0)
        if mi == 0:
            value += 2.0  # the reacted message / thread root usually states the pain
        return value / (1.0 + 0.02 * pos)

    scores = [score(item) for item in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    # Chit-chat ("ok cool, will look") stays out even when there is room for it.
    floor = MIN_RELATIVE_SCORE * scores[ranked[0]]
    chosen: list[int] = []
    used = 0
    for i in ranked:
        sentence = sentences[i][2]
        if chosen and (scores[i] < floor or len(set(_content_words(sentence))) < 2):
            continue
        extra = len(sentence) + (1 if chosen else 0)
        if used + extra > max_chars:
            if not chosen:
                chosen.append(i)  # one over-long sentence: clipped below
                used = max_chars
            continue
        chosen.append(i)
        used += extra
    summary = " ".join(sentences[i][2] for i in sorted(chosen))
    return _clip(summary, max_chars)
