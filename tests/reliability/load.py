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
external id, an event by its inbox dedupe key; each must be there exactly once. Prints
requests/s, p50/p99 latency and the status histogram as JSON. Only 127.0.0.1 is ever contacted.
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


@dataclass
class Sent:
    kind: str  # api | event
    key: str  # external id | event id
    status: int | None  # None: no answer (timeout, connection error)
    seconds: float
    repeat: bool = False


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

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "lost_examples": self.lost[:5],
            "duplicated_examples": self.duplicated[:5],
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
        yield base
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


async def _send(
    client: httpx.AsyncClient, kind: str, key: str, repeat: bool, limit: asyncio.Semaphore
) -> Sent:
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
    async with limit:
        started = time.perf_counter()
        try:
            response = await client.post(path, content=body, headers=headers)
            status: int | None = response.status_code
        except httpx.HTTPError:
            status = None
        return Sent(kind, key, status, time.perf_counter() - started, repeat)


async def _drive(
    base: str, planned: list[tuple[str, str, bool]], concurrency: int, max_seconds: float
) -> tuple[list[Sent], float]:
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.monotonic() + max_seconds
    results: list[Sent] = []
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:
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
    return results, elapsed


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def verify(url: str, results: list[Sent]) -> tuple[list[str], list[str], int]:
    """(lost, duplicated, stored without a 2xx) against what the database holds."""
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
    ok_keys = {(r.kind, r.key) for r in results if r.status is not None and 200 <= r.status < 300}
    lost, duplicated = [], []
    for kind, key in sorted(ok_keys):
        stored = api_counts.get(key, 0) if kind == "api" else event_counts.get(f"event:{key}", 0)
        if stored == 0:
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
) -> LoadResult:
    with contextlib.ExitStack() as stack:
        home = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
        home.mkdir(parents=True, exist_ok=True)
        url = database_url or f"sqlite:///{home / 'load.db'}"
        seed(url)
        planned = plan(requests, random.Random(seed_value))
        with serving(url, home) as base:
            results, elapsed = asyncio.run(_drive(base, planned, concurrency, max_seconds))
        lost, duplicated, extra = verify(url, results)
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
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: a fresh database is created on it and dropped after",
    )
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres(args.database_url)) if args.database_url else None
        result = run_load(args.requests, args.concurrency, args.max_seconds, url)
    print(json.dumps(result.as_dict(), indent=2))
    return 0 if not result.lost and not result.duplicated else 1


if __name__ == "__main__":
    sys.exit(main())
