"""Slack request signatures (v0 HMAC-SHA256 over `v0:<timestamp>:<raw body>`, 5-minute replay
window), checked with slack-sdk's `SignatureVerifier` on the exact bytes received."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from slack_sdk.signature import Clock, SignatureVerifier

MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused
REPLAY_WINDOW_SECONDS = 300  # what SignatureVerifier enforces


class ClockLike(Protocol):
    def now(self) -> float: ...


def signing_secret_from_env() -> str | None:
    from gtm_feedback_dagster.config import load_secrets

    return load_secrets().slack_signing_secret


class SlackSignature:
    """Verifies requests; `clock` is injectable for tests of the replay window."""

    def __init__(self, signing_secret: str, clock: ClockLike | None = None) -> None:
        if not signing_secret:
            raise ValueError("a Slack signing secret is required")
        self._verifier = SignatureVerifier(signing_secret, clock=clock or Clock())  # type: ignore[arg-type]

    def __repr__(self) -> str:  # never show the secret
        return "SlackSignature(...)"

    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature or not timestamp.strip().isdigit():
            return False
        try:
            return bool(
                self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
            )
        except (ValueError, TypeError):
            return False
