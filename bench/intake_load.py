"""Intake service under a bounded loopback load: `gtm-feedback serve` (uvicorn, one process) in a
subprocess on 127.0.0.1:<free port>, driven by an httpx async client with a fixed concurrency,
a fixed number of requests and a time bound.

The load mixes signed Slack events (`reaction_added` with the feedback emoji, each a new event id,
signed with the run's signing secret as Slack signs: HMAC-SHA256 over `v0:{ts}:{body}`) and
authenticated `POST /api/feedback` submissions (each a new external id). Afterwards every
accepted request is looked up in the database: Slack events in `slack_inbox` by dedupe key, API
entries in `feedback` by (source, external id).

Baseline in the same run, against the same server: `GET /healthz` (one `select 1`) at the same
concurrency — the floor of the server's request handling on this machine.

The signing secret and API token are random per run, handed to the server through its
environment only, and never printed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select

from bench.common import (
    OFFLINE_ENV,
    BenchConfig,
    cached_database,
    demo_dataset,
    import_dataset,
    median,
    release,
    summary,
    working_copy,
)
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import Account, Feedback, SlackInbox, User

STARTUP_TIMEOUT_SECONDS = 60.0
WARMUP_REQUESTS = 10
EMOJI = "gtm-feedback"  # the default GTM_FEEDBACK_EMOJI
CHUNK = 500


@dataclass(frozen=True)
class Call:
    kind: str  # slack | api | healthz
    method: str
    path: str
    body: bytes
    key: str  # dedupe key (slack) or external id (api)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def intake_server(url: str, home: Path, signing_secret: str, api_token: str) -> Iterator[str]:
    """`gtm-feedback serve` in a subprocess; yields its base URL once /healthz answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if OFFLINE_ENV.get(k, "") is not None}
    env.update({k: v for k, v in OFFLINE_ENV.items() if v is not None})
    env.update(
        GTM_FEEDBACK_HOME=str(home),
        GTM_FEEDBACK_DATABASE_URL=url,
        SLACK_SIGNING_SECRET=signing_secret,
        GTM_FEEDBACK_API_TOKEN=api_token,
    )
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "serve.log"
    command = [
        sys.executable,
        "-c",
        "from gtm_feedback_dagster.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the intake service exited:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the intake service did not answer /healthz in time")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def slack_event(run: str, n: int) -> Call:
    event_id = f"Ev{run}{n:07d}"
    ts = f"{1_800_000_000 + n}.{n % 1_000_000:06d}"
    payload = {
        "type": "event_callback",
        "team_id": "T0BENCH01",
        "event_id": event_id,
        "event": {
            "type": "reaction_added",
            "user": "U0BENCH01",
            "reaction": EMOJI,
            "item": {"type": "message", "channel": "C0BENCH01", "ts": ts},
            "event_ts": ts,
        },
    }
    return Call("slack", "POST", "/slack/events", json.dumps(payload).encode(), f"event:{event_id}")


def api_submission(run: str, n: int, account: str, submitter: str) -> Call:
    external_id = f"bench-{run}-{n}"
    payload = {
        "customer_pain": f"Load test entry {n}: exports of large dashboards time out after a minute.",
        "severity": ("Nice to have", "Significant pain", "Dealbreaker")[n % 3],
        "account": account,
        "submitter": submitter,
        "external_id": external_id,
    }
    return Call("api", "POST", "/api/feedback", json.dumps(payload).encode(), external_id)


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


async def drive(
    base: str,
    calls: list[Call],
    concurrency: int,
    seconds: float,
    signing_secret: str,
    api_token: str,
) -> dict[str, Any]:
    """Sends `calls` with `concurrency` workers until done or `seconds` have passed."""
    queue: asyncio.Queue[Call] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    accepted: dict[str, list[str]] = {"slack": [], "api": []}
    errors: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while not queue.empty() and time.perf_counter() < deadline:
                call = queue.get_nowait()
                if call.kind == "slack":
                    headers = signed_headers(signing_secret, call.body)
                elif call.kind == "api":
                    headers = {
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {api_token}",
                    }
                else:
                    headers = {}
                t = time.perf_counter()
                try:
                    response = await client.request(
                        call.method, call.path, content=call.body or None, headers=headers
                    )
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - t)
                statuses[f"{call.kind} {response.status_code}"] += 1
                ok = (call.kind == "slack" and response.status_code == 200) or (
                    call.kind == "api" and response.status_code == 201
                )
                if ok and not (call.kind == "slack" and response.json().get("duplicate")):
                    accepted[call.kind].append(call.key)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([float("nan")])
    return {
        "sent": len(latencies) + sum(errors.values()),
        "completed": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "statuses": dict(statuses),
        "errors": dict(errors),
        "accepted": accepted,
        "unsent": queue.qsize(),
    }


