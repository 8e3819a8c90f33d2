"""`area_demand`: the demand of one product area as a pandas table, for analysts.

One row per request of the area (see `analytics/demand.py` for the columns), stored by the
`table_io_manager` in the app database table `asset_area_demand`, so a notebook gets it back
as a DataFrame with `defs.load_asset_value("area_demand", partition_key="dashboards")`.
"""

from typing import TYPE_CHECKING

import dagster as dg

from gtm_feedback_dagster.analytics.demand import (
    COLUMN_DESCRIPTIONS,
    MONEY_COLUMNS,
    area_demand_frame,
    area_totals,
)
from gtm_feedback_dagster.assets.sources import crm_accounts, feature_requests, feedback_entries
from gtm_feedback_dagster.core.money import format_arr
from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.store.db import engine_for

if TYPE_CHECKING:
    import pandas as pd

TABLE_NAME = "asset_area_demand"
IO_MANAGER_KEY = "table_io_manager"


def _column_type(dtype: object) -> str:
    name = str(dtype)
    if name.startswith("int"):
        return "int"
    if name.startswith("float"):
        return "float"
    if name.startswith("datetime"):
        return "datetime"
    if name == "bool":
        return "bool"
    return "string"


def column_schema(frame: "pd.DataFrame") -> dg.TableSchema:
    """The table's schema from the frame's dtypes (money columns are floats, in US dollars)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=str(col),
                type=_column_type(dtype),
                description=COLUMN_DESCRIPTIONS.get(str(col))
                + (" (USD)" if col in MONEY_COLUMNS else ""),
            )
            for col, dtype in frame.dtypes.items()
        ]
    )


@dg.asset(
    partitions_def=product_area_partitions,
    deps=[feature_requests, feedback_entries, crm_accounts],
    io_manager_key=IO_MANAGER_KEY,
    group_name="analytics",
    owners=["team:gtm-feedback"],
    kinds={"pandas", "sql"},
    description=(
        "The demand of one product area, one row per request: status, entries, distinct "
        "accounts, distinct-account ARR, enterprise ARR, dealbreaker entries, open opportunity "
        "value, first/last asked and segment mix. Every figure counts distinct accounts and "
        "distinct opportunities. Stored in the app database table `asset_area_demand`; in a "
        "notebook: `defs.load_asset_value('area_demand', partition_key='<area>')`."
    ),
    metadata={"dagster/table_name": TABLE_NAME},
)
def area_demand(context: dg.AssetExecutionContext, store: StoreResource) -> dg.Output:
    area = context.partition_key
    with engine_for(store.url).connect() as conn:
        frame = area_demand_frame(conn, area)
        totals = area_totals(conn, area)
    open_rows = frame[frame["status"] == "open"]
    return dg.Output(
        frame,
        metadata={
            "dagster/column_schema": column_schema(frame),
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "dagster/table_name": TABLE_NAME,
            "open_requests": dg.MetadataValue.int(len(open_rows)),
            # Per request (the largest row), then the area's figures over distinct accounts and
            # distinct opportunities: never the sum of the rows, which counts an account once
            # per request it asked for.
            "top_request_arr": dg.MetadataValue.text(
                format_arr(frame["arr"].max() if len(frame) else 0.0)
            ),
            "area_accounts": dg.MetadataValue.int(int(totals["accounts"])),
            "area_arr": dg.MetadataValue.text(format_arr(totals["arr"])),
            "area_enterprise_arr": dg.MetadataValue.text(format_arr(totals["enterprise_arr"])),
            "open_opportunity_value": dg.MetadataValue.text(
                f"{format_arr(totals['open_opportunity_value'])} "
                f"({int(totals['open_opportunities'])} opportunities)"
            ),
            "preview": dg.MetadataValue.md(_preview(frame)),
        },
    )


def _preview(frame: "pd.DataFrame", limit: int = 10) -> str:
    """The top rows as a Markdown table, money formatted."""
    lines = [
        "| request | status | entries | accounts | ARR | enterprise ARR |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in frame.head(limit).itertuples(index=False):
        title = str(row.title).replace("|", "\\|")
        lines.append(
            f"| {title} | {row.status} | {row.entries} | {row.accounts} | "
            f"{format_arr(row.arr)} | {format_arr(row.enterprise_arr)} |"
        )
    return "\n".join(lines)
