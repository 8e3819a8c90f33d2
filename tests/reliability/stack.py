"""One trial's world: the app database, a Dagster instance on disk, the stand-ins and the
environment that points the app at them — shared by the parent (sensor ticks, recovery) and the
children it kills."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from gtm_feedback_dagster.store import db
from tests.reliability.child import resources_from_env
from tests.reliability.slack_ledger import LedgerSlackStandin
from tests.reliability.world import APP_URL, OPENAI_KEY, THRESHOLD_ENV, add_slack_people
from tests.slack.support import SIGNING_SECRET
from tests.standins.openai_standin import OpenAIStandin
from tests.standins.upstash_standin import UpstashStandin

API_TOKEN = "reliability-api-token-0123456789"
UPSTASH_TOKEN = "upstash-reliability-token"


def app_env(
    url: str,
    home: Path,
    slack: LedgerSlackStandin,
    openai: OpenAIStandin,
    upstash: UpstashStandin | None = None,
) -> dict[str, str]:
    """Everything the app reads from the environment, pointing at this trial's world."""
    env = {
        "GTM_FEEDBACK_HOME": str(home),
        "GTM_FEEDBACK_DATABASE_URL": url,
        "DAGSTER_HOME": str(home / "dagster_home"),
        "GTM_FEEDBACK_APP_URL": APP_URL,
        "GTM_FEEDBACK_EMBEDDER": "openai",
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "GTM_FEEDBACK_SLACK_BASE_URL": slack.api_url,
        "GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE": f"{slack.url}/hooks/",
        "GTM_FEEDBACK_API_TOKEN": API_TOKEN,
        "GTM_FEEDBACK_VECTOR_INDEX": "local",
        "GTM_FEEDBACK_LLM_MODEL": "",
        **THRESHOLD_ENV,
    }
    if upstash is not None:
        env.update(
            {
                "GTM_FEEDBACK_VECTOR_INDEX": "upstash",
                "UPSTASH_VECTOR_REST_URL": upstash.url,
                "UPSTASH_VECTOR_REST_TOKEN": UPSTASH_TOKEN,
            }
        )
    return env


@dataclass
class Stack:
    url: str
    home: Path
    slack: LedgerSlackStandin
    openai: OpenAIStandin
    instance: dg.DagsterInstance
    env: dict[str, str]
    upstash: UpstashStandin | None = None
    logs: list[Path] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)  # resources replaced in this process
    # Where this process records the runs it executes while recovering. On SQLite worlds an
    # in-memory instance (fast; those runs always finish, nothing needs to find them later);
    # on PostgreSQL worlds the shared instance, so Dagster's own storage is exercised too.
    recovery_instance: dg.DagsterInstance | None = None

    @property
    def run_instance(self) -> dg.DagsterInstance:
        return self.recovery_instance or self.instance

    def resources(self) -> dict[str, Any]:
        return {**resources_from_env(), **self.overrides}

    def set_env(self, monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
        """Changes the environment of this process and of children started from now on."""
        for name, value in values.items():
            self.env[name] = value
            monkeypatch.setenv(name, value)

    def log_path(self, label: str) -> Path:
        path = self.home / f"{label}.log"
        self.logs.append(path)
        return path


@contextlib.contextmanager
def open_stack(
    url: str,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    upstash: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> Iterator[Stack]:
    """Stand-ins started, the environment set (monkeypatched in this process and handed to
    children), a Dagster instance on disk unless one is given."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster_home").mkdir(exist_ok=True)
    (home / "dagster").mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(LedgerSlackStandin())
        openai = stack.enter_context(OpenAIStandin())
        upstash_server = (
            stack.enter_context(UpstashStandin(dimension=384, token=UPSTASH_TOKEN))
            if upstash
            else None
        )
        add_slack_people(slack, url)
        env = app_env(url, home, slack, openai, upstash_server)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        recovery_instance = None
        if instance is None:
            instance = stack.enter_context(dg.instance_for_test(temp_dir=str(home / "dagster")))
            recovery_instance = dg.DagsterInstance.ephemeral()
        yield Stack(
            url,
            home,
            slack,
            openai,
            instance,
            env,
            upstash_server,
            recovery_instance=recovery_instance,
        )
        # Stand-in bugs must fail the test, not hide behind a retrying client.
        for server in (slack, openai, upstash_server):
            if server is not None:
                assert not server.errors, server.errors
    db.engine_for.cache_clear()