def stored_counts(url: str, accepted: dict[str, list[str]]) -> dict[str, int]:
    found = {"slack": 0, "api": 0}
    with session_scope(url) as session:
        for start in range(0, len(accepted["slack"]), CHUNK):
            chunk = accepted["slack"][start : start + CHUNK]
            found["slack"] += session.scalar(
                select(func.count()).select_from(SlackInbox).where(SlackInbox.dedupe_key.in_(chunk))
            )
        for start in range(0, len(accepted["api"]), CHUNK):
            chunk = accepted["api"][start : start + CHUNK]
            found["api"] += session.scalar(
                select(func.count())
                .select_from(Feedback)
                .where(Feedback.source == "api", Feedback.external_id.in_(chunk))
            )
    return found


def run(cfg: BenchConfig) -> dict[str, Any]:
    data = demo_dataset(cfg)

    def build(url: str) -> None:
        import_dataset(url, data, route=False)

    template = cached_database(cfg, f"intake-x{cfg.scale}-s{cfg.seed}", build)
    url = working_copy(template, cfg.work_dir / "intake.db")
    with session_scope(url) as session:
        account = session.scalar(
            select(Account.external_id).where(Account.external_id.is_not(None)).limit(1)
        )
        submitter = session.scalar(select(User.email).order_by(User.id.desc()).limit(1))
    release(url)
    signing_secret = secrets.token_hex(16)
    api_token = secrets.token_hex(16)
    repeats = cfg.repeats
    loads: list[dict[str, Any]] = []
    baselines: list[dict[str, Any]] = []
    stored: list[dict[str, int]] = []
    with intake_server(url, cfg.work_dir / "intake-home", signing_secret, api_token) as base:
        for repeat in range(repeats):
            run_id = uuid.uuid4().hex[:8].upper()
            calls = [
                slack_event(run_id, n)
                if n % 2 == 0
                else api_submission(run_id, n, str(account), str(submitter))
                for n in range(cfg.intake_requests + WARMUP_REQUESTS)
            ]
            health = [Call("healthz", "GET", "/healthz", b"", "")] * cfg.intake_requests
            asyncio.run(drive(base, calls[:WARMUP_REQUESTS], 2, 30, signing_secret, api_token))
            cfg.say(
                f"intake repeat {repeat + 1}/{repeats}: {cfg.intake_requests} requests at "
                f"concurrency {cfg.intake_concurrency}"
            )
            baselines.append(
                asyncio.run(
                    drive(
                        base,
                        health,
                        cfg.intake_concurrency,
                        cfg.intake_seconds,
                        signing_secret,
                        api_token,
                    )
                )
            )
            load = asyncio.run(
                drive(
                    base,
                    calls[WARMUP_REQUESTS:],
                    cfg.intake_concurrency,
                    cfg.intake_seconds,
                    signing_secret,
                    api_token,
                )
            )
            loads.append(load)
            stored.append(stored_counts(url, load["accepted"]))
    accepted = [{k: len(v) for k, v in load["accepted"].items()} for load in loads]
    all_stored = all(s == a for s, a in zip(stored, accepted, strict=True))

    def figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "requests_per_second": summary([r["requests_per_second"] for r in runs], 1),
            "p50_ms": summary([r["p50_ms"] for r in runs], 1),
            "p99_ms": summary([r["p99_ms"] for r in runs], 1),
            "completed": [r["completed"] for r in runs],
            "statuses": [r["statuses"] for r in runs],
            "errors": [r["errors"] for r in runs],
            "unsent_at_time_bound": [r["unsent"] for r in runs],
        }

    return {
        "scale": cfg.scale,
        "requests_per_repeat": cfg.intake_requests,
        "concurrency": cfg.intake_concurrency,
        "time_bound_seconds": cfg.intake_seconds,
        "mix": "1/2 signed Slack reaction events, 1/2 API submissions",
        "load": figures(loads),
        "baseline_healthz": figures(baselines),
        "throughput_vs_healthz": round(
            median([r["requests_per_second"] for r in loads])
            / median([r["requests_per_second"] for r in baselines]),
            3,
        ),
        "accepted": accepted,
        "stored": stored,
        "all_accepted_stored": all_stored,
    }
