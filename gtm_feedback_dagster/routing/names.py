"""The customer, account and people names a drafted title must not contain, in the forms sales
notes write them ("Folks at Bellwether" for the account "Bellwether Wireless")."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gtm_feedback_dagster.core.text import squash_whitespace

# Company-form words dropped to get the name people say ("Sablewood Logistics Inc" -> "Sablewood").
_COMPANY_WORDS = re.compile(
    r"\b(?:inc|incorporated|llc|ltd|limited|corp|corporation|co|company|group|holdings|gmbh|ag|"
    r"sa|plc|bv)\b\.?",
    re.IGNORECASE,
)


def name_variants(names: Sequence[str]) -> set[str]:
    """The names as notes write them: the full name, without company-form words, and the first
    word of a name of several ("Bellwether Wireless" -> "Bellwether": "Folks at Bellwether")
    when it is capitalised and at least 3 letters."""
    out: set[str] = set()
    for raw in names:
        name = squash_whitespace(raw or "")
        if len(name) < 2:
            continue
        out.add(name)
        short = squash_whitespace(_COMPANY_WORDS.sub(" ", name)).strip(" ,.&")
        if len(short) >= 2:
            out.add(short)
        words = short.split()
        if len(words) > 1 and len(words[0]) >= 3 and words[0][0].isupper():
            out.add(words[0])
    return out


def name_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    """Matches any of the customer / account / people names (whole words, any case), in the
    forms `name_variants` gives."""
    parts = sorted(name_variants(names), key=len, reverse=True)
    if not parts:
        return None
    alternatives = "|".join(re.escape(p) for p in parts)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?:'s)?(?!\w)", re.IGNORECASE)


def without_names(text: str, names: Sequence[str]) -> str:
    """ "Acme's finance team can't export" -> "finance team can't export"; "for Acme" dropped."""
    pattern = name_pattern(names)
    if pattern is None:
        return text
    prepositions = r"(?:\s+(?:at|for|from|with|by|of|to)\s+(?:the\s+)?)?"
    text = re.sub(prepositions + pattern.pattern, " ", text, flags=re.IGNORECASE)
    return squash_whitespace(text).strip(" ,;:")


__all__ = ["name_pattern", "name_variants", "without_names"]
