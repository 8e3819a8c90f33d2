"""Kept for code written against the old module: the request queries live in `requests.queries`."""

from gtm_feedback_dagster.requests.queries import list_requests, request_detail

__all__ = ["list_requests", "request_detail"]
