"""`weekly_digest`: last week's feedback trends, queued for the digest Slack channel.

Depends on every partition of `area_insight_report` (an unpartitioned asset gets the
all-partitions mapping), so in the asset graph it comes after the day's area reports. Only queues
the message (outbox, dedupe key per ISO week); delivering the outbox is the Slack jobs' work.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.analytics.data import load_digest_data
from gtm_feedback_dagster.analytics.digest import (
    compute_digest,
    digest_channel,
    iso_week,
    render_markdown,
    render_slack,
)
from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.messaging.outbox import enqueue
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.retry import TRANSIENT_RETRY
from gtm_feedback_dagster.store.schema import utcnow

PERIOD = timedelta(days=7)


class WeeklyDigestConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description="End of the 7-day period, ISO date or datetime (default: now). The "
        "schedule passes its tick time. One digest per ISO week of this date.",
    )

    def period_end(self) -> datetime:
        if not self.as_of:
            return utcnow()
        try:
            end = datetime.fromisoformat(self.as_of)
        except ValueError:
            raise dg.Failure(
                f"as_of must be an ISO date or datetime, got {self.as_of!r}", allow_retries=False
            ) from None
        return end if end.tzinfo else end.replace(tzinfo=UTC)


@dg.asset(
    deps=[area_insight_report],
    group_name="analytics",
    retry_policy=TRANSIENT_RETRY,
    owners=["team:gtm-feedback"],
    kinds={"slack", "sql"},
    description=(
        "Weekly digest of the last 7 days: new requests (first asked in the period), new "
        "feedback entries and the requests "
        "that drew them, enterprise dealbreakers added, requests shipped with their follower "
        "counts, and per-area counts. Queued once per ISO week (outbox dedupe key "
        "`digest:<week>`) for SLACK_DIGEST_CHANNEL_ID (default channel `gtm-feedback-digest`)."
    ),
    metadata={"outbox_kind": "weekly_digest"},
    # Due Mondays by 09:00 New York time (the schedule runs at 08:00): a digest not materialized
    # since the previous Monday's 08:00 shows as late in the UI.
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="0 9 * * 1",
        lower_bound_delta=timedelta(hours=1),
        timezone="America/New_York",
    ),
)
def weekly_digest(
    context: dg.AssetExecutionContext, config: WeeklyDigestConfig, store: StoreResource
) -> dg.MaterializeResult:
    settings = store.settings
    end = config.period_end()
    start = end - PERIOD
    week = iso_week(end.date())
    channel = digest_channel(settings.digest_channel)
    with store.session() as session:
        digest = compute_digest(load_digest_data(session, start, end))
        text, blocks = render_slack(digest, app_url=settings.app_url)
        queued = enqueue(
            session,
            kind="weekly_digest",
            dedupe_key=f"digest:{week}",
            text=text,
            channel=channel,
            blocks=blocks,
        )
    if queued is None:
        context.log.info(f"the digest of {week} was already queued; not queued again")
    totals = digest["totals"]
    return dg.MaterializeResult(
        metadata={
            "digest": dg.MetadataValue.md(render_markdown(digest, app_url=settings.app_url)),
            "digest_json": dg.MetadataValue.json(digest),
            "week": dg.MetadataValue.text(week),
            "channel": dg.MetadataValue.text(channel),
            "queued": dg.MetadataValue.bool(queued is not None),
            "new_requests": dg.MetadataValue.int(totals["newRequests"]),
            "new_entries": dg.MetadataValue.int(totals["newEntries"]),
            "dealbreakers_added": dg.MetadataValue.int(totals["dealbreakerEntriesAdded"]),
            "shipped": dg.MetadataValue.int(totals["shipped"]),
            "accounts_with_new_feedback": dg.MetadataValue.int(totals["newEntryAccounts"]),
            "arr_of_accounts_with_new_feedback": dg.MetadataValue.text(
                format_arr(totals["newEntryArr"])
            ),
        }
    )
