"""The triage page and its actions: entries in triage (attach to the suggestion or a request id,
or create a request — `routing/triage.py`, as the CLI), stale approvals (attach / create),
declined suggestions and likely duplicates (merge / keep both). Every action clears the cached list and queue.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gtm_feedback_dagster.requests.lifecycle import keep_both
from gtm_feedback_dagster.requests.listing import DemandCache, OrderCache
from gtm_feedback_dagster.requests.triage import triage_items
from gtm_feedback_dagster.web.auth import Identity
from gtm_feedback_dagster.web.base import WebBase
from gtm_feedback_dagster.web.render import clean

TRIAGE_LIMIT = 25  # items per triage section, oldest / strongest first


class TriagePages(WebBase):
    demand: DemandCache
    triage_cache: OrderCache

    def triage(self, request: Request, who: Identity) -> Response:
        def compute() -> Any:
            with self.runtime.session() as session:
                return triage_items(session, limit=TRIAGE_LIMIT)

        # Cached like the list orderings (the graph scan costs ~100 ms at 100x the demo);
        # every web action clears it, so a resolved item is gone at once.
        items = self.triage_cache.get("triage", compute)
        done = request.query_params.get("done")
        return self.page(
            request, "triage.html", who, items=items, done=clean(done)[:200] if done else None
        )

    # ------------------------------------------------------------------ actions

    def _decide(self, approval_id: int, decision: str, who: Identity) -> str:
        """As `gtm-feedback approvals approve|reject --now`: an inbox row, resolved at once."""
        from sqlalchemy import select

        from gtm_feedback_dagster.slack.dispatch import resolve_inbox
        from gtm_feedback_dagster.slack.inbox import store_inbox
        from gtm_feedback_dagster.slack.payloads import approval_action
        from gtm_feedback_dagster.store.schema import SlackInbox

        key = f"web:approval:{approval_id}:{decision}"
        with self.runtime.session() as session:
            payload = approval_action(
                approval_id, decision, source="web", actor=f"web:{who.email}"[:200]
            )
            inbox_id = store_inbox(session, "interaction", key, payload)
            if inbox_id is None:
                inbox_id = session.scalar(select(SlackInbox.id).where(SlackInbox.dedupe_key == key))
        report = resolve_inbox(self.runtime, [inbox_id])
        if inbox_id in report.errors:
            return f"approval #{approval_id}: {report.errors[inbox_id]}"
        return f"approval #{approval_id}: {report.outcomes.get(inbox_id, 'already handled')}"

    def _entry_of(self, approval_id: int) -> int:
        from gtm_feedback_dagster.store.schema import Approval

        with self.runtime.session() as session:
            approval = session.get(Approval, approval_id)
            if approval is None:
                raise LookupError(f"unknown approval #{approval_id}")
            return int(approval.feedback_id)

    def _triage(self, what: str, entry_id: int, request_id: int | None, who: Identity) -> str:
        """The same use case as `gtm-feedback triage attach|create` (routing/triage.py)."""
        from gtm_feedback_dagster.routing import triage

        actor = f"web:{who.email}"[:200]
        if what == "attach":
            outcome = triage.attach(self.runtime, entry_id, request_id, actor)
        else:
            outcome = triage.create(self.runtime, entry_id, actor)
        return f"entry #{entry_id}: {outcome.replace('_', ' ')}"

    def action(self, request: Request, who: Identity, form: dict[str, str]) -> Response:
        kind = request.path_params["action"]
        try:
            return self._act(request, who, form, kind)
        finally:
            # After the action (done or refused): the acting person's next views show it.
            self.demand.invalidate()
            self.triage_cache.clear()

    def _act(self, request: Request, who: Identity, form: dict[str, str], kind: str) -> Response:
        try:
            if kind in ("attach", "create"):
                approval_id = int(form.get("approval", ""))
                message = self._decide(
                    approval_id, "approve" if kind == "attach" else "decline", who
                )
                if kind == "create" and self.settings.decline_to == "triage":
                    # The owner asked for a request: the decline put the entry in triage.
                    message = self._triage("create", self._entry_of(approval_id), None, who)
            elif kind in ("entry-attach", "entry-create"):
                entry_id = int(form.get("entry", ""))
                target = int(form["request"]) if form.get("request", "").strip() else None
                message = self._triage(kind.removeprefix("entry-"), entry_id, target, who)
            elif kind == "merge":
                from gtm_feedback_dagster.requests.merge import (
                    merge_requests,
                    remove_from_serving_index,
                )

                duplicate, target = int(form.get("duplicate", "")), int(form.get("target", ""))
                with self.runtime.session() as session:
                    result = merge_requests(session, duplicate, target, self.settings.app_url)
                if not result.already_merged:
                    remove_from_serving_index(self.settings, result.duplicate_id)
                message = result.summary()
            elif kind == "keep":
                a, b = int(form.get("a", "")), int(form.get("b", ""))
                with self.runtime.session() as session:
                    keep_both(session, a, b)
                message = f"#{a} and #{b} kept as separate requests"
            else:
                return self.error(request, who, 404, "Unknown action.")
        except (ValueError, LookupError) as exc:
            return self.error(request, who, 400, f"Could not do that: {exc}")
        return self.secure(
            RedirectResponse("/triage?" + urlencode({"done": message[:200]}), status_code=303)
        )
