"""Request concepts parsed from the vocabulary's line format (see ``demo.vocab``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.demo import vocab

# ------------------------------------------------------------------------------------------
# Vocabulary parsing
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Concept:
    """One distinct customer need: a request concept, or a need that has no request."""

    key: str
    area: str | None
    theme: str
    title: str
    description: str
    pains: tuple[str, ...]
    asks: tuple[str, ...]


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def parse_concepts(text: str, area: str | None) -> list[Concept]:
    """Parse the line format documented in ``demo.vocab``."""
    concepts: list[Concept] = []
    theme = "General"
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is None:
            return
        if not current.get("P") or not current.get("A"):
            raise ValueError(f"concept {current['T']!r} needs pains and asks")
        concepts.append(
            Concept(
                key=slugify(current["T"], max_len=None),
                area=area,
                theme=current["theme"],
                title=current["T"],
                description=current.get("D", ""),
                pains=_split(current["P"]),
                asks=_split(current["A"]),
            )
        )

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            theme = line.lstrip("#").strip()
            continue
        tag, _, value = line.partition(" ")
        if tag == "T":
            flush()
            current = {"T": value.strip(), "theme": theme}
        elif tag in ("D", "P", "A") and current is not None:
            current[tag] = value.strip()
        else:
            raise ValueError(f"unparseable vocabulary line: {raw!r}")
    flush()
    return concepts


@cache
def request_concepts() -> tuple[Concept, ...]:
    """All hand-written request concepts, area by area (titles and keys are unique)."""
    out: list[Concept] = []
    for area in vocab.AREAS:
        out.extend(parse_concepts(vocab.REQUEST_CONCEPTS[area["id"]], area["id"]))
    _check_unique(out)
    return tuple(out)


@cache
def nomatch_concepts() -> tuple[Concept, ...]:
    """Needs that deliberately have no request in the dataset."""
    out = parse_concepts(vocab.NOMATCH_CONCEPTS, None)
    _check_unique(out + list(request_concepts()))
    return tuple(out)


def _check_unique(concepts: Sequence[Concept]) -> None:
    seen: set[str] = set()
    for c in concepts:
        if c.key in seen:
            raise ValueError(f"duplicate concept {c.title!r}")
        seen.add(c.key)
