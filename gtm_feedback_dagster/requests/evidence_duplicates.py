"""Likely duplicates from all the evidence: two open requests of an area whose customers
describe the same thing.

The related-request graph compares request *titles* (embedder cosine >= 0.75), so a request
routing created under a new name ("Upserts by primary key") next to the existing one
("Deduplication of records on ingest") is missed. Here each open request is a TF-IDF vector of
its title, description and confirmed entries' text (`analytics/text_themes.py`); a pair is a
candidate when the two are each other's nearest request and their cosine is at least
`threshold`. Measured on the demo generator's truth (`bench/duplicates.py`, docs/benchmarks.md):
at 0.35, 7 of 8 pairs right but 7% of the duplicate requests found.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.analytics.data import load_area_data, load_area_texts
from gtm_feedback_dagster.analytics.text_themes import text_edges
from gtm_feedback_dagster.requests.merge import DuplicateCandidate
from gtm_feedback_dagster.store.repo import resolve_area
from gtm_feedback_dagster.store.schema import Feedback, ProductArea

EVIDENCE_THRESHOLD = 0.35


def evidence_duplicate_candidates(
    session: Session,
    area_ref: str | None = None,
    threshold: float = EVIDENCE_THRESHOLD,
    limit: int = 50,
) -> list[DuplicateCandidate]:
    """Mutual-nearest open requests by their feedback text, most similar first; the suggested
    merge keeps the request with more feedback (on a tie, the older one)."""
    if area_ref:
        areas = [resolve_area(session, area_ref)]
    else:
        areas = list(session.scalars(select(ProductArea).order_by(ProductArea.slug)))
    best: dict[tuple[int, int], float] = {}
    titles: dict[int, str] = {}
    for area in areas:
        data = load_area_data(session, area, min_edge_similarity=2.0)  # no graph edges needed
        texts = load_area_texts(session, data)
        titles.update({r.id: r.title for r in data.requests})
        ids = sorted(texts)
        for a, b, sim in text_edges(ids, [texts[i] for i in ids], threshold=threshold, k=1):
            key = (min(a, b), max(a, b))
            best[key] = max(sim, best.get(key, 0.0))
    if not best:
        return []
    ids = {i for pair in best for i in pair}
    entries = dict(
        session.execute(
            select(Feedback.request_id, func.count(Feedback.id))
            .where(Feedback.request_id.in_(ids))
            .group_by(Feedback.request_id)
        ).all()
    )
    found = []
    for (a, b), sim in sorted(best.items(), key=lambda kv: (-kv[1], kv[0])):
        keep, drop = (b, a) if entries.get(b, 0) > entries.get(a, 0) else (a, b)
        found.append(
            DuplicateCandidate(drop, titles[drop], keep, titles[keep], sim, basis="feedback text")
        )
    return found[:limit]
