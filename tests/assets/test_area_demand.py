"""`area_demand`: materialized into the app database (SQLite and PostgreSQL) and loaded back as
a DataFrame; a property test of its distinct-account figures."""

from __future__ import annotations

import dagster as dg
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_feedback_dagster.analytics.demand import area_demand_frame, area_totals
from gtm_feedback_dagster.assets.area_demand import IO_MANAGER_KEY, TABLE_NAME, area_demand
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.resources.table_io import DatabaseTableIOManager
from gtm_feedback_dagster.store.db import engine_for, session_scope
from gtm_feedback_dagster.store.repo import create_area
from tests.analytics_seed import account, entry, opportunity, request, seed_report_world


def _defs(url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[area_demand],
        resources={
            "store": StoreResource(database_url=url),
            IO_MANAGER_KEY: DatabaseTableIOManager(database_url=url),
        },
    )


def test_materialize_then_load_a_dataframe(db_url: str) -> None:
    with session_scope(db_url) as session:
        ids = seed_report_world(session).ids
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("product_area", ["identity", "billing"])
    defs = _defs(db_url)
    for area in ("identity", "billing", "identity"):  # a re-run replaces its partition only
        result = dg.materialize(
            [area_demand],
            partition_key=area,
            resources={
                "store": StoreResource(database_url=db_url),
                IO_MANAGER_KEY: DatabaseTableIOManager(database_url=db_url),
            },
            instance=instance,
        )
        assert result.success
    (mat,) = [
        m
        for m in result.asset_materializations_for_node("area_demand")
        if m.partition == "identity"
    ]
    meta = mat.metadata
    assert meta["dagster/row_count"].value == 5
    assert meta["dagster/table_name"].value == TABLE_NAME
    schema = meta["dagster/column_schema"].value
    types = {c.name: c.type for c in schema.columns}
    assert types["arr"] == "float" and types["entries"] == "int"
    assert meta["top_request_arr"].value == "$350.0K"
    # Area figures over distinct accounts: Acme 300K + Globex 250K + Initech 50K, once each.
    assert meta["area_arr"].value == "$600.0K" and meta["area_accounts"].value == 3
    assert meta["area_enterprise_arr"].value == "$550.0K"
    assert meta["open_opportunity_value"].value == "$100.0K (1 opportunities)"

    with defs.get_asset_value_loader(instance=instance) as loader:
        frame = loader.load_asset_value("area_demand", partition_key="identity")
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 5
    r1 = frame.set_index("request_id").loc[ids["r1"]]
    assert r1["arr"] == 350_000.0 and r1["enterprise_arr"] == 300_000.0
    assert r1["entries"] == 2 and r1["accounts"] == 2 and r1["dealbreaker_entries"] == 1
    assert r1["open_opportunity_value"] == 100_000.0
    assert r1["segment_mix"] == "Unknown 2"
    r2 = frame.set_index("request_id").loc[ids["r2"]]
    assert r2["open_opportunity_value"] == 0.0  # Closed Won is not open
    assert frame["arr"].dtype == "float64"
    assert isinstance(frame["first_asked"].iloc[0], pd.Timestamp)
    with defs.get_asset_value_loader(instance=instance) as loader:
        billing = loader.load_asset_value("area_demand", partition_key="billing")
    assert list(billing["title"]) == ["Invoice PDF"]


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    n_accounts = draw(st.integers(1, 6))
    accounts = [
        (draw(st.floats(0, 2_000_000, allow_nan=False)), draw(st.booleans()))
        for _ in range(n_accounts)
    ]
    n_requests = draw(st.integers(1, 4))
    entries = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_requests - 1),
                st.integers(0, n_accounts - 1),
                st.sampled_from(["high", "medium", "low"]),
                st.booleans(),
            ),
            max_size=20,
        )
    )
    return {"accounts": accounts, "requests": n_requests, "entries": entries}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=worlds())
def test_no_total_exceeds_the_arr_it_could_include(tmp_path_factory, world: dict) -> None:  # type: ignore[no-untyped-def]
    from gtm_feedback_dagster.store import db

    url = f"sqlite:///{tmp_path_factory.mktemp('demand') / 'app.db'}"
    db.upgrade(url)
    with session_scope(url) as session:
        area, _ = create_area(session, "Area")
        accts = [
            account(session, f"A{i}", arr, ent) for i, (arr, ent) in enumerate(world["accounts"])
        ]
        opps = [
            opportunity(session, a, f"O{i}", 1000.0 * (i + 1), "Negotiation")
            for i, a in enumerate(accts)
        ]
        reqs = [request(session, f"Request {i}", [area]) for i in range(world["requests"])]
        for r, a, severity, with_opp in world["entries"]:
            entry(session, reqs[r], accts[a], severity, opp=opps[a] if with_opp else None)
    with engine_for(url).connect() as conn:
        frame = area_demand_frame(conn, "area")
        totals = area_totals(conn, "area")
    all_arr = sum(arr for arr, _ in world["accounts"])
    enterprise_arr = sum(arr for arr, ent in world["accounts"] if ent)
    all_opps = sum(1000.0 * (i + 1) for i in range(len(world["accounts"])))
    asked_any = {a for _, a, _, _ in world["entries"]}
    assert abs(totals["arr"] - sum(world["accounts"][a][0] for a in asked_any)) < 1e-3
    assert totals["arr"] <= all_arr + 1e-3 and totals["enterprise_arr"] <= enterprise_arr + 1e-3
    assert totals["open_opportunity_value"] <= all_opps
    for row in frame.itertuples(index=False):
        asked = {a for r, a, _, _ in world["entries"] if reqs_index(r) == row.title}
        could = sum(world["accounts"][a][0] for a in asked)
        assert row.arr <= could + 1e-6 <= all_arr + 1e-3
        assert row.enterprise_arr <= row.arr + 1e-6 and row.enterprise_arr <= enterprise_arr + 1e-3
        assert row.open_opportunity_value <= all_opps
        assert row.accounts == len(asked)
        assert abs(row.arr - could) < 1e-3  # each distinct account exactly once


def reqs_index(i: int) -> str:
    return f"Request {i}"
