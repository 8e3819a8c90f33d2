"""Database fixtures, loaded as a pytest plugin (see `addopts` in pyproject.toml).

PostgreSQL tests use the real server on 127.0.0.1:5432. Locally they skip when it is down; with
GTM_FEEDBACK_REQUIRE_POSTGRES=1 (set by .ci/run) they fail instead, so CI never passes by
skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gtm_feedback_dagster.store import db

PG_SERVER_URL = os.environ.get(
    "GTM_FEEDBACK_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def _require_postgres() -> bool:
    return os.environ.get("GTM_FEEDBACK_REQUIRE_POSTGRES", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    try:
        engine = create_engine(db.normalize_url(PG_SERVER_URL), connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any connection failure means "no server"
        message = f"PostgreSQL not reachable at {PG_SERVER_URL}: {exc}"
        if _require_postgres():
            pytest.fail(message)
        pytest.skip(message)
    return db.normalize_url(PG_SERVER_URL)


def create_pg_database(server_url: str) -> str:
    name = f"gtmtest_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    db.engine_for.cache_clear()  # release pooled connections to the database being dropped
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def pg_empty_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    url = create_pg_database(pg_server_url)
    try:
        yield url
    finally:
        drop_pg_database(pg_server_url, url)


@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """A fresh PostgreSQL app database at the latest schema."""
    db.upgrade(pg_empty_url)
    return pg_empty_url


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A fresh SQLite app database at the latest schema."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path, sqlite_url: str) -> str:  # type: ignore[no-untyped-def]
    """Points settings (CLI, resources) at a fresh home and database; returns the URL."""
    monkeypatch.setenv("GTM_FEEDBACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GTM_FEEDBACK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    for name in ("SLACK_BOT_TOKEN", "OPENAI_API_KEY", "GTM_FEEDBACK_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return sqlite_url


def postgres_instance_overrides(url: str) -> dict:
    return {
        "storage": {"postgres": {"postgres_url": url}},
        "telemetry": {"enabled": False},
    }


@pytest.fixture
def pg_dagster_instance(pg_server_url: str):  # type: ignore[no-untyped-def]
    """A Dagster instance whose run, event-log and schedule storage is dagster-postgres."""
    import dagster as dg

    url = create_pg_database(pg_server_url)
    try:
        with dg.instance_for_test(overrides=postgres_instance_overrides(url)) as instance:
            yield instance
    finally:
        drop_pg_database(pg_server_url, url)


@pytest.fixture(params=["sqlite", "postgres"])
def dagster_env(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """(Dagster instance, app database URL): both on SQLite, or both on PostgreSQL."""
    import dagster as dg

    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
        with dg.instance_for_test() as instance:
            yield instance, url
    else:
        url = request.getfixturevalue("pg_url")
        instance = request.getfixturevalue("pg_dagster_instance")
        yield instance, url
