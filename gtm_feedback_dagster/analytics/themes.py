"""Themes of an area's report: clusters of the related-request graph (or, when it has none, of
the feedback text: `analytics/text_themes.py`) and their names."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gtm_feedback_dagster.analytics.metrics import (
    TOP_LIMIT,
    distinct_arr,
)
from gtm_feedback_dagster.analytics.rows import (
    AccountRow,
    FeedbackRow,
    RequestRow,
    ThemeNamer,
)
from gtm_feedback_dagster.core.request_graph import DEFAULT_CLUSTER_THRESHOLD, clusters
from gtm_feedback_dagster.core.text import STOPWORDS

# Words that name no capability in a request title ("Add …", "Better …", "Supports …").
_STOPWORDS = STOPWORDS | {"add", "adds", "better", "supports"}
_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]")


def _terms(title: str) -> list[str]:
    return [t for t in _TOKEN.findall(title.lower()) if len(t) > 2 and t not in _STOPWORDS]


def document_frequencies(titles: Sequence[str]) -> Counter[str]:
    """In how many titles each term appears (the IDF side of `distinctive_terms`)."""
    doc_freq: Counter[str] = Counter()
    for title in titles:
        doc_freq.update(set(_terms(title)))
    return doc_freq


def distinctive_terms(
    cluster_titles: Sequence[str],
    area_titles: Sequence[str],
    n: int = 3,
    doc_freq: Mapping[str, int] | None = None,
) -> list[str]:
    """Terms frequent in the cluster's titles but rare across the area's (TF-IDF over titles),
    in the spelling the titles use most ("SSO", not "sso"). Pass `doc_freq` (from
    `document_frequencies(area_titles)`) when naming several clusters of one area."""
    if doc_freq is None:
        doc_freq = document_frequencies(area_titles)
    tf: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for title in cluster_titles:
        tf.update(set(_terms(title)))
        for match in _TOKEN.finditer(title.lower()):
            spellings[match.group()][title[match.start() : match.end()]] += 1
    n_docs = max(len(area_titles), 1)
    scored = [
        (count * math.log((1 + n_docs) / (1 + doc_freq.get(term, 0))) + count * 1e-3, term)
        for term, count in tf.items()
    ]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [
        spellings[term].most_common(1)[0][0] if spellings[term] else term
        for _score, term in scored[:n]
    ]


def theme_name_from_terms(terms: Sequence[str]) -> str:
    return " / ".join(t[:1].upper() + t[1:] for t in terms) or "Related requests"


def common_title_prefix(titles: Sequence[str]) -> str | None:
    """The words every title starts with ("SAML single sign-on" for "SAML single sign-on" and
    "SAML single sign-on - for banks"), when that is at least two words."""
    prefix: list[str] = []
    for words in zip(*(t.split() for t in titles), strict=False):
        if any(w.lower() != words[0].lower() for w in words):
            break
        prefix.append(words[0])
    while prefix and (prefix[-1] in {"-", "–", "—", ":", "/"} or prefix[-1].lower() in _STOPWORDS):
        prefix.pop()
    return " ".join(prefix) if len(prefix) >= 2 else None


def theme_name(
    titles: Sequence[str], area_titles: Sequence[str], doc_freq: Mapping[str, int] | None = None
) -> str:
    """A deterministic theme name: the titles' common beginning, else their three most
    distinctive terms in the order the titles use them."""
    prefix = common_title_prefix(titles)
    if prefix:
        return prefix
    text = " ".join(titles).lower()
    terms = distinctive_terms(titles, area_titles, doc_freq=doc_freq)
    terms.sort(key=lambda t: text.find(t.lower()))
    return theme_name_from_terms(terms)


def themes(
    open_requests: Sequence[RequestRow],
    edges: Iterable[tuple[int, int, float]],
    feedback_by_request: Mapping[int, Sequence[FeedbackRow]],
    accounts: Mapping[int, AccountRow],
    threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    namer: ThemeNamer | None = None,
    limit: int = TOP_LIMIT,
    texts: Mapping[int, str] | None = None,
    source: str = "graph",
) -> list[dict[str, Any]]:
    """Clusters of the related-request graph among the area's open requests, biggest first (then
    by ARR of their distinct accounts), named by `namer` (the LLM, when configured) or by
    `theme_name`. Only the `limit` shown are named, so the LLM is asked at most `limit` times."""
    by_id = {r.id: r for r in open_requests}
    inside = [(a, b, s) for a, b, s in edges if a in by_id and b in by_id]
    ranked_clusters = []
    for members in clusters(inside, threshold):
        account_ids = {
            f.account_id
            for m in members
            for f in feedback_by_request.get(m, ())
            if f.account_id is not None
        }
        ranked_clusters.append((members, distinct_arr(account_ids, accounts)))
    ranked_clusters.sort(key=lambda c: (-len(c[0]), -c[1], c[0][0]))
    area_titles = [r.title for r in open_requests]
    doc_freq: Counter[str] | None = None
    found = []
    for members, arr in ranked_clusters[:limit]:
        titles = [by_id[m].title for m in members]
        name = namer(titles) if namer is not None else None
        name_source = "llm" if name else "terms"
        if not name and texts and not common_title_prefix(titles):
            # Clustered by what customers wrote: name by the distinctive terms of that text.
            area_texts = [texts.get(r.id, r.title) for r in open_requests]
            if doc_freq is None:
                doc_freq = document_frequencies(area_texts)
            cluster_texts = [texts.get(m, by_id[m].title) for m in members]
            name = theme_name_from_terms(distinctive_terms(cluster_texts, area_texts, 3, doc_freq))
        if not name:
            if doc_freq is None:
                doc_freq = document_frequencies(area_titles)
            name = theme_name(titles, area_titles, doc_freq)
        examples = sorted(members, key=lambda m: (-len(feedback_by_request.get(m, ())), m))
        found.append(
            {
                "name": name,
                "nameSource": name_source,
                "clusteredBy": source,
                "count": len(members),
                "entryCount": sum(len(feedback_by_request.get(m, ())) for m in members),
                "arr": arr,
                "exampleRequests": [
                    {"slug": by_id[m].slug, "title": by_id[m].title} for m in examples[:3]
                ],
                "requestIds": members,
            }
        )
    return found
