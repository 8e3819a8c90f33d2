"""Loopback load on the intake service: nothing answered 2xx may be lost or stored twice.

    python -m tests.reliability.load --requests 20000 --concurrency 50
    python -m tests.reliability.load --requests 20000 --concurrency 50 \
        --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres   # a fresh DB is made

Starts the real service (`gtm-feedback serve`, uvicorn) on 127.0.0.1 at a free port in a
subprocess, over a fresh app database, then sends a bounded mix with an httpx async client (at
most `--requests` requests, `--concurrency` in flight, stopping by itself after `--max-seconds`):
- `POST /api/feedback` with a bearer token and a unique `external_id` (5% resend an earlier
  one, as a client retrying after a timeout would);
- signed Slack `reaction_added` events to `/slack/events` (5% are Slack's retries of an earlier
  event, with `X-Slack-Retry-Num`).
Afterwards every request answered 2xx is looked up in the database: an API entry by its
external id, an event by its inbox dedupe key; each must be there exactly once. A request that
got no HTTP answer is told apart by cause — the client's own timeout (`--timeout`, 30 s; on a
loaded machine a request can wait that long in the server's queue) or a connection error — and
looked up as well (a timed-out request may well be stored: the server finishes it after the
client gave up), then sent once more as a retrying client would (the same `external_id`, the
same event with `X-Slack-Retry-Num`); in the end every request sent must be answered 2xx and
stored exactly once, and nothing answered 5xx. Prints requests/s, p50/p99 latency, the status
histogram and the unanswered requests by cause as JSON. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gtm_feedback_dagster.store import db, repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, Feedback, SlackInbox
from tests.slack.support import SIGNING_SECRET, json_body, reaction_event, sign

API_TOKEN = "load-test-api-token-0123456789"
ACCOUNT = "Load Test Account"
SUBMITTER = "load.tester@example.com"
REPEAT_SHARE = 0.05
ROOT = Path(__file__).resolve().parents[2]


CLIENT_TIMEOUT = 30.0
RETRY_TIMEOUT = 120.0


@dataclass
class Sent:
    kind: str  # api | event
    key: str  # external id | event id
    status: int | None  # None: no answer (timeout, connection error)
    seconds: float
    repeat: bool = False
    error: str | None = None  # the httpx exception's class when there was no answer
    timed_out: bool = False  # the client's own timeout (httpx.TimeoutException)
    detail: str = ""  # without an answer: the connection (new/reused), where it failed, why
    at: float = 0.0  # when it was sent (time.perf_counter())

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    seconds: float
    statuses: dict[str, int]
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    answered_2xx: int
    lost: list[str] = field(default_factory=list)  # 2xx but not in the database
    duplicated: list[str] = field(default_factory=list)  # stored more than once
    stored_without_2xx: int = 0  # stored although the client saw no 2xx (not a loss)
    database: str = "sqlite"
    client_timeout_s: float = CLIENT_TIMEOUT
    server_errors: int = 0  # answers >= 500 (first pass and retries)
    # Requests without an HTTP answer, by the httpx exception's class (ReadTimeout, ...):
    unanswered: dict[str, int] = field(default_factory=dict)
    client_timeouts: int = 0  # of those, the client's own timeout
    connection_errors: int = 0  # of those, anything else (refused, reset, closed)
    unanswered_min_seconds: float = 0.0  # how long the quickest of them waited
    # Looked up before the retry: stored by the server all the same (no copy of it answered), or
    # not stored.
    unanswered_stored: int = 0
    unanswered_not_stored: int = 0
    retry_statuses: dict[str, int] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)  # no 2xx even after the retry
    # The first unanswered requests: seconds into the run, waited, kind:key, detail.
    unanswered_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unresolved": len(self.unresolved),
            "lost_examples": self.lost[:5],
            "duplicated_examples": self.duplicated[:5],
            "unresolved_examples": self.unresolved[:5],
        }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str) -> None:
    db.upgrade(url)
    with session_scope(url) as session:
        repo.get_or_create_user(session, SUBMITTER, "Load Tester")
        session.add(Account(name=ACCOUNT, external_id="001LOAD", arr=50_000.0))


@contextlib.contextmanager
def serving(url: str, home: Path) -> Iterator[str]:
    """The intake service in a subprocess (`gtm-feedback serve`) on a free loopback port."""
    with serving_process(url, home) as (base, _):
        yield base


@contextlib.contextmanager
def serving_process(url: str, home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`serving`, with the service's process (to stop and resume it)."""
    port = free_port()
    env = {
        **os.environ,
        "GTM_FEEDBACK_HOME": str(home),
        "GTM_FEEDBACK_DATABASE_URL": url,
        "GTM_FEEDBACK_API_TOKEN": API_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DAGSTER_HOME": str(home / "dagster_home"),
    }
    env.pop("SLACK_BOT_TOKEN", None)
    log = open(home / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "gtm_feedback_dagster.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited; see {home / 'serve.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not come up within 60 s")
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def plan(requests: int, rng: random.Random) -> list[tuple[str, str, bool]]:
    """(kind, key, repeat) per request: half API, half events, 5% repeats of earlier keys."""
    planned: list[tuple[str, str, bool]] = []
    for i in range(requests):
        kind = "api" if i % 2 == 0 else "event"
        earlier = [p for p in planned[-200:] if p[0] == kind and not p[2]]
        if earlier and rng.random() < REPEAT_SHARE:
            planned.append((kind, rng.choice(earlier)[1], True))
        else:
            planned.append((kind, f"load{i:07d}" if kind == "api" else f"EvLOAD{i:07d}", False))
    return planned


