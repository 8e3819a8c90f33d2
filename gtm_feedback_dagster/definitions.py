"""The one `Definitions` object of the code location, listing everything it loads.

A new asset, job, sensor or schedule is added here by name; nothing is collected by scanning
packages, so this file is the table of contents of the Dagster shell.
"""

from __future__ import annotations

import dagster as dg

from gtm_feedback_dagster.assets.area_demand import area_demand
from gtm_feedback_dagster.assets.area_insight_report import area_insight_report
from gtm_feedback_dagster.assets.related_request_graph import related_request_graph
from gtm_feedback_dagster.assets.request_embeddings import request_embeddings
from gtm_feedback_dagster.assets.routing_calibration import routing_calibration
from gtm_feedback_dagster.assets.sources import source_assets
from gtm_feedback_dagster.assets.weekly_digest import weekly_digest
from gtm_feedback_dagster.jobs.analytics import area_insights_job, weekly_digest_job
from gtm_feedback_dagster.jobs.deliver_outbox import deliver_outbox_job
from gtm_feedback_dagster.jobs.embeddings import request_embeddings_job
from gtm_feedback_dagster.jobs.merge_proposals import propose_merges_job
from gtm_feedback_dagster.jobs.notify_shipped import notify_shipped_job
from gtm_feedback_dagster.jobs.resolve_slack_responses import resolve_slack_responses_job
from gtm_feedback_dagster.jobs.route_feedback import route_feedback_job
from gtm_feedback_dagster.jobs.routing_calibration import routing_calibration_job
from gtm_feedback_dagster.jobs.send_reminders import send_reminders_job
from gtm_feedback_dagster.resources import build_resources
from gtm_feedback_dagster.schedules.area_insights import daily_area_insights_schedule
from gtm_feedback_dagster.schedules.embedding_resync import embedding_resync_schedule
from gtm_feedback_dagster.schedules.routing_calibration import weekly_routing_calibration_schedule
from gtm_feedback_dagster.schedules.weekly_digest import weekly_digest_schedule
from gtm_feedback_dagster.sensors.firehose import firehose_sensor
from gtm_feedback_dagster.sensors.merge_proposals import merge_proposal_sensor
from gtm_feedback_dagster.sensors.new_feedback import new_feedback_sensor
from gtm_feedback_dagster.sensors.outbox import outbox_sensor
from gtm_feedback_dagster.sensors.product_area_partitions import product_area_partitions_sensor
from gtm_feedback_dagster.sensors.reminders import reminder_sensor
from gtm_feedback_dagster.sensors.run_failures import run_failure_sensor
from gtm_feedback_dagster.sensors.shipped import shipped_sensor
from gtm_feedback_dagster.sensors.slack_responses import slack_response_sensor
from gtm_feedback_dagster.sensors.source_observations import source_observation_sensor


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        # The asset checks are declared on their assets (`check_specs`), so they load with them.
        assets=[
            *source_assets,
            request_embeddings,
            related_request_graph,
            area_insight_report,
            area_demand,
            weekly_digest,
            routing_calibration,
        ],
        jobs=[
            route_feedback_job,
            resolve_slack_responses_job,
            deliver_outbox_job,
            notify_shipped_job,
            send_reminders_job,
            request_embeddings_job,
            area_insights_job,
            weekly_digest_job,
            routing_calibration_job,
            propose_merges_job,
        ],
        sensors=[
            new_feedback_sensor,
            slack_response_sensor,
            outbox_sensor,
            firehose_sensor,
            reminder_sensor,
            shipped_sensor,
            product_area_partitions_sensor,
            run_failure_sensor,
            source_observation_sensor,
            merge_proposal_sensor,
        ],
        schedules=[
            daily_area_insights_schedule,
            weekly_digest_schedule,
            embedding_resync_schedule,
            weekly_routing_calibration_schedule,
        ],
        resources=build_resources(),
    )


defs = build_definitions()
