"""Themes from the feedback itself: requests clustered by what their customers wrote.

Used when the related-request graph has no cluster at the report's threshold (a fresh install,
a hashing embedder, a sparse area). Each request is a TF-IDF vector of its title and its
entries' text (sublinear term frequency, smoothed IDF, L2-normalised — what scikit-learn's
`TfidfVectorizer(sublinear_tf=True)` computes, written here with numpy to avoid a dependency);
two requests are linked when each is among the other's `k` nearest by cosine at or above
`threshold` (mutual neighbours, so one generic request cannot chain the area into one blob);
the themes are the connected components. Deterministic: same rows, same themes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from gtm_feedback_dagster.analytics.themes import _terms

TEXT_THRESHOLD = 0.2
NEIGHBOURS = 3
MAX_TERMS = 3000  # vocabulary cap (most frequent terms) so the matrix stays small
MAX_DOC_SHARE = 0.5  # a term in more than half the requests names nothing
ROW_CHUNK = 512


def _stem(term: str) -> str:
    """Plural to singular, crudely ("records" -> "record", not "address" -> "addres")."""
    if len(term) > 3 and term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def tfidf_matrix(texts: Sequence[str]) -> np.ndarray:
    """Rows: L2-normalised TF-IDF vectors of `texts` (float32)."""
    docs = [Counter(_stem(w) for w in _terms(t)) for t in texts]
    doc_freq: Counter[str] = Counter()
    for d in docs:
        doc_freq.update(d.keys())
    n = len(docs)
    limit = max(2, int(MAX_DOC_SHARE * n)) if n > 3 else n
    vocab_terms = [t for t, df in doc_freq.most_common() if df <= limit][:MAX_TERMS]
    vocab = {t: i for i, t in enumerate(vocab_terms)}
    matrix = np.zeros((n, len(vocab)), dtype=np.float32)
    for row, d in enumerate(docs):
        for term, count in d.items():
            col = vocab.get(term)
            if col is not None:
                idf = math.log((1 + n) / (1 + doc_freq[term])) + 1.0
                matrix[row, col] = (1.0 + math.log(count)) * idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def text_edges(
    ids: Sequence[int],
    texts: Sequence[str],
    threshold: float = TEXT_THRESHOLD,
    k: int = NEIGHBOURS,
) -> list[tuple[int, int, float]]:
    """Mutual k-nearest-neighbour pairs (id_a, id_b, cosine) with cosine >= threshold."""
    if len(ids) < 2:
        return []
    matrix = tfidf_matrix(texts)
    neighbours: dict[int, dict[int, float]] = {}
    for start in range(0, len(ids), ROW_CHUNK):
        sims = matrix[start : start + ROW_CHUNK] @ matrix.T
        for offset, row in enumerate(sims):
            i = start + offset
            row[i] = -1.0
            top = np.argsort(-row, kind="stable")[:k]
            neighbours[i] = {int(j): float(row[j]) for j in top if row[j] >= threshold}
    edges = []
    for i, near in neighbours.items():
        for j, sim in near.items():
            if i < j and i in neighbours.get(j, {}):
                edges.append((int(ids[i]), int(ids[j]), round(sim, 4)))
    return edges


def request_texts(
    titles: Mapping[int, str], entry_texts: Mapping[int, Sequence[str]]
) -> dict[int, str]:
    """A request's document: its title and its entries' text."""
    return {rid: " ".join([title, *entry_texts.get(rid, ())]) for rid, title in titles.items()}
