"""Slack request signatures (v0 HMAC-SHA256 over `v0:<timestamp>:<raw body>`, 5-minute replay
window), checked on the exact bytes received.

The HMAC is computed over the raw bytes, never over a decoded text: slack-sdk's
`SignatureVerifier` decodes the body as UTF-8 first, so a correctly signed body that is not UTF-8
would be refused as a bad signature (401) although it is only a malformed payload (400). The
routes decode after this check and answer 400 when decoding fails."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Protocol

MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused
REPLAY_WINDOW_SECONDS = 300  # Slack's documented window (and what slack-sdk enforces)
_MAX_TIMESTAMP_DIGITS = 15  # a Unix time in seconds; longer is refused before int()


class ClockLike(Protocol):
    def now(self) -> float: ...


class _SystemClock:
    def now(self) -> float:
        return time.time()


def signing_secret_from_env() -> str | None:
    from gtm_feedback_dagster.config import load_secrets

    return load_secrets().slack_signing_secret


def expected_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex HMAC-SHA256>` of `v0:<timestamp>:<body>`, over bytes."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


class SlackSignature:
    """Verifies requests; `clock` is injectable for tests of the replay window."""

    def __init__(self, signing_secret: str, clock: ClockLike | None = None) -> None:
        if not signing_secret or not signing_secret.strip():
            raise ValueError("a Slack signing secret is required")
        self._secret = signing_secret
        self._clock: ClockLike = clock or _SystemClock()

    def __repr__(self) -> str:  # never show the secret
        return "SlackSignature(...)"

    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
        signature = headers.get("x-slack-signature")
        if not signature or not timestamp.isascii() or not timestamp.isdigit():
            return False
        if len(timestamp) > _MAX_TIMESTAMP_DIGITS:
            return False
        if abs(self._clock.now() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
            return False
        expected = expected_signature(self._secret, timestamp, bytes(body))
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))
