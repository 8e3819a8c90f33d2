"""Routing measured on public duplicate / non-duplicate issues, through the real path.

    .venv/bin/python -m bench.public_eval /tmp/public-dupes/set.jsonl
    .venv/bin/python -m bench.public_eval set.jsonl --min-confidence label --keep /tmp/run1

The input is a JSON Lines file the user collected (from public issue trackers, which close a
duplicate with a link to the original). It is third-party text: keep it outside the repository
and never commit it. One object per line:

| field | required | meaning |
|---|---|---|
| `id` | yes | unique key of the item, e.g. `grafana-6557` |
| `kind` | yes | `original` (an existing request), `duplicate` (should attach to its original) or `new` (unrelated to every original: should become a new request) |
| `repo` | yes | where it comes from, e.g. `grafana/grafana`; one product area per repository |
| `title` | yes | the issue title |
| `text` | no | the issue text (description; a stored comment where the description is missing) |
| `duplicate_of` | for `duplicate` | the `id` of its `original` in the same file |
| `confidence` | no | how sure the duplicate link is: `explicit` (default: the thread says "duplicate of #N"), `label` (closed with a duplicate label or "tracked elsewhere", target implied) or `same-need` (judged the same need, not closed as a duplicate) |
| `url`, `evidence`, `note` | no | provenance; ignored here |

What it does: builds a reference export (docs/import-formats.md) in a temporary directory
(originals as `requests`, one area per repository; duplicates and new items as `feedback`
without a `requestId`, so nothing of the truth reaches the app; the truth stays in a side file
next to it), then runs the real path in a fresh `GTM_FEEDBACK_HOME` with the CLI:
`gtm-feedback db upgrade`, `gtm-feedback migrate-reference FILE --route`, and
`gtm-feedback route` until nothing is pending. Offline: the packaged local ONNX model, no LLM,
no Slack (`HF_HUB_OFFLINE=1`, provider secrets removed from the child environment). Then it
reads the app database and prints: auto-attached and attach precision, should-be-new entries
auto-attached (n of N), duplicates auto-attached to their original, entries asked a human (share)
and asks whose suggestion is the original, new requests created, and how many of those
duplicate an existing request (created for a duplicate whose original was in the catalogue) or
repeat a need another new request already covers.

A request created by routing stands for the need of the entry it was created from (its
`meta.from_feedback_id`); an entry attached to it counts as right when it has that need. Merged
requests are followed to the request they were merged into.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("original", "duplicate", "new")
CONFIDENCE_ORDER = {"same-need": 0, "label": 1, "explicit": 2}
MAX_TEXT_CHARS = 5000  # GTM_FEEDBACK_MAX_TEXT_CHARS default; longer texts are cut, not refused
MAX_TITLE_CHARS = 200
ACCOUNT_ID = "public-eval-account"
USER_ID = "public-eval-user"
USER_EMAIL = "public-eval@example.com"
# Imported requests are dated in the past so no reminder logic treats them as just created.
REQUEST_CREATED_AT = "2025-01-01T00:00:00Z"
FEEDBACK_CREATED_AT = "2025-06-01T00:00:00Z"
MAX_ROUTE_RUNS = 50

# The child processes get the embedded defaults only: local model, local index, no LLM, Slack
# messages to the outbox. Secrets are dropped, never read or printed.
CHILD_ENV: dict[str, str | None] = {
    "GTM_FEEDBACK_EMBEDDER": "local",
    "GTM_FEEDBACK_LOCAL_BACKEND": "onnx",
    "GTM_FEEDBACK_VECTOR_INDEX": "local",
    "GTM_FEEDBACK_SLACK_MODE": "outbox",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GTM_FEEDBACK_LLM_MODEL": None,
    "GTM_FEEDBACK_DATABASE_URL": None,
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": None,
    "SLACK_BOT_TOKEN": None,
    "SLACK_SIGNING_SECRET": None,
    "GTM_FEEDBACK_API_TOKEN": None,
    "GTM_FEEDBACK_SLACK_BASE_URL": None,
    "UPSTASH_VECTOR_REST_URL": None,
    "UPSTASH_VECTOR_REST_TOKEN": None,
}


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    repo: str
    title: str
    text: str = ""
    duplicate_of: str | None = None
    confidence: str = "explicit"


def load_items(path: Path | str) -> list[Item]:
    """The items of a collected JSONL file, checked: unique ids, known kinds, every duplicate
    pointing at an original of the file. Raises ValueError naming the line."""
    items: list[Item] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"line {number}: not an object")
        missing = [key for key in ("id", "kind", "repo", "title") if not str(raw.get(key) or "")]
        if missing:
            raise ValueError(f"line {number}: missing {', '.join(missing)}")
        kind = str(raw["kind"])
        if kind not in KINDS:
            raise ValueError(f"line {number}: kind must be one of {KINDS}, got {kind!r}")
        confidence = str(raw.get("confidence") or "explicit")
        if confidence not in CONFIDENCE_ORDER:
            raise ValueError(f"line {number}: unknown confidence {confidence!r}")
        duplicate_of = raw.get("duplicate_of")
        if kind == "duplicate" and not duplicate_of:
            raise ValueError(f"line {number}: a duplicate needs duplicate_of")
        items.append(
            Item(
                id=str(raw["id"]),
                kind=kind,
                repo=str(raw["repo"]),
                title=str(raw["title"]),
                text=str(raw.get("text") or ""),
                duplicate_of=str(duplicate_of) if kind == "duplicate" else None,
                confidence=confidence,
            )
        )
    ids = Counter(item.id for item in items)
    repeated = sorted(key for key, count in ids.items() if count > 1)
    if repeated:
        raise ValueError(f"ids used more than once: {', '.join(repeated)}")
    originals = {item.id for item in items if item.kind == "original"}
    dangling = sorted(
        f"{item.id} -> {item.duplicate_of}"
        for item in items
        if item.kind == "duplicate" and item.duplicate_of not in originals
    )
    if dangling:
        raise ValueError(f"duplicates of no original in the file: {', '.join(dangling)}")
    return items


def select_items(items: Sequence[Item], min_confidence: str = "same-need") -> list[Item]:
    """Drops the duplicates whose link is weaker than `min_confidence` (originals and new items
    are kept)."""
    floor = CONFIDENCE_ORDER[min_confidence]
    return [
        item
        for item in items
        if item.kind != "duplicate" or CONFIDENCE_ORDER[item.confidence] >= floor
    ]


def area_slug(repo: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", repo.lower()).strip("-")
    return slug[:60] or "area"


def _entry_text(item: Item) -> str:
    text = item.title.strip()
    if item.text.strip():
        text = f"{text}\n\n{item.text.strip()}"
    return text[:MAX_TEXT_CHARS]


def build_reference(items: Sequence[Item]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(reference export, truth). The export holds one user, one account, one area per
    repository, the originals as requests (their `id` as reference id) and every other item as
    a feedback entry without a request. The truth maps each feedback id to the reference id of
    the request it belongs to (None for should-be-new) and records the kinds."""
    repos = sorted({item.repo for item in items})
    areas = [
        {
            "id": area_slug(repo),
            "name": repo[:100],
            "slug": area_slug(repo),
            "description": f"Issues filed on the public {repo} tracker."[:500],
        }
        for repo in repos
    ]
    requests = [
        {
            "id": item.id,
            "title": item.title.strip()[:MAX_TITLE_CHARS],
            "description": item.text.strip()[:MAX_TEXT_CHARS],
            "status": "open",
            "creator": USER_ID,
            "areaIds": [area_slug(item.repo)],
            "followers": [USER_ID],
            "createdAt": REQUEST_CREATED_AT,
        }
        for item in items
        if item.kind == "original"
    ]
    feedback = [
        {
            "id": item.id,
            "accountId": ACCOUNT_ID,
            "severity": "medium",
            "description": _entry_text(item),
            "creator": USER_ID,
            "createdAt": FEEDBACK_CREATED_AT,
        }
        for item in items
        if item.kind != "original"
    ]
    export = {
        "users": [{"id": USER_ID, "name": "Public Eval", "email": USER_EMAIL, "isAdmin": True}],
        "areas": areas,
        "sfdcAccounts": [{"id": ACCOUNT_ID, "name": "Public Eval Account", "arr": 100000}],
        "sfdcOpportunities": [],
        "requests": requests,
        "feedback": feedback,
    }
    truth = {
        "requests": [item.id for item in items if item.kind == "original"],
        "entries": {
            item.id: {"kind": item.kind, "request": item.duplicate_of, "repo": item.repo}
            for item in items
            if item.kind != "original"
        },
    }
    return export, truth