def _request(kind: str, key: str, repeat: bool) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of one planned request; the same bytes when it is sent again."""
    if kind == "api":
        body = json.dumps(
            {
                "customer_pain": f"Load test entry {key}: exports time out on big dashboards.",
                "severity": "medium",
                "account": ACCOUNT,
                "submitter": SUBMITTER,
                "external_id": key,
            }
        ).encode()
        headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
        path = "/api/feedback"
    else:
        body = json_body(reaction_event(key, ts=f"17000{int(key[6:]):05d}.000100"))
        headers = {"Content-Type": "application/json", **sign(body, SIGNING_SECRET)}
        if repeat:
            headers["X-Slack-Retry-Num"] = "1"
        path = "/slack/events"
    return path, body, headers


async def _send(
    client: httpx.AsyncClient, kind: str, key: str, repeat: bool, limit: asyncio.Semaphore
) -> Sent:
    path, body, headers = _request(kind, key, repeat)
    events: list[str] = []

    async def trace(name: str, info: dict[str, Any]) -> None:  # httpcore's trace extension
        events.append(name)

    async with limit:
        started = time.perf_counter()
        try:
            response = await client.post(
                path, content=body, headers=headers, extensions={"trace": trace}
            )
        except httpx.HTTPError as exc:
            connection = "new" if any("connect_tcp" in e for e in events) else "reused"
            cause = exc.__cause__ or exc.__context__
            failed = [e for e in events if e.endswith(".failed")] or events or ["no event"]
            return Sent(
                kind,
                key,
                None,
                time.perf_counter() - started,
                repeat,
                error=type(exc).__name__,
                timed_out=isinstance(exc, httpx.TimeoutException),
                detail=f"{connection} connection, {failed[0]}: {exc!r} (cause {cause!r})",
                at=started,
            )
        return Sent(
            kind, key, response.status_code, time.perf_counter() - started, repeat, at=started
        )


async def _drive(
    base: str,
    planned: list[tuple[str, str, bool]],
    concurrency: int,
    max_seconds: float,
    timeout: float = CLIENT_TIMEOUT,
) -> tuple[list[Sent], float, float]:
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.monotonic() + max_seconds
    results: list[Sent] = []
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        started = time.perf_counter()
        pending: set[asyncio.Task[Sent]] = set()
        for kind, key, repeat in planned:
            if time.monotonic() > deadline:
                break
            # Keep at most 2x concurrency tasks queued: bounded memory, steady pressure.
            while len(pending) >= 2 * concurrency:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                results.extend(t.result() for t in done)
            pending.add(asyncio.create_task(_send(client, kind, key, repeat, limit)))
        if pending:
            done, _ = await asyncio.wait(pending)
            results.extend(t.result() for t in done)
        elapsed = time.perf_counter() - started
    return results, elapsed, started


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _resend(base: str, unanswered: list[Sent]) -> list[Sent]:
    """Each unanswered request once more, one at a time with a long timeout, as a client that
    got no answer retries (an event as Slack's retry)."""
    limit = asyncio.Semaphore(1)
    async with httpx.AsyncClient(base_url=base, timeout=RETRY_TIMEOUT) as client:
        return [await _send(client, s.kind, s.key, True, limit) for s in unanswered]


def _stored_counts(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """(API entries per external id, inbox rows per dedupe key)."""
    with session_scope(url) as session:
        api_counts = dict(
            session.execute(
                select(Feedback.external_id, func.count())
                .where(Feedback.source == "api")
                .group_by(Feedback.external_id)
            ).all()
        )
        event_counts = dict(
            session.execute(
                select(SlackInbox.dedupe_key, func.count()).group_by(SlackInbox.dedupe_key)
            ).all()
        )
    return api_counts, event_counts


def _times_stored(counts: tuple[dict[str, int], dict[str, int]], kind: str, key: str) -> int:
    api_counts, event_counts = counts
    return api_counts.get(key, 0) if kind == "api" else event_counts.get(f"event:{key}", 0)


def verify(url: str, results: list[Sent]) -> tuple[list[str], list[str], int]:
    """(lost, duplicated, stored without a 2xx) against what the database holds."""
    api_counts, event_counts = counts = _stored_counts(url)
    ok_keys = {(r.kind, r.key) for r in results if r.ok}
    lost, duplicated = [], []
    for kind, key in sorted(ok_keys):
        if _times_stored(counts, kind, key) == 0:
            lost.append(f"{kind}:{key}")
    duplicated += [f"api:{k}" for k, n in api_counts.items() if n > 1]
    duplicated += [f"event:{k}" for k, n in event_counts.items() if n > 1]
    stored_keys = {("api", k) for k in api_counts} | {
        ("event", k.removeprefix("event:")) for k in event_counts
    }
    return lost, duplicated, len(stored_keys - ok_keys)


def run_load(
    requests: int,
    concurrency: int,
    max_seconds: float = 600.0,
    database_url: str | None = None,
    seed_value: int = 7,
    workdir: Path | None = None,
    timeout: float = CLIENT_TIMEOUT,
) -> LoadResult:
    with contextlib.ExitStack() as stack:
        home = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
        home.mkdir(parents=True, exist_ok=True)
        url = database_url or f"sqlite:///{home / 'load.db'}"
        seed(url)
        planned = plan(requests, random.Random(seed_value))
        with serving(url, home) as base:
            results, elapsed, began = asyncio.run(
                _drive(base, planned, concurrency, max_seconds, timeout)
            )
            unanswered = [r for r in results if r.status is None]
            # Before the retry: did the server store what it never answered?
            counts = _stored_counts(url) if unanswered else ({}, {})
            # (A resend whose earlier copy was answered does not count: that copy is stored.)
            answered_first = {(r.kind, r.key) for r in results if r.ok}
            stored_unanswered = sum(
                1
                for r in unanswered
                if (r.kind, r.key) not in answered_first and _times_stored(counts, r.kind, r.key)
            )
            retried = asyncio.run(_resend(base, unanswered)) if unanswered else []
        lost, duplicated, extra = verify(url, results + retried)
        answered = {(r.kind, r.key) for r in results + retried if r.ok}
        unresolved = sorted(
            {f"{r.kind}:{r.key}" for r in results if (r.kind, r.key) not in answered}
        )
        latencies = [r.seconds * 1000 for r in results if r.status is not None]
        statuses = Counter(str(r.status) for r in results)
        db.engine_for.cache_clear()
        return LoadResult(
            requests=len(results),
            concurrency=concurrency,
            seconds=round(elapsed, 2),
            statuses=dict(sorted(statuses.items())),
            requests_per_second=round(len(results) / elapsed, 1) if elapsed else 0.0,
            p50_ms=round(_percentile(latencies, 50), 1),
            p99_ms=round(_percentile(latencies, 99), 1),
            answered_2xx=sum(1 for r in results if r.status and 200 <= r.status < 300),
            lost=lost,
            duplicated=duplicated,
            stored_without_2xx=extra,
            database=make_url(url).get_backend_name(),
            client_timeout_s=timeout,
            server_errors=sum(1 for r in results + retried if r.status and r.status >= 500),
            unanswered=dict(sorted(Counter(str(r.error) for r in unanswered).items())),
            client_timeouts=sum(1 for r in unanswered if r.timed_out),
            connection_errors=sum(1 for r in unanswered if not r.timed_out),
            unanswered_min_seconds=round(min((r.seconds for r in unanswered), default=0.0), 2),
            unanswered_stored=stored_unanswered,
            unanswered_not_stored=sum(
                1 for r in unanswered if not _times_stored(counts, r.kind, r.key)
            ),
            retry_statuses=dict(sorted(Counter(str(r.status) for r in retried).items())),
            unresolved=unresolved,
            unanswered_examples=[
                f"at {r.at - began:.2f} s, waited {r.seconds:.2f} s, {r.kind}:{r.key}, {r.detail}"
                for r in sorted(unanswered, key=lambda r: r.at)[:10]
            ],
        )


@contextlib.contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    from tests.db_fixtures import create_pg_database, drop_pg_database

    url = create_pg_database(db.normalize_url(server_url))
    try:
        yield url
    finally:
        drop_pg_database(db.normalize_url(server_url), url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument(
        "--timeout",
        type=float,
        default=CLIENT_TIMEOUT,
        help="the client's timeout per request, in seconds (a request without an answer by "
        "then is reported as a client timeout, looked up and retried)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: a fresh database is created on it and dropped after",
    )
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres(args.database_url)) if args.database_url else None
        result = run_load(
            args.requests, args.concurrency, args.max_seconds, url, timeout=args.timeout
        )
    print(json.dumps(result.as_dict(), indent=2))
    failed = result.lost or result.duplicated or result.unresolved or result.server_errors
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
