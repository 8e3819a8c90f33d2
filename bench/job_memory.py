"""Peak memory of each job of the code location at scale: every job runs in a child process of
its own (`python -m bench.job_memory --child ...`) on the steady-state database, as a run worker
would, with the resources bound by `definitions.py` (app database by GTM_FEEDBACK_DATABASE_URL,
local model and faiss index, Slack through the real client against a local stand-in). The child
reports its resident-set high-water mark (VmHWM, see `peak_rss_mib`) after its imports (the
baseline: Python, Dagster and the code location) and after the run (the peak).

Target (issue 6): peak RSS of each job at 100x <= 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    DATA_NOW,
    OFFLINE_ENV,
    QUIET_LOGS,
    BenchConfig,
    median,
    release,
    rss_mib,
    summary,
    working_copy,
)
from bench.databases import steady_database
from bench.slack_standin import BenchSlack
from bench.steady_state import DueWork, refresh_due_work
from gtm_feedback_dagster.jobs.route_feedback import route_run_config
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import ProductArea, RequestArea

TARGET_MIB = 1024.0
CHILD_TIMEOUT_SECONDS = 3600
FAKE_BOT_TOKEN = "xoxb-benchmark-placeholder"  # not a credential: the stand-in accepts anything
SMOKE_JOBS = ("deliver_outbox_job",)


def _largest_area(url: str) -> str:
    with session_scope(url) as session:
        return str(
            session.execute(
                select(ProductArea.slug)
                .join(RequestArea, RequestArea.area_id == ProductArea.id)
                .group_by(ProductArea.slug)
                .order_by(func.count().desc(), ProductArea.slug)
                .limit(1)
            ).scalar_one()
        )


def job_plans(url: str, plan: DueWork) -> dict[str, dict[str, Any]]:
    """Run config (and partition) of each job, sized like one sensor- or schedule-launched run."""
    area = _largest_area(url)
    return {
        "request_embeddings_job": {
            "partition": area,
            "run_config": {"ops": {"request_embeddings": {"config": {"full_resync": True}}}},
            "what": f"weekly full re-sync of the largest area ({area})",
        },
        "route_feedback_job": {
            "run_config": route_run_config(plan.pending_ids[:200]),
            "what": f"one batch of {min(200, len(plan.pending_ids))} pending entries",
        },
        "resolve_slack_responses_job": {
            "run_config": {
                "ops": {
                    "resolve_slack_responses_op": {
                        "config": {
                            "inbox_ids": plan.unprocessed_inbox_ids,
                            "expire_approval_ids": plan.expired_approval_ids,
                        }
                    }
                }
            },
            "what": f"{len(plan.unprocessed_inbox_ids)} approval decisions, "
            f"{len(plan.expired_approval_ids)} expiries, then delivery",
        },
        "deliver_outbox_job": {
            "run_config": {
                "ops": {
                    "deliver_outbox_op": {
                        "config": {"message_ids": plan.queued_outbox_ids[:200], "limit": 200}
                    }
                }
            },
            "what": f"{min(200, len(plan.queued_outbox_ids))} queued messages to Slack",
        },
        "send_reminders_job": {
            "run_config": {
                "ops": {
                    "queue_reminders_op": {"config": {"request_ids": plan.reminder_request_ids}}
                }
            },
            "what": f"{len(plan.reminder_request_ids)} reminders",
        },
        "notify_shipped_job": {
            "run_config": {
                "ops": {
                    "queue_shipped_notices_op": {
                        "config": {"request_ids": plan.shipped_request_ids[:100]}
                    }
                }
            },
            "what": f"{min(100, len(plan.shipped_request_ids))} shipped requests",
        },
        "area_insights_job": {
            "partition": area,
            "run_config": {
                "ops": {"area_insight_report": {"config": {"day": DATA_NOW.date().isoformat()}}}
            },
            "what": f"graph refresh + report of the largest area ({area})",
        },
        "weekly_digest_job": {
            "run_config": {"ops": {"weekly_digest": {"config": {"as_of": DATA_NOW.isoformat()}}}},
            "what": "digest of the data's last 7 days",
        },
    }


# ---------------------------------------------------------------------------- child process


def peak_rss_mib() -> float:
    """The process's resident-set high-water mark (VmHWM). Not `getrusage().ru_maxrss`: Linux
    keeps that across fork + exec, so a child started by a big parent reports the parent's
    peak; VmHWM belongs to the child's own address space."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import dagster as dg

    from gtm_feedback_dagster.definitions import defs
    from gtm_feedback_dagster.partitions import product_area_partitions

    job = defs.resolve_job_def(spec["job"])
    baseline = peak_rss_mib()
    baseline_now = rss_mib()
    with dg.instance_for_test() as instance:
        if spec.get("partitions"):
            instance.add_dynamic_partitions(product_area_partitions.name or "", spec["partitions"])
        started = time.perf_counter()
        result = job.execute_in_process(
            run_config={**spec["run_config"], **QUIET_LOGS},
            instance=instance,
            partition_key=spec.get("partition"),
            raise_on_error=False,
        )
        seconds = time.perf_counter() - started
        failure = None
        if not result.success:
            events = [e for e in result.all_events if e.is_failure]
            failure = events[0].message if events else "run failed"
    return {
        "success": result.success,
        "failure": failure,
        "seconds": round(seconds, 2),
        "baseline_rss_mib": round(baseline, 1),
        "rss_after_imports_mib": round(baseline_now, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def run_child(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.job_memory", "--child", json.dumps(spec)],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise RuntimeError(f"{spec['job']} child exited with {proc.returncode}:\n{tail}")
    return json.loads(lines[-1])


def run(cfg: BenchConfig) -> dict[str, Any]:
    from gtm_feedback_dagster.definitions import defs

    template, plan = steady_database(cfg)
    defined = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    home = cfg.work_dir / "memory-home"
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    plans: dict[str, dict[str, Any]] = {}
    with BenchSlack() as slack:
        for repeat in range(cfg.repeats):
            # Jobs change the data they work on: every repeat starts from a fresh copy.
            url = working_copy(template, cfg.work_dir / "memory.db")
            refresh_due_work(url, plan)
            plans = job_plans(url, plan)
            with session_scope(url) as session:
                slugs = list(session.scalars(select(ProductArea.slug)))
            release(url)
            names = list(SMOKE_JOBS) if cfg.smoke else [n for n in plans if n in defined]
            if cfg.memory_jobs:
                names = [n for n in names if n in cfg.memory_jobs]
            env = {k: v for k, v in os.environ.items() if OFFLINE_ENV.get(k, "") is not None}
            env.update({k: v for k, v in OFFLINE_ENV.items() if v is not None})
            env.update(
                GTM_FEEDBACK_HOME=str(home),
                DAGSTER_HOME=str(home / "dagster_home"),
                GTM_FEEDBACK_DATABASE_URL=url,
                SLACK_BOT_TOKEN=FAKE_BOT_TOKEN,
                GTM_FEEDBACK_SLACK_BASE_URL=slack.api_url,
                PYTHONPATH=str(Path(__file__).resolve().parent.parent),
            )
            for name in names:
                cfg.say(
                    f"memory {repeat + 1}/{cfg.repeats}: {name} ({plans[name]['what']}) "
                    "in a child process"
                )
                spec = {"job": name, **plans[name], "partitions": slugs}
                runs.setdefault(name, []).append(run_child(spec, env))
        slack_calls = dict(slack.calls)
    jobs: dict[str, Any] = {}
    for name, outcomes in runs.items():
        peaks = [o["peak_rss_mib"] for o in outcomes]
        jobs[name] = {
            "what": plans[name]["what"],
            "success": all(o["success"] for o in outcomes),
            "failures": [o["failure"] for o in outcomes if o["failure"]],
            "peak_rss_mib": round(median(peaks), 1),
            "peak_rss_mib_runs": peaks,
            "baseline_rss_mib": round(median([o["baseline_rss_mib"] for o in outcomes]), 1),
            "seconds": summary([o["seconds"] for o in outcomes], 2),
            "target_met": median(peaks) <= TARGET_MIB,
        }
    return {
        "scale": cfg.scale,
        "jobs": jobs,
        "jobs_not_measured": [n for n in defined if n not in jobs],
        "slack_standin_calls": slack_calls,
        "target_mib": TARGET_MIB,
        "all_targets_met": all(j["target_met"] and j["success"] for j in jobs.values()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one job in this process (benchmark child)")
    parser.add_argument("--child", required=True, help="JSON job spec")
    args = parser.parse_args(argv)
    print(json.dumps(child(json.loads(args.child))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
