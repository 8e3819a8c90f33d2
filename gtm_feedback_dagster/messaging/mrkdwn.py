"""Slack mrkdwn text: customer text made literal, and cutting that never breaks our markup.

Slack reads `<…>` as a link, mention or command (`<!channel>`) and `&amp;`-style entities in
any mrkdwn text, the top-level `text` fallback included; so customer text is escaped
(`escape_mrkdwn`) before it is put in a message, and a long text is cut (`truncate_mrkdwn`)
before a `<` or `&` that opens markup of our own, never inside it.
"""

from __future__ import annotations

from gtm_feedback_dagster.core.validation import strip_controls

LABEL_MAX_CHARS = 300  # a link label (a request title): long enough to read, short of limits
SECTION_MAX_CHARS = 3000  # Slack's limit for a section's (and a mrkdwn text object's) text
TEXT_MAX_CHARS = 3000  # the top-level `text` fallback, held to the same length
ELLIPSIS = "…"
EMPTY_TEXT = "(no text)"


def escape_mrkdwn(text: str) -> str:
    """Customer text made literal in mrkdwn: &, < and > escaped (so `<!channel>`, `<url|x>` and
    `&amp;` stay text), and control characters and bidirectional overrides (U+202E, which would
    reverse what follows, our links included) removed."""
    return strip_controls(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, max_chars: int) -> str:
    """Raw (unescaped) text cut at a word boundary to at most `max_chars`, with "…"."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut[max_chars // 2 :] else cut
    return head.rstrip() + ELLIPSIS


def truncate_mrkdwn(text: str, max_chars: int = SECTION_MAX_CHARS) -> str:
    """Our mrkdwn cut to at most `max_chars`, never inside a `<url|label>` link or mention nor
    inside an `&amp;`-style entity, with "…" when anything was cut. Safe because customer text is
    escaped: every `<` and `&` left in the text opens markup of our own."""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars - len(ELLIPSIS)]
    open_angle = head.rfind("<")
    if open_angle > head.rfind(">"):  # inside <…>: drop the whole link
        head = head[:open_angle]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:  # inside &amp; / &lt; / &gt;
        head = head[:amp]
    return head + ELLIPSIS


def link(url: str, label: str) -> str:
    """A mrkdwn link; `|` would end the label early, so it becomes a look-alike. A huge label is
    shortened so the link always fits in a section."""
    label = escape_mrkdwn(shorten(" ".join(label.split()), LABEL_MAX_CHARS)) or EMPTY_TEXT
    return f"<{url}|{label.replace('|', '∣')}>"


def plain_title(title: str) -> str:
    """A request title for the top-level `text` fallback: escaped and shortened."""
    return escape_mrkdwn(shorten(" ".join(title.split()), LABEL_MAX_CHARS))
