"""Reference lookups: how an intake turns the account, submitter, opportunity, request and area
a record names into primary keys.

`Resolver` is the interface the feedback validator (`feedback.validate.prepare_feedback`) and
the catalogue upserts use; a lookup returns the id or raises `repo.NotFoundError` with the
message the user sees. `RefResolver` answers from the database (CSV import, CLI, HTTP API, Slack,
retries); the reference import answers from the id maps it builds phase by phase
(`feedback.reference_import.feedback.MapResolver`).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.schema import Account, Opportunity, Request, User


class Resolver(Protocol):
    """Reference -> primary key; unknown references raise `repo.NotFoundError`."""

    def account(self, ref: str) -> int: ...

    def user(self, ref: str) -> int: ...

    def opportunity(self, ref: str, account_id: int | None) -> int: ...

    def request(self, ref: str) -> int: ...


class RefResolver:
    """Memoised reference lookups: an import names the same few accounts and users thousands of
    times. With `external_ids_only`, references are matched on external (CRM / reference-system)
    ids only — a numeric reference id must not be mistaken for one of our primary keys."""

    def __init__(
        self,
        session: Session,
        external_ids_only: bool = False,
        memo: dict[tuple[str, str, int | None], int | repo.NotFoundError] | None = None,
    ) -> None:
        self.session = session
        self.external_ids_only = external_ids_only
        # Shared between the batches of one import: ids stay valid across transactions.
        self.memo = memo if memo is not None else {}

    def _lookup(self, kind: str, ref: str, extra: int | None, find: Any) -> int:
        key = (kind, ref, extra)
        if key not in self.memo:
            try:
                self.memo[key] = find()
            except repo.NotFoundError as exc:
                self.memo[key] = exc
        found = self.memo[key]
        if isinstance(found, repo.NotFoundError):
            raise found
        return found

    def _by_external_id(self, model: Any, ref: str, what: str) -> int:
        found = self.session.scalars(select(model.id).where(model.external_id == ref)).first()
        if found is None:
            raise repo.NotFoundError(f"unknown {what} {ref!r}")
        return int(found)

    def account(self, ref: str) -> int:
        if self.external_ids_only:
            return self._lookup(
                "account", ref, None, lambda: self._by_external_id(Account, ref, "account")
            )
        return self._lookup(
            "account", ref, None, lambda: repo.resolve_account(self.session, ref).id
        )

    def user(self, ref: str) -> int:
        if self.external_ids_only:
            return self._lookup("user", ref, None, lambda: self._by_external_id(User, ref, "user"))
        return self._lookup("user", ref, None, lambda: repo.resolve_user(self.session, ref).id)

    def opportunity(self, ref: str, account_id: int | None) -> int:
        def find() -> int:
            if self.external_ids_only:
                opp_id = self._by_external_id(Opportunity, ref, "opportunity")
                opp = self.session.get(Opportunity, opp_id)
                if account_id is not None and opp is not None and opp.account_id != account_id:
                    raise repo.NotFoundError(
                        f"opportunity {ref!r} belongs to another account than the entry's"
                    )
                return opp_id
            account = self.session.get(Account, account_id) if account_id is not None else None
            try:
                return repo.resolve_opportunity(self.session, ref, account).id
            except repo.NotFoundError:
                if account is None:
                    raise
            # Say why when the opportunity exists under another account.
            try:
                other = repo.resolve_opportunity(self.session, ref, None)
            except repo.NotFoundError:
                raise repo.NotFoundError(
                    f"unknown opportunity {ref!r} for account {account.name!r}"
                ) from None
            raise repo.NotFoundError(
                f"opportunity {ref!r} belongs to account {other.account.name!r}, "
                f"not {account.name!r}"
            )

        return self._lookup("opportunity", ref, account_id, find)

    def request(self, ref: str) -> int:
        if self.external_ids_only:
            return self._lookup(
                "request", ref, None, lambda: self._by_external_id(Request, ref, "request")
            )
        return self._lookup(
            "request", ref, None, lambda: repo.resolve_request(self.session, ref).id
        )

    def area(self, ref: str) -> int:
        return self._lookup("area", ref, None, lambda: repo.resolve_area(self.session, ref).id)

    def forget_missing(self) -> None:
        """Drops memoised misses, e.g. after rows created new accounts or users."""
        for key in [k for k, v in self.memo.items() if isinstance(v, Exception)]:
            del self.memo[key]
