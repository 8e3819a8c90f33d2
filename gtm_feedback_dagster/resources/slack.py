"""Slack as a Dagster resource.

The bot token is bound as `dg.EnvVar("SLACK_BOT_TOKEN")` only when that variable is set when the
code location loads; otherwise the resource has no token and `get_client()` is None: outbox-only
mode, where messages wait in the outbox (`gtm-feedback outbox`). The token never appears in run
config, logs or metadata.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.config import SLACK_BOT_TOKEN, Settings, secret_is_set
from gtm_feedback_dagster.messaging.slack_client import SlackClient


class SlackResource(dg.ConfigurableResource):
    """The Slack Web API (slack-sdk `WebClient` with 429/5xx/connection retries)."""

    bot_token: str | None = Field(
        default=None, description="Bot token (xoxb-...); empty means outbox-only mode."
    )
    base_url: str | None = Field(
        default=None,
        description="Web API base URL; empty means https://slack.com/api/ (tests use a stand-in).",
    )
    timeout_seconds: float = Field(default=30.0, description="Per-call HTTP timeout.")
    retry_backoff_seconds: float = Field(
        default=0.5, description="Base of the exponential backoff on 5xx/connection errors."
    )

    def get_client(self) -> SlackClient | None:
        """One client per op (it keeps its connection pool and retry handlers)."""
        if not self.bot_token:
            return None
        return SlackClient(
            self.bot_token,
            base_url=self.base_url or None,
            timeout=self.timeout_seconds,
            backoff_factor=self.retry_backoff_seconds,
        )


def slack_resource(settings: Settings) -> SlackResource:
    """Bound when the code location loads. With `GTM_FEEDBACK_SLACK_MODE=api` (production) a
    missing SLACK_BOT_TOKEN stops the code server with a clear error instead of quietly
    running outbox-only."""
    base_url = settings.slack_base_url
    if settings.slack_mode == "outbox":
        return SlackResource(base_url=base_url)
    if secret_is_set(SLACK_BOT_TOKEN):
        return SlackResource(bot_token=dg.EnvVar(SLACK_BOT_TOKEN), base_url=base_url)
    if settings.slack_mode == "api":
        raise dg.DagsterInvariantViolationError(
            "GTM_FEEDBACK_SLACK_MODE=api but SLACK_BOT_TOKEN is not set: set the bot token, or "
            "GTM_FEEDBACK_SLACK_MODE=outbox to keep messages in the outbox"
        )
    return SlackResource(base_url=base_url)
