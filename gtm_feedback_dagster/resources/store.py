"""The app database as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field, PrivateAttr
from sqlalchemy.orm import Session

from gtm_feedback_dagster.config import Settings, load_settings
from gtm_feedback_dagster.store.db import session_scope


class StoreResource(dg.ConfigurableResource):
    """Sessions on the app database.

    The URL defaults to `GTM_FEEDBACK_DATABASE_URL` read at run time (it may hold a password, so
    it is not put in run config); tests pass an explicit URL.
    """

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means GTM_FEEDBACK_DATABASE_URL or the local SQLite file.",
    )

    _settings: Settings | None = PrivateAttr(default=None)

    @property
    def settings(self) -> Settings:
        """Read once per resource instance (not on every access)."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def url(self) -> str:
        return self.database_url or self.settings.database_url

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on error."""
        with session_scope(self.url) as session:
            yield session
