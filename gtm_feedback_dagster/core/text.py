"""Plain text helpers shared by the features: one stopword list, one sentence splitter, one
slug rule.

`STOPWORDS` is the routing calibration's list (`core.calibration` content words): routing's text
features depend on it, so it must not change without refitting the calibration.
"""

from __future__ import annotations

import re

# Function words and words every piece of feedback uses; they say nothing about *which* need.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can cannot could did do does doing down during each even
    every few for from further get gets getting got had has have having he her here hers him his
    how i if in into is it its itself just let lets like make makes me more most much must my no
    nor not now of off on once only or other our ours out over own per please really same she
    should so some still such than that the their theirs them then there these they this those
    through to too under until up us use used using very via want wants was we were what when
    where which while who whom why will with within without would you your yours able need needs
    needed customer customers client clients team teams user users currently today also right
    way ways thing things lot lots many across etc eg ie one two new feature features request
    requests support option options ability allow allows
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# A sentence ends at . ! or ? followed by whitespace and a capital, digit, quote or bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


# In chat messages a line break ends a thought too, and sentences often start in lower case.
_MESSAGE_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_message_sentences(text: str) -> list[str]:
    """Sentences of a chat message or thread: split at end punctuation and at line breaks."""
    return [s.strip() for s in _MESSAGE_SENTENCE_END.split(text) if s and s.strip()]


def squash_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` (whitespace squashed first), empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(squash_whitespace(text)) if s.strip()]


def request_text(title: str, description: str) -> str:
    """The text embedded for a feature request."""
    return f"{title}\n\n{description}".strip()


def query_text(text: str) -> str:
    """The text embedded for a query (customer pain, search text).

    The reference embeds queries as f"{query}\\n\\n"; stripping makes that identical to the bare
    text, and a request with an empty description embeds exactly like the same text as a query.
    """
    return text.strip()


def slugify(text: str, max_len: int | None = 80) -> str:
    """`"API & Developer Tools"` -> `api-developer-tools` (the reference's rule), cut to
    `max_len` characters (None: never cut; the demo data's slugs are uncut). Non-Latin letters
    are transliterated first (`"Café Réservation"` -> `cafe-reservation`, `"日本語"` ->
    `ri-ben-yu`), so a slug (and the Dagster partition key made of it) says what it names."""
    if not text.isascii():
        from slugify import slugify as transliterate  # python-slugify

        text = transliterate(text, lowercase=True)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if max_len is not None:
        slug = slug[:max_len].rstrip("-")
    return slug or "item"
