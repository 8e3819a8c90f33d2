"""resources/table_io.py: a table asset that gains a column keeps every partition's rows."""

import dagster as dg
import pandas as pd
from sqlalchemy import text

from gtm_feedback_dagster.resources.table_io import DatabaseTableIOManager
from gtm_feedback_dagster.store.db import engine_for

AREAS = dg.StaticPartitionsDefinition(["a", "b"])


def _asset(columns: dict[str, list[object]]) -> dg.AssetsDefinition:
    @dg.asset(name="demo_table", partitions_def=AREAS, io_manager_key="table_io")
    def demo_table(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame(
            {
                k: [f"{context.partition_key}:{v}" if isinstance(v, str) else v for v in vals]
                for k, vals in columns.items()
            }
        )

    return demo_table


def test_a_new_column_is_added_and_other_partitions_keep_their_rows(db_url: str) -> None:
    io = {"table_io": DatabaseTableIOManager(database_url=db_url)}
    old = _asset({"request_id": [1, 2], "title": ["x", "y"]})
    for key in ("a", "b"):
        assert dg.materialize([old], partition_key=key, resources=io).success
    new = _asset({"request_id": [3], "title": ["z"], "highest_severity": ["high"], "arr": [1.5]})
    assert dg.materialize([new], partition_key="a", resources=io).success
    with engine_for(db_url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT partition_key, request_id, title, highest_severity, arr "
                'FROM "asset_demo_table" ORDER BY partition_key, request_id'
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("a", 3, "a:z", "a:high", 1.5),
        ("b", 1, "b:x", None, None),
        ("b", 2, "b:y", None, None),
    ]
