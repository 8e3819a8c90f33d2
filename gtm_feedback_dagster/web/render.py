"""What the request pages show and how: the Jinja2 templates (autoescape on) and their filters,
customer text made safe to display, report Markdown rendered without raw HTML.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from gtm_feedback_dagster.core.money import format_arr

HERE = Path(__file__).parent
# Bidirectional overrides/isolates and other invisible format characters that can disguise text.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def clean(value: Any) -> str:
    """Customer text for display: control characters and bidi overrides shown as visible
    escapes (\\u202e), so they cannot reorder or hide what follows. Escaping for HTML is
    Jinja2's autoescape."""
    text = "" if value is None else str(value)
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif _BIDI.match(ch) or unicodedata.category(ch) in ("Cc", "Cf"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def template_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(clean=clean, arr=format_arr, when=_when, pct=_pct)
    return env


_MD: Any = None


def markdown_html(text: str) -> Markup:
    """Report Markdown to HTML with raw HTML escaped (html=False) and only safe link schemes."""
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        _MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    return Markup(_MD.render(clean(text)))