# --- reading the app database ---------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    id: int
    external_id: str | None
    meta: dict[str, Any] | None
    merged_into_id: int | None = None


@dataclass(frozen=True)
class EntryRow:
    id: int
    external_id: str | None
    status: str
    request_id: int | None
    meta: dict[str, Any] | None


@dataclass(frozen=True)
class ApprovalRow:
    feedback_id: int
    request_id: int


def read_state(url: str) -> tuple[list[RequestRow], list[EntryRow], list[ApprovalRow]]:
    """Requests, reference feedback entries and approvals (asks) of the app database."""
    from sqlalchemy import select

    from gtm_feedback_dagster.store import db
    from gtm_feedback_dagster.store.schema import Approval, Feedback, Request

    with db.session_scope(url) as s:
        requests = [
            RequestRow(int(rid), ext, meta if isinstance(meta, dict) else None, merged)
            for rid, ext, meta, merged in s.execute(
                select(Request.id, Request.external_id, Request.meta, Request.merged_into_id)
            )
        ]
        entries = [
            EntryRow(int(fid), ext, status, rid, meta if isinstance(meta, dict) else None)
            for fid, ext, status, rid, meta in s.execute(
                select(
                    Feedback.id,
                    Feedback.external_id,
                    Feedback.status,
                    Feedback.request_id,
                    Feedback.meta,
                ).where(Feedback.source == "reference")
            )
        ]
        approvals = [
            ApprovalRow(int(fid), int(rid))
            for fid, rid in s.execute(
                select(Approval.feedback_id, Approval.request_id).order_by(Approval.id)
            )
        ]
    return requests, entries, approvals


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(
    truth: dict[str, Any],
    requests: Iterable[RequestRow],
    entries: Iterable[EntryRow],
    approvals: Iterable[ApprovalRow],
) -> dict[str, Any]:
    """Every routed entry against its truth (see the module docstring for the rules)."""
    truth_entries: dict[str, dict[str, Any]] = truth["entries"]
    catalogue = set(truth["requests"])
    entries = [e for e in entries if e.external_id in truth_entries]
    by_feedback_id = {e.id: e for e in entries}

    def need_of_entry(external_id: str | None) -> str | None:
        info = truth_entries.get(external_id or "")
        if info is None:
            return None
        return f"request:{info['request']}" if info["request"] else f"new:{external_id}"

    requests = list(requests)
    merged = {r.id: r.merged_into_id for r in requests if r.merged_into_id}
    need_of_request: dict[int, str] = {}
    created: list[RequestRow] = []
    for r in requests:
        if r.external_id in catalogue:
            need_of_request[r.id] = f"request:{r.external_id}"
        elif r.external_id is None and (r.meta or {}).get("from_feedback_id") is not None:
            created.append(r)
            origin = by_feedback_id.get(int(r.meta["from_feedback_id"]))  # type: ignore[index]
            need = need_of_entry(origin.external_id) if origin else None
            need_of_request[r.id] = need or f"unknown:{r.id}"

    def resolve(request_id: int | None) -> str | None:
        seen: set[int] = set()
        while request_id in merged and request_id not in seen:
            seen.add(request_id)
            request_id = merged[request_id]
        return need_of_request.get(request_id) if request_id is not None else None

    first_ask: dict[int, int] = {}
    for a in approvals:
        first_ask.setdefault(a.feedback_id, a.request_id)

    c: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    for e in entries:
        info = truth_entries[e.external_id]  # type: ignore[index]
        is_dup = info["kind"] == "duplicate"
        need = need_of_entry(e.external_id)
        c["duplicates" if is_dup else "should_be_new"] += 1
        tier = str(((e.meta or {}).get("routing") or {}).get("tier") or f"status:{e.status}")
        tiers[tier] += 1
        if tier == "attach":
            right = resolve(e.request_id) == need
            c["attached"] += 1
            c["attached_right"] += int(right)
            if is_dup:
                c["dup_attached"] += 1
                c["dup_attached_to_original"] += int(resolve(e.request_id) == need)
            else:
                c["new_attached"] += 1
        elif tier == "ask":
            c["asked"] += 1
            suggested = first_ask.get(e.id)
            c["ask_dup" if is_dup else "ask_new"] += 1
            if is_dup:
                c["ask_right"] += int(suggested is not None and resolve(suggested) == need)
        elif tier == "new":
            c["new_tier"] += 1
            c["new_tier_dup" if is_dup else "new_tier_new"] += 1
    created_needs = Counter(need_of_request[r.id] for r in created)
    dup_of_catalogue = sum(
        count
        for need, count in created_needs.items()
        if need.startswith("request:") and need.removeprefix("request:") in catalogue
    )
    repeated_need = sum(count - 1 for need, count in created_needs.items() if count > 1)
    n = c["duplicates"] + c["should_be_new"]
    return {
        "entries": n,
        "duplicates": c["duplicates"],
        "should_be_new": c["should_be_new"],
        "catalogue_requests": len(catalogue),
        "tiers": dict(sorted(tiers.items())),
        "auto_attached": c["attached"],
        "attach_precision": _share(c["attached_right"], c["attached"]),
        "should_be_new_auto_attached": c["new_attached"],
        "duplicates_auto_attached_to_original": c["dup_attached_to_original"],
        "duplicates_auto_attached_elsewhere": c["dup_attached"] - c["dup_attached_to_original"],
        "asked": c["asked"],
        "asked_share": _share(c["asked"], n),
        "asked_duplicates": c["ask_dup"],
        "asked_should_be_new": c["ask_new"],
        "asked_right_suggestion": c["ask_right"],
        "asked_right_suggestion_share_of_duplicate_asks": _share(c["ask_right"], c["ask_dup"]),
        "new_tier": c["new_tier"],
        "new_tier_duplicates": c["new_tier_dup"],
        "new_tier_should_be_new": c["new_tier_new"],
        "new_requests": len(created),
        "new_requests_duplicating_existing": dup_of_catalogue,
        "new_requests_repeating_a_new_need": repeated_need,
    }


