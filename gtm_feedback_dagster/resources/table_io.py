"""An IO manager that keeps partitioned pandas tables in the app database.

Works on every deployment (SQLite locally, PostgreSQL in production) because it writes where the
app data already lives, not to a local file: each asset gets a table `asset_<name>` with a
`partition_key` column; a materialization replaces its partition's rows in one transaction
(delete, then `DataFrame.to_sql` append), and loading reads them back with `read_sql`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field
from sqlalchemy import inspect, text

from gtm_feedback_dagster.config import load_settings
from gtm_feedback_dagster.store.db import engine_for

if TYPE_CHECKING:
    import pandas as pd

PARTITION_COLUMN = "partition_key"


def table_name_for(context: dg.OutputContext | dg.InputContext) -> str:
    return "asset_" + "_".join(context.asset_key.path)


class DatabaseTableIOManager(dg.ConfigurableIOManager):
    """pandas DataFrames as rows of `asset_<asset name>` in the app database, per partition."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means GTM_FEEDBACK_DATABASE_URL or the local SQLite file.",
    )

    def _engine(self) -> Any:
        return engine_for(self.database_url or load_settings().database_url)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        table = table_name_for(context)
        key = context.partition_key if context.has_partition_key else ""
        frame = obj.copy()
        frame.insert(0, PARTITION_COLUMN, key)
        engine = self._engine()
        with engine.begin() as conn:
            if inspect(conn).has_table(table):
                _add_new_columns(conn, table, frame)
                conn.execute(
                    text(f'DELETE FROM "{table}" WHERE {PARTITION_COLUMN} = :k'), {"k": key}
                )
            frame.to_sql(table, conn, if_exists="append", index=False)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        import pandas as pd

        table = table_name_for(context)
        key = context.partition_key if context.has_partition_key else ""
        with self._engine().connect() as conn:
            frame = pd.read_sql(
                text(f'SELECT * FROM "{table}" WHERE {PARTITION_COLUMN} = :k'),
                conn,
                params={"k": key},
            )
        frame = frame.drop(columns=[PARTITION_COLUMN])
        for col in frame.columns:
            if col.endswith("_asked") or col.endswith("_at"):
                frame[col] = pd.to_datetime(frame[col], utc=True, format="mixed")
        return frame


def _add_new_columns(conn: Any, table: str, frame: pd.DataFrame) -> None:
    """A column the asset gained since the table was made is added to it (other partitions'
    rows read it as empty until they are materialized again), so an upgrade needs no manual
    step and no partition loses its rows."""
    from sqlalchemy import BigInteger, Boolean, DateTime, Float, Text

    have = {c["name"] for c in inspect(conn).get_columns(table)}
    for col, dtype in frame.dtypes.items():
        if col in have:
            continue
        kind = str(dtype)
        sql_type = (
            BigInteger()
            if kind.startswith("int")
            else Float()
            if kind.startswith("float")
            else Boolean()
            if kind == "bool"
            else DateTime(timezone=True)
            if kind.startswith("datetime")
            else Text()
        )
        compiled = sql_type.compile(dialect=conn.dialect)
        conn.execute(text(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {compiled}'))
