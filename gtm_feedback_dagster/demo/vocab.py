"""Hand-written vocabulary of the deterministic demo data generator, read from ``vocab.json``.

The data file holds plain data only; this module loads it once at import and exposes each
top-level key as a module constant (``AREAS``, ``REQUEST_CONCEPTS``, ``DEMO_PEOPLE``, ...).

The request concepts (``REQUEST_CONCEPTS[area]`` and ``NOMATCH_CONCEPTS``) are stored as lists of
lines in a small line format, so that ~300 concepts stay readable and cheap to edit:

    # Theme name            -> theme (``metadata.theme``) of the concepts that follow
    T <title>               -> starts a concept
    D <description>         -> request description: what it is, then why it hurts today (the
                               reference's request agent writes pain-focused descriptions; the
                               pain sentence also lifts matching to real-data similarity levels)
    P a | b | c             -> customer pains: verb phrases that follow a PLURAL subject
                               ("they", "their analysts") - e.g. "can't tell which ..."
    A a | b | c             -> what the customer asks for: noun phrases ("a way to ...")

The loader joins the lines back into one text per area. Pains and asks are deliberately worded
differently from the title: feedback entries are built from them, and the whole point of the
demo data is to measure semantic (not lexical) matching. Several concepts are near neighbours on
purpose (PDF vs CSV exports, Slack alerts vs Slack snapshots, CDC vs cursor syncs, ...) so that
matching is not trivial.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def _load() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("vocab.json").read_text(encoding="utf-8")
    return json.loads(text)


_DATA = _load()

AREAS: list[dict[str, str]] = _DATA["AREAS"]
AREA_PERSONAS: dict[str, list[str]] = _DATA["AREA_PERSONAS"]
REQUEST_CONCEPTS: dict[str, str] = {
    area: "\n".join(lines) for area, lines in _DATA["REQUEST_CONCEPTS"].items()
}
NOMATCH_CONCEPTS: str = "\n".join(_DATA["NOMATCH_CONCEPTS"])
VARIANT_KINDS: dict[str, dict[str, object]] = _DATA["VARIANT_KINDS"]
AREA_VARIANT_KINDS: dict[str, list[str]] = _DATA["AREA_VARIANT_KINDS"]
VARIANT_EXCLUSIONS: dict[str, list[str]] = _DATA["VARIANT_EXCLUSIONS"]
PAIN_FRAMES_PRESENT: list[str] = _DATA["PAIN_FRAMES_PRESENT"]
PAIN_FRAMES_ANY: list[str] = _DATA["PAIN_FRAMES_ANY"]
PAIN_FRAMES_WISH: list[str] = _DATA["PAIN_FRAMES_WISH"]
ASK_FRAMES: list[str] = _DATA["ASK_FRAMES"]
TERSE_FRAMES: list[str] = _DATA["TERSE_FRAMES"]
WORKAROUND_FRAMES: list[str] = _DATA["WORKAROUND_FRAMES"]
GENERIC_WORKAROUNDS: list[str] = _DATA["GENERIC_WORKAROUNDS"]
CONTEXT_SENTENCES: list[str] = _DATA["CONTEXT_SENTENCES"]
SEVERITY_SENTENCES: dict[str, list[str]] = _DATA["SEVERITY_SENTENCES"]
SOURCE_OPENERS: dict[str, list[str]] = _DATA["SOURCE_OPENERS"]
SOURCE_WEIGHTS: dict[str, int] = _DATA["SOURCE_WEIGHTS"]
COMPETITORS: list[str] = _DATA["COMPETITORS"]
ROLES: list[str] = _DATA["ROLES"]
# (name, role, regions covered); the system user is added by the generator.
DEMO_PEOPLE: list[tuple[str, str, tuple[str, ...]]] = [
    (name, role, tuple(regions)) for name, role, regions in _DATA["DEMO_PEOPLE"]
]
COMPANY_PREFIXES: list[str] = _DATA["COMPANY_PREFIXES"]
INDUSTRY_SUFFIXES: dict[str, list[str]] = _DATA["INDUSTRY_SUFFIXES"]
INDUSTRY_WEIGHTS: dict[str, int] = _DATA["INDUSTRY_WEIGHTS"]
REGION_WEIGHTS: dict[str, int] = _DATA["REGION_WEIGHTS"]
TERRITORIES: dict[str, list[str]] = _DATA["TERRITORIES"]
SUB_SEGMENTS: dict[str, list[str]] = _DATA["SUB_SEGMENTS"]
