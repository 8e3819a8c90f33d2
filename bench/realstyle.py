"""Evaluation data built to resemble a real deployment, from the demo generator's concepts.

The generator's own data set (`bench.evaluation.demo_set`) is friendly: a mature catalogue of 291
requests, 90% of the entries have a request, short clean texts, and fit and test share every
concept. Real data is harder (issue 11), so this module builds *episodes* instead:

- **concepts split three ways** by a hash of the concept key: train (50%), validation (25%, the
  attach thresholds are chosen on it) and test (25%, reported). No concept of the test split is
  seen by the fit or the threshold choice, and each split's entries come from a different
  generator seed (train 7, validation 11, test 13), so the wording differs too;
- **small, young catalogues**: 70% of the episodes see 1-20 requests of one product area (the
  rest the whole split's catalogue);
- **hard negatives and a realistic share without a request**: 40% of the entries belong to a
  request of the same area that is *not* in their catalogue (left out for that entry: same area
  and vocabulary, different capability), 10% to a need that has no request at all;
- **long, noisy texts**: 60% of the entries are dressed as issue-tracker posts (markdown
  headings, a log or stack trace in a code fence, a quoted reply about another request of the
  same area, environment lines, "+1" closers), some joined with a second message about the
  same need.

Every entry row is one (entry text, its catalogue) pair; `truth` is -1 when the entry's request
is not in its catalogue. The texts are made up by this module and the generator; no third-party
text is used.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.evaluation import LabelledSet, Retrieval, masked_retrieval
from gtm_feedback_dagster.ai.embedders import Embedder
from gtm_feedback_dagster.core.text import query_text, request_text

SPLITS = ("train", "validation", "test")
SPLIT_SEEDS = {"train": 7, "validation": 11, "test": 13}
YOUNG_SHARE = 0.7  # episodes with a catalogue of 1-20 requests of one area
MAX_YOUNG = 20
MATCHED_SHARE = 0.5  # entries whose request is in their catalogue
NOMATCH_SHARE = 0.1  # entries of a need that has no request anywhere (the rest: hard negatives)
NOISY_SHARE = 0.6

_HEADERS = (
    "### Describe the problem",
    "**What happened?**",
    "## Summary",
    "### Is your feature request related to a problem? Please describe.",
    "#### Context",
    "**Use case**",
)
_LOGS = (
    "ERROR 2026-11-02T10:41:07Z worker-3 job=sync_{n} failed: read timed out after 300s",
    'Traceback (most recent call last):\n  File "/app/worker/run.py", line {n}, in execute\n'
    "    result = client.fetch(cursor)\nTimeoutError: the read operation timed out",
    "WARN  [scheduler] retrying task export_{n} (attempt 3/5)\nINFO  [scheduler] backoff 60s",
    "HTTP/1.1 502 Bad Gateway\nx-request-id: 7f3a{n}c2\ncontent-length: 0",
    "$ cli run --profile prod\nusing config /etc/app/config.yaml\nexit status {n}",
)
_ENV = (
    "Version: 4.{n}.2, Chrome 119 on macOS 14",
    "Environment: self-hosted, Kubernetes 1.27, Postgres 15",
    "Browser: Firefox 120 / Windows 11. Plan: Enterprise",
    "Deployment: cloud, EU region, account id 88{n}",
)
_CLOSERS = (
    "+1, we hit this too.",
    "Any update on this? It has been a few weeks.",
    "Thanks in advance!",
    "cc @ops-team @support",
    "Happy to jump on a call if that helps.",
    "Edit: still happening on the latest release.",
)
_QUOTE_LEADS = ("On Tue, Dana wrote:", "Quoting the original report:", "Support replied:")


def concept_split(key: str) -> str:
    """train / validation / test by a stable hash of the concept key (2:1:1)."""
    bucket = int(hashlib.sha1(key.encode()).hexdigest(), 16) % 4
    return "train" if bucket < 2 else ("validation" if bucket == 2 else "test")


def dress(rng: random.Random, text: str, quote: str | None, extra: str | None) -> str:
    """An entry as an issue-tracker post: a heading, the text (maybe followed by a second
    message about the same need), a log in a code fence, a quoted reply, environment lines and
    a closer — each part present at random."""
    n = str(rng.randint(10, 999))
    parts: list[str] = []
    if rng.random() < 0.5:
        parts.append(rng.choice(_HEADERS))
    parts.append(text)
    if extra and rng.random() < 0.3:
        parts.append(extra)
    if rng.random() < 0.45:
        parts.append("```\n" + rng.choice(_LOGS).format(n=n) + "\n```")
    if quote and rng.random() < 0.35:
        parts.append(rng.choice(_QUOTE_LEADS) + "\n> " + quote.replace("\n", "\n> "))
    if rng.random() < 0.3:
        parts.append(rng.choice(_ENV).format(n=n))
    if rng.random() < 0.4:
        parts.append(rng.choice(_CLOSERS))
    return "\n\n".join(parts)


@dataclass
class RealStyleSet:
    data: LabelledSet
    keep: np.ndarray  # (entries, requests) bool: the entry's catalogue
    episode: np.ndarray  # episode index of each entry
    areas: list[str]  # area of each request
    split: str

    def describe(self) -> dict[str, object]:
        sizes = self.keep.sum(axis=1)
        return {
            "split": self.split,
            "generator_seed": self.data.seed,
            "requests": len(self.data.titles),
            "entries": len(self.data.entries),
            "episodes": int(self.episode.max()) + 1 if len(self.episode) else 0,
            "no_request_share": round(1 - self.data.matched_share, 4),
            "catalogue_1_to_20_share": round(float((sizes <= MAX_YOUNG).mean()), 4),
            "median_entry_chars": int(np.median([len(t) for t in self.data.entries])),
        }


def _split_material(split: str) -> tuple[list[dict], dict[str, list[str]], list[str]]:
    """(requests of the split's concepts, entry texts per request id, no-request entry texts)."""
    from gtm_feedback_dagster.demo.concepts import request_concepts
    from gtm_feedback_dagster.demo.generator import generate_demo_dataset

    data = generate_demo_dataset(seed=SPLIT_SEEDS[split], scale=1)
    concept_of = {c.title: c for c in request_concepts()}
    requests = [
        {**r, "area": concept_of[r["title"]].area}
        for r in data["requests"]
        if r["title"] in concept_of and concept_split(concept_of[r["title"]].key) == split
    ]
    ids = {r["id"] for r in requests}
    by_request: dict[str, list[str]] = {}
    nomatch: list[str] = []
    for row in data["feedback"]:
        meta = row.get("metadata") or {}
        rid = meta.get("truthRequestId")
        if rid in ids:
            by_request.setdefault(rid, []).append(row["description"])
        elif rid is None and concept_split(str(meta.get("truthTopic", ""))) == split:
            nomatch.append(row["description"])
    return requests, by_request, nomatch


def build_split(split: str, episodes: int, per_episode: int = 12, seed: int = 0) -> RealStyleSet:
    """`episodes` episodes of `per_episode` entries each from the concepts of `split`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    requests, by_request, nomatch = _split_material(split)
    rng = random.Random(f"{split}-{seed}")
    n_req = len(requests)
    areas = [r["area"] for r in requests]
    by_area: dict[str, list[int]] = {}
    for i, a in enumerate(areas):
        by_area.setdefault(a, []).append(i)
    with_entries = [i for i, r in enumerate(requests) if by_request.get(r["id"])]
    texts: list[str] = []
    truth: list[int] = []
    keep_rows: list[np.ndarray] = []
    episode_of: list[int] = []
    for ep in range(episodes):
        area = rng.choice(sorted(by_area))
        own = by_area[area]
        if rng.random() < YOUNG_SHARE:
            size = rng.randint(1, MAX_YOUNG)
            catalogue = rng.sample(own, min(size, len(own)))
            if size > len(own):
                others = [i for i in range(n_req) if areas[i] != area]
                catalogue += rng.sample(others, min(size - len(own), len(others)))
        else:
            catalogue = list(range(n_req))
        base = np.zeros(n_req, dtype=bool)
        base[catalogue] = True
        in_cat = [i for i in catalogue if i in set(with_entries)]
        area_with = [i for i in own if i in set(with_entries)]
        for _ in range(per_episode):
            keep = base.copy()
            roll = rng.random()
            if roll < MATCHED_SHARE and in_cat:
                target = rng.choice(in_cat)
                truth.append(target)
            elif roll < 1 - NOMATCH_SHARE and area_with:
                target = rng.choice(area_with)  # same area, not in this entry's catalogue
                keep[target] = False
                truth.append(-1)
            else:
                target = -1
                truth.append(-1)
            if not keep.any():  # an empty catalogue says nothing: give it one other request
                keep[rng.choice([i for i in range(n_req) if i != target])] = True
            if target >= 0:
                pool = by_request[requests[target]["id"]]
                text = rng.choice(pool)
                extra = rng.choice(pool)
                extra = None if extra == text else extra
            else:
                text, extra = rng.choice(nomatch), None
            if rng.random() < NOISY_SHARE:
                siblings = [i for i in area_with if i != target]
                quote = (
                    rng.choice(by_request[requests[rng.choice(siblings)]["id"]])
                    if siblings
                    else None
                )
                text = dress(rng, text, quote, extra)
            texts.append(text)
            keep_rows.append(keep)
            episode_of.append(ep)
    data = LabelledSet(
        seed=SPLIT_SEEDS[split],
        titles=[r["title"] for r in requests],
        descriptions=[r.get("description") or "" for r in requests],
        entries=texts,
        truth=np.asarray(truth, dtype=np.int64),
    )
    return RealStyleSet(data, np.vstack(keep_rows), np.asarray(episode_of), areas, split)


def embed_unique(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embeddings of `texts`, each distinct text embedded once (one call)."""
    unique = sorted(set(texts))
    position = {t: i for i, t in enumerate(unique)}
    vectors = embedder.embed(list(unique))
    return vectors[[position[t] for t in texts]]


def retrieve_split(embedder: Embedder, rs: RealStyleSet, top_k: int = 50) -> Retrieval:
    """Embeds the split's requests and entries and searches each entry's own catalogue."""
    import time

    started = time.perf_counter()
    data = rs.data
    req = embedder.embed(
        [request_text(t, d) for t, d in zip(data.titles, data.descriptions, strict=True)]
    )
    ent = embed_unique(embedder, [query_text(t) for t in data.entries])
    seconds = time.perf_counter() - started
    found = masked_retrieval(ent @ req.T, rs.keep, top_k)
    found.embed_seconds = seconds
    found.texts_embedded = len(data.titles) + len(set(data.entries))
    return found
