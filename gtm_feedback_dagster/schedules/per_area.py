"""Schedules that launch one run per product area, keyed by the scheduled day.

Run keys carry the day and the area, so a re-evaluated tick launches nothing twice; the day is
passed in run config where the job needs it, so a run that starts late still files its work
under its scheduled day.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from gtm_feedback_dagster.partitions import product_area_partitions


def per_area_schedule(
    *,
    name: str,
    job: Any,
    cron_schedule: str,
    execution_timezone: str,
    description: str,
    run_key_prefix: str,
    day_tag: str,
    run_config_for_day: Callable[[str], dg.RunConfig],
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone=execution_timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        areas = context.instance.get_dynamic_partitions(product_area_partitions.name or "")
        if not areas:
            return dg.SkipReason("no product areas yet")
        return [
            dg.RunRequest(
                run_key=f"{run_key_prefix}{day}:{area}",
                partition_key=area,
                run_config=run_config_for_day(day),
                tags={day_tag: day},
            )
            for area in sorted(areas)
        ]

    return _schedule
