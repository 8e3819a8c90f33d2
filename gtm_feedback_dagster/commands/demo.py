"""`gtm-feedback demo`: the whole product on the embedded default, in one command.

Generates the deterministic demo data set (or reuses it), loads it the way a team moving over
from the reference system would (`migrate-reference --route`), routes every entry through
`route_feedback_job` on the local Dagster instance, materializes every asset for every product
area, and prints what happened. Re-running it is safe: imports and routing are idempotent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gtm_feedback_dagster.config import Settings, attach_precision_target, load_settings


def _load_dataset(settings: Settings, seed: int, scale: int) -> tuple[Path, dict[str, Any]]:
    from gtm_feedback_dagster.demo.generator import write_demo_dataset

    path = settings.home / f"demo-seed{seed}-x{scale}.json"
    if not path.exists():
        click.echo(f"generating the demo data set (seed {seed}, scale {scale}) -> {path}")
        write_demo_dataset(path, seed=seed, scale=scale)
    return path, json.loads(path.read_text(encoding="utf-8"))


def _materialize_assets(settings: Settings) -> dict[str, int]:
    """Every asset for every product-area partition, then the unpartitioned ones."""
    import dagster as dg

    from gtm_feedback_dagster.commands.routing import QUIET_CONSOLE
    from gtm_feedback_dagster.definitions import defs
    from gtm_feedback_dagster.instance import local_instance
    from gtm_feedback_dagster.partitions import product_area_partitions
    from gtm_feedback_dagster.resources import build_resources
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.repo import area_slugs

    instance = local_instance(settings)
    with session_scope(settings.database_url) as session:
        slugs = area_slugs(session)
    instance.add_dynamic_partitions(product_area_partitions.name or "product_area", slugs)

    graph = defs.resolve_asset_graph()
    # The unbound definitions: materialize() binds the resources itself.
    assets_defs = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    partitioned = [k for k in graph.materializable_asset_keys if graph.get(k).is_partitioned]
    unpartitioned = [k for k in graph.materializable_asset_keys if not graph.get(k).is_partitioned]
    resources = build_resources()
    done: Counter[str] = Counter()
    with click.progressbar(slugs, label="materializing area assets", file=None) as bar:
        for slug in bar:
            result = dg.materialize(
                assets_defs,
                selection=partitioned,
                partition_key=slug,
                instance=instance,
                resources=resources,
                tags={"gtm/source": "demo"},
                run_config=QUIET_CONSOLE,
            )
            done["area runs"] += int(result.success)
    if unpartitioned:
        result = dg.materialize(
            assets_defs,
            selection=unpartitioned,
            instance=instance,
            resources=resources,
            tags={"gtm/source": "demo"},
            run_config=QUIET_CONSOLE,
        )
        done["unpartitioned runs"] += int(result.success)
    return dict(done)


def _summary(settings: Settings) -> dict[str, Any]:
    from gtm_feedback_dagster.store.db import session_scope
    from gtm_feedback_dagster.store.schema import (
        Approval,
        Feedback,
        OutboxMessage,
        ProductArea,
        Request,
    )

    with session_scope(settings.database_url) as session:
        by_status = dict(
            session.execute(select(Feedback.status, func.count()).group_by(Feedback.status)).all()
        )
        by_match = dict(
            session.execute(
                select(Feedback.match_type, func.count())
                .where(Feedback.match_type.is_not(None))
                .group_by(Feedback.match_type)
            ).all()
        )
        requests = dict(
            session.execute(select(Request.status, func.count()).group_by(Request.status)).all()
        )
        created_by_routing = session.scalar(
            select(func.count()).select_from(Request).where(Request.created_by_routing.is_(True))
        )
        areas = session.scalar(select(func.count()).select_from(ProductArea))
        approvals = session.scalar(
            select(func.count()).select_from(Approval).where(Approval.status == "pending")
        )
        outbox = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
        # The demo generator records each entry's true request (and need): measure routing
        # against it. An entry attached to a request that routing created from an earlier entry
        # counts as right when both entries express the same need.
        rows = session.execute(
            select(Feedback.match_type, Feedback.meta, Request.external_id, Request.meta)
            .outerjoin(Request, Request.id == Feedback.request_id)
            .where(Feedback.match_type.in_(("auto", "new_request")))
        ).all()
        origin_ids = {
            req_meta.get("from_feedback_id")
            for _, _, _, req_meta in rows
            if isinstance(req_meta, dict) and req_meta.get("from_feedback_id")
        }
        origin_topic = dict(
            (entry_id, meta.get("truthTopic") if isinstance(meta, dict) else None)
            for entry_id, meta in session.execute(
                select(Feedback.id, Feedback.meta).where(Feedback.id.in_(origin_ids))
            ).all()
        )
        pending_truth = session.execute(
            select(Feedback.meta).where(Feedback.status == "awaiting_approval")
        ).all()
    auto_right = auto_total = auto_dup = new_right = new_total = 0
    for match_type, meta, external_id, req_meta in rows:
        if not isinstance(meta, dict) or "truthRequestId" not in meta:
            continue
        truth = meta.get("truthRequestId")
        if match_type == "auto":
            auto_total += 1
            origin = (req_meta or {}).get("from_feedback_id") if external_id is None else None
            if origin is not None:
                same_need = origin_topic.get(origin) == meta.get("truthTopic")
                auto_right += int(same_need)
                auto_dup += 1
            else:
                auto_right += int(truth is not None and truth == external_id)
        else:
            new_total += 1
            new_right += int(truth is None)
    asked_with_truth = sum(
        1 for (meta,) in pending_truth if isinstance(meta, dict) and meta.get("truthRequestId")
    )
    return {
        "entries": by_status,
        "match_types": by_match,
        "requests": requests,
        "requests_created_by_routing": created_by_routing,
        "areas": areas,
        "pending_approvals": approvals,
        "asked_with_a_true_request": asked_with_truth,
        "outbox": outbox,
        "auto_attached_correct": [auto_right, auto_total],
        "auto_attached_to_routing_created": auto_dup,
        "new_request_truly_new": [new_right, new_total],
    }


def _pct(pair: list[int]) -> str:
    right, total = pair
    return f"{100 * right / total:.1f}% of {total}" if total else "n/a"


@click.command("demo")
@click.option("--seed", default=7, show_default=True, help="Seed of the demo data generator.")
@click.option("--scale", default=1, show_default=True, type=click.IntRange(1, 100))
@click.option("--skip-assets", is_flag=True, help="Route only; do not materialize assets.")
@click.option(
    "--entries",
    type=click.IntRange(1),
    default=None,
    help="Load only the first N feedback entries (a quick look; the default loads all).",
)
@click.pass_context
def demo(ctx: click.Context, seed: int, scale: int, skip_assets: bool, entries: int | None) -> None:
    """Load the demo data, route it, build every asset and print a summary."""
    from gtm_feedback_dagster.commands.routing import route
    from gtm_feedback_dagster.feedback.reference_import import import_reference
    from gtm_feedback_dagster.instance import ensure_dagster_home
    from gtm_feedback_dagster.store import db

    started = time.perf_counter()
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    dagster_home = ensure_dagster_home(settings)
    db.upgrade(settings.database_url)

    path, data = _load_dataset(settings, seed, scale)
    if entries is not None:
        data = {**data, "feedback": data["feedback"][:entries]}
    click.echo(f"importing {path.name} (as `gtm-feedback migrate-reference --route` would)")
    imported = import_reference(settings.database_url, data, route=True)
    created = {kind: counts.created for kind, counts in imported.counts.items()}
    click.echo(f"  created: {created}  ({imported.seconds:.1f} s)")

    click.echo("routing pending feedback through route_feedback_job")
    ctx.invoke(route, batch_size=None)

    if not skip_assets:
        runs = _materialize_assets(settings)
        click.echo(f"  asset runs: {runs}")

    summary = _summary(settings)
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo("")
    click.echo("=== gtm-feedback demo summary ===")
    click.echo(f"product areas:       {summary['areas']}")
    click.echo(
        f"feature requests:    {sum(summary['requests'].values())} {summary['requests']} "
        f"({summary['requests_created_by_routing']} created by routing)"
    )
    click.echo(f"feedback entries:    {sum(summary['entries'].values())} {summary['entries']}")
    match = summary["match_types"]
    # The calibrated attach threshold is chosen for the target precision, not fixed.
    from gtm_feedback_dagster.routing.confidence import CalibratedScorer

    auto = CalibratedScorer().attach_threshold(settings.auto_attach_threshold)
    ask = min(settings.ask_threshold, auto)
    click.echo(
        "routing outcome:     "
        f"auto-attached {match.get('auto', 0)} (p ≥ {auto:.2f}, chosen for "
        f"{attach_precision_target():.0%} precision), "
        f"asked the submitter {summary['pending_approvals']} "
        f"(p {ask:.2f}–{auto:.2f}; "
        f"{summary['asked_with_a_true_request']} of them truly have a request), "
        f"new requests {match.get('new_request', 0)} (< {ask:.2f}), "
        f"imported as routed {match.get('manual', 0)}"
    )
    click.echo(
        "against the truth:   "
        f"auto-attached to the right request {_pct(summary['auto_attached_correct'])} "
        f"({summary['auto_attached_to_routing_created']} to requests routing created); "
        f"new requests that truly had none {_pct(summary['new_request_truly_new'])}"
    )
    click.echo(f"Slack outbox:        {summary['outbox']} (see `gtm-feedback outbox`)")
    click.echo(f"app database:        {database}")
    click.echo(f"Dagster home:        {dagster_home}")
    click.echo(f"took:                {time.perf_counter() - started:.0f} s")
    click.echo("")
    click.echo("Open the Dagster UI on this data with `make ui` (http://127.0.0.1:3000).")


def register(cli: click.Group) -> None:
    cli.add_command(demo)
