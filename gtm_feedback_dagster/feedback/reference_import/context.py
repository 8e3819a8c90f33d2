"""What the phases of a reference import share: the target (a session, or a URL committed
phase by phase), the options, the summary, and the reference id -> primary key maps each phase
fills for the next ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy.orm import Session

from gtm_feedback_dagster.core.text import slugify
from gtm_feedback_dagster.core.validation import text_or_none
from gtm_feedback_dagster.feedback.reference_import.report import ImportSummary
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import utcnow


class ImportContext:
    def __init__(
        self,
        target: Session | str,
        route: bool,
        max_chars: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.target = target
        self.route = route
        self.max_chars = max_chars
        self.progress = progress or (lambda n: None)
        self.summary = ImportSummary()
        self.now = utcnow()
        # reference id -> our primary key
        self.users: dict[str, int] = {}
        self.users_by_email: dict[str, int] = {}
        self.areas: dict[str, int] = {}
        self.accounts: dict[str, int] = {}
        self.opportunities: dict[str, tuple[int, int]] = {}  # -> (id, account id)
        self.requests: dict[str, int] = {}

    @contextmanager
    def tx(self) -> Iterator[Session]:
        if isinstance(self.target, Session):
            with nullcontext(self.target) as session:
                yield session
                session.flush()
        else:
            with session_scope(self.target) as session:
                yield session

    def user_id(self, ref: object) -> int | None:
        text = text_or_none(ref)
        if text is None:
            return None
        return self.users.get(text) or self.users_by_email.get(text.lower())

    def area_id(self, ref: str) -> int | None:
        """By reference id, slug or (case-insensitive) name."""
        return self.areas.get(ref) or self.areas.get(ref.lower()) or self.areas.get(slugify(ref))