def format_report(result: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    precision = result["attach_precision"]
    lines = [
        f"entries routed: {result['entries']} ({result['duplicates']} duplicates, "
        f"{result['should_be_new']} should be new) against {result['catalogue_requests']} requests",
        f"tiers: {result['tiers']}",
        f"auto-attached: {result['auto_attached']}, attach precision "
        f"{'-' if precision is None else f'{precision:.2f}'}",
        f"should-be-new auto-attached: {result['should_be_new_auto_attached']} of "
        f"{result['should_be_new']}",
        f"duplicates auto-attached to their original: "
        f"{result['duplicates_auto_attached_to_original']} of {result['duplicates']} "
        f"(elsewhere: {result['duplicates_auto_attached_elsewhere']})",
        f"asked a human: {result['asked']} ({pct(result['asked_share'])}); with the right "
        f"suggestion: {result['asked_right_suggestion']} of {result['asked_duplicates']} "
        f"duplicate asks ({result['asked_should_be_new']} should-be-new asked)",
        f"new requests: {result['new_requests']}, of which duplicating an existing request: "
        f"{result['new_requests_duplicating_existing']}, repeating a need another new request "
        f"covers: {result['new_requests_repeating_a_new_need']}",
    ]
    return "\n".join(lines)


# --- the real path ----------------------------------------------------------------------------


def _cli() -> list[str]:
    beside = Path(sys.executable).with_name("gtm-feedback")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("gtm-feedback")
    if found:
        return [found]
    return [sys.executable, "-m", "gtm_feedback_dagster.cli"]


def child_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GTM_FEEDBACK_")}
    for key, value in CHILD_ENV.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["GTM_FEEDBACK_HOME"] = str(home)
    return env


def _run(args: list[str], env: dict[str, str], say: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*_cli(), *args], env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    say(f"$ gtm-feedback {' '.join(args)} -> exit {done.returncode}")
    if done.returncode not in (0,):
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        say("\n".join(tail))
    return done


def _pending(url: str) -> int:
    from sqlalchemy import func, select

    from gtm_feedback_dagster.store import db
    from gtm_feedback_dagster.store.schema import Feedback

    with db.session_scope(url) as s:
        return int(s.scalar(select(func.count()).where(Feedback.status == "pending")) or 0)


def run_real_path(reference: Path, home: Path, say: Any = print) -> str:
    """Loads `reference` into a fresh app database under `home` and routes everything, with
    the CLI; returns the database URL."""
    home.mkdir(parents=True, exist_ok=True)
    env = child_env(home)
    url = f"sqlite:///{home / 'gtm_feedback.db'}"
    if _run(["db", "upgrade"], env, say).returncode != 0:
        raise RuntimeError("gtm-feedback db upgrade failed")
    loaded = _run(["migrate-reference", str(reference), "--route", "--json"], env, say)
    if loaded.returncode == 2:
        raise RuntimeError("gtm-feedback migrate-reference refused the file")
    for _ in range(MAX_ROUTE_RUNS):
        if _pending(url) == 0:
            break
        if _run(["route"], env, say).returncode != 0:
            raise RuntimeError("gtm-feedback route failed")
    left = _pending(url)
    if left:
        raise RuntimeError(f"{left} entries still pending after {MAX_ROUTE_RUNS} route runs")
    return url


def measure(items: Sequence[Item], keep: Path | None = None, say: Any = print) -> dict[str, Any]:
    work = keep or Path(tempfile.mkdtemp(prefix="gtm-public-eval-"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        export, truth = build_reference(items)
        reference = work / "reference.json"
        reference.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
        (work / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
        url = run_real_path(reference, work / "home", say)
        return score(truth, *read_state(url))
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", type=Path, help="the collected items (see the module docstring)")
    parser.add_argument(
        "--min-confidence",
        choices=sorted(CONFIDENCE_ORDER, key=CONFIDENCE_ORDER.get),  # type: ignore[arg-type]
        default="same-need",
        help="drop duplicates whose link is weaker (default: keep all)",
    )
    parser.add_argument(
        "--keep", type=Path, help="work in this directory and keep it (reference, truth, db)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    items = select_items(load_items(args.jsonl), args.min_confidence)
    say = (lambda _line: None) if args.json else print
    result = measure(items, args.keep, say)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
