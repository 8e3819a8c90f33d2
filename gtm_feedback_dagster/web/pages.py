"""The request pages: the list (sort, filters, search, pages), one request, an area's latest
insight report and its chart; the stylesheet and the home redirect.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from gtm_feedback_dagster.requests import views
from gtm_feedback_dagster.requests.listing import (
    SORTS,
    DemandCache,
    filter_choices,
    list_request_page,
)
from gtm_feedback_dagster.store.schema import Request as DbRequest
from gtm_feedback_dagster.web.auth import Identity
from gtm_feedback_dagster.web.base import WebBase
from gtm_feedback_dagster.web.render import markdown_html

log = logging.getLogger(__name__)

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,219}")


def _renamed(session: Session, slug: str) -> views.Moved | None:
    """Where an old slug (kept in `meta["old_slugs"]` by `requests edit`) lives now, following
    merges from there; the most recently renamed request wins if two ever held it."""
    pattern = '%"' + slug.replace("\\", "").replace("%", "").replace("_", "\\_") + '"%'
    rows = session.scalars(
        select(DbRequest)
        .where(cast(DbRequest.meta, String).like(pattern, escape="\\"))
        .order_by(DbRequest.updated_at.desc(), DbRequest.id.desc())
    )
    for row in rows:
        if slug in (row.meta or {}).get("old_slugs", []):
            current = views.current_request(session, row.slug)
            return current if isinstance(current, views.Moved) else views.Moved(row.slug)
    return None


class RequestPages(WebBase):
    demand: DemandCache  # every request's demand, reloaded in the background
    css: bytes
    _chart_cache: dict[int, bytes | None]
    _chart_lock: threading.Lock

    def requests_list(self, request: Request, who: Identity) -> Response:
        q = request.query_params
        sort = q.get("sort") if q.get("sort") in (*SORTS, "relevance") else "arr"
        area = (q.get("area") or "").strip() or None
        status = (q.get("status") or "").strip() or None
        segment = (q.get("segment") or "").strip() or None
        text = (q.get("q") or "").strip()[: self.settings.max_text_chars]
        page = (
            int(q.get("page"))
            if (q.get("page") or "").isascii()
            and (q.get("page") or "").isdigit()
            and len(q.get("page") or "") < 6
            else 1
        )
        only_ids: list[int] | None = None
        notice = None
        if text:
            if self.search is None:
                notice = "Search is not available in this process."
            else:
                try:
                    hits = self.search.search(text, area, 50)
                    only_ids = [int(h["request_id"]) for h in hits]
                    if "sort" not in q:
                        sort = "relevance"
                except Exception as exc:  # a bad area or an unavailable model
                    notice = f"Search failed: {exc}"
        with self.runtime.session() as session:
            listing = list_request_page(
                session,
                sort=sort,
                area=area,
                status=status,
                segment=segment,
                only_ids=only_ids,
                page=page,
                demand=self.demand,
            )
            choices = filter_choices(session)
        params = {
            k: v
            for k, v in (("q", text), ("area", area), ("status", status), ("segment", segment))
            if v
        }

        def link(**changes: Any) -> str:
            merged = {**params, "sort": sort, **changes}
            return "/requests?" + urlencode({k: v for k, v in merged.items() if v})

        return self.page(
            request,
            "requests.html",
            who,
            listing=listing,
            choices=choices,
            sort=sort,
            area=area,
            status=status,
            segment=segment,
            q=text,
            link=link,
            notice=notice,
        )

    def request_show(self, request: Request, who: Identity) -> Response:
        slug = request.path_params["slug"]
        if not _SLUG.fullmatch(slug):
            return self.error(request, who, 404, "No such request.")
        with self.runtime.session() as session:
            found = views.current_request(session, slug)
            if found is None:
                found = _renamed(session, slug)
            if isinstance(found, views.Moved):
                return self.secure(
                    RedirectResponse(f"/requests/{quote(found.slug)}", status_code=301)
                )
            if found is None:
                return self.error(request, who, 404, "No such request.")
            data = views.request_page(session, found)
        return self.page(request, "request.html", who, r=data)

    def area_show(self, request: Request, who: Identity) -> Response:
        slug = request.path_params["slug"]
        from gtm_feedback_dagster.analytics.render import CHART_PLACEHOLDER

        with self.runtime.session() as session:
            data = (
                views.area_report(session, slug, with_data=False) if _SLUG.fullmatch(slug) else None
            )
        if data is None:
            return self.error(request, who, 404, "No such area.")
        html = None
        has_chart = False
        if data["report"] is not None:
            markdown = data["report"]["markdown"]
            has_chart = CHART_PLACEHOLDER in markdown
            markdown = markdown.replace(CHART_PLACEHOLDER, "")
            # Request links in the stored report point at GTM_FEEDBACK_APP_URL: keep them local.
            markdown = markdown.replace(f"{self.settings.app_url}/requests/", "/requests/")
            html = markdown_html(markdown)
        asset_url = f"{self.settings.dagster_url}/assets/area_insight_report"
        return self.page(
            request,
            "area.html",
            who,
            area=data["area"],
            report=data["report"],
            html=html,
            has_chart=has_chart,
            asset_url=asset_url,
        )

    def area_chart(self, request: Request, who: Identity) -> Response:
        slug = request.path_params["slug"]
        with self.runtime.session() as session:
            data = views.area_report(session, slug) if _SLUG.fullmatch(slug) else None
        if data is None or data["report"] is None:
            return self.secure(PlainTextResponse("no chart", status_code=404))
        report_id = data["report"]["id"]
        with self._chart_lock:
            cached = report_id in self._chart_cache
            png = self._chart_cache.get(report_id)
        if not cached:
            from gtm_feedback_dagster.analytics.render import render_chart_png

            try:
                png = render_chart_png(data["report"]["data"])
            except Exception:
                log.exception("chart of report %s failed", report_id)
                png = None
            with self._chart_lock:
                self._chart_cache[report_id] = png
        if not png:
            return self.secure(PlainTextResponse("no chart", status_code=404))
        response = Response(png, media_type="image/png")
        self.secure(response)
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    async def stylesheet(self, request: Request) -> Response:
        response = Response(self.css, media_type="text/css")
        self.secure(response)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    async def home(self, request: Request) -> Response:
        return self.secure(RedirectResponse("/requests", status_code=303))
