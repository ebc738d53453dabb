"""The PostgreSQL backend (psycopg 3): monthly partitions, or TimescaleDB hypertables.

The time-keyed tables (``schema.TIME_PARTITIONED``) are laid out one of two ways, chosen when
the schema is first created:

- **partitioned** (plain PostgreSQL): declarative range partitioning on the time column, one
  partition per UTC month, created on demand just before the first row of a month is written.
  There is no default partition, so a row can never land in a catch-all that blocks later
  partitions. Retention drops whole partitions, which is instant and leaves no bloat.
- **timescaledb**, when ``pg_available_extensions`` lists the extension: plain tables turned
  into hypertables with 30-day chunks, compressed after 7 days, segmented by run. Retention is
  ``drop_chunks``.

Appends use ``COPY``, several times faster than multi-row ``INSERT`` through the driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import psycopg
import sqlalchemy as sa

from ttquant.core.errors import StoreError
from ttquant.core.time import NANOS_PER_DAY
from ttquant.store.backend import Batches, column_list, json_encoded
from ttquant.store.partitions import Month, months_of, parse_partition_name
from ttquant.store.records import Row, stored_json
from ttquant.store.schema import TIME_PARTITIONED, row_columns

TIMESCALE = "timescaledb"
PARTITIONED = "partitioned"
CHUNK_NS = 30 * NANOS_PER_DAY
COMPRESS_AFTER_NS = 7 * NANOS_PER_DAY
CONNECT_TIMEOUT_S = 5
# Turns the integer time columns' "now" into nanoseconds, so Timescale policies can age chunks.
NOW_NS_FUNCTION = "ttq_now_ns"


def available_extensions(conn: sa.Connection) -> set[str]:
    return set(conn.scalars(sa.text("SELECT name FROM pg_available_extensions")))


def choose_layout(extensions: Iterable[str]) -> str:
    """Hypertables when TimescaleDB can be installed, monthly partitions otherwise."""
    return TIMESCALE if TIMESCALE in set(extensions) else PARTITIONED


def timescale_statements(table: str, time_column: str) -> list[str]:
    """SQL that makes a freshly created plain ``table`` a compressed hypertable."""
    return [
        f"SELECT create_hypertable('{table}', '{time_column}', "
        f"chunk_time_interval => {CHUNK_NS}::bigint, migrate_data => true)",
        f"SELECT set_integer_now_func('{table}', '{NOW_NS_FUNCTION}')",
        f"ALTER TABLE {table} SET (timescaledb.compress, "
        f"timescaledb.compress_segmentby = 'run_id', "
        f"timescaledb.compress_orderby = '{time_column}')",
        f"SELECT add_compression_policy('{table}', {COMPRESS_AFTER_NS}::bigint)",
    ]


def timescale_setup_statements() -> list[str]:
    return [
        f"CREATE EXTENSION IF NOT EXISTS {TIMESCALE}",
        f"CREATE OR REPLACE FUNCTION {NOW_NS_FUNCTION}() RETURNS bigint LANGUAGE SQL STABLE AS "
        "$$ SELECT (extract(epoch from now()) * 1e9)::bigint $$",
    ]


class PostgresBackend:
    name = "postgresql"

    def __init__(self) -> None:
        self.layout = PARTITIONED
        self._partitions: dict[str, set[Month]] | None = None  # known partitions per table

    def create_engine(self, url: sa.URL) -> sa.Engine:
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        connect_args = (
            {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
        )
        return sa.create_engine(
            url, pool_pre_ping=True, connect_args=connect_args, json_serializer=stored_json
        )

    def check(self, conn: sa.Connection) -> None:
        if conn.scalar(sa.text("SELECT current_schema()")) is None:
            path = conn.scalar(sa.text("SHOW search_path"))
            raise StoreError(
                f"PostgreSQL search_path ({path}) names no existing schema: create it first"
            )

    def after_migration(self, conn: sa.Connection) -> None:
        installed = conn.scalar(
            sa.text("SELECT count(*) FROM pg_extension WHERE extname = :ext"), {"ext": TIMESCALE}
        )
        hypertables = installed and conn.scalar(
            sa.text(
                "SELECT count(*) FROM timescaledb_information.hypertables "
                "WHERE hypertable_schema = current_schema() AND hypertable_name = 'fills'"
            )
        )
        self.layout = TIMESCALE if hypertables else PARTITIONED

    def prepare(self, engine: sa.Engine, batches: Batches) -> None:
        if self.layout != PARTITIONED:
            return
        wanted: dict[str, list[Month]] = {}
        for table in TIME_PARTITIONED:
            rows = batches.get(table.name)
            if rows:
                at = [c.name for c in row_columns(table)].index(table.info["time_column"])
                wanted[table.name] = months_of([r[at] for r in rows])
        if not wanted:
            return
        known = self._known_partitions(engine)
        missing = [(t, m) for t, months in wanted.items() for m in months if m not in known[t]]
        for name, month in missing:
            self._create_partition(engine, name, month)
            known[name].add(month)

    def forget(self) -> None:
        self._partitions = None

    def append(self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
        sql = f"COPY {table.name} ({column_list(conn, table)}) FROM STDIN"
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        try:
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                for row in json_encoded(table, rows):
                    copy.write_row(row)
        except psycopg.Error as exc:  # the SQLAlchemy error classes, as for any other statement
            lost = conn.dialect.is_disconnect(
                cast(Any, exc), conn.connection.dbapi_connection, None
            )
            if lost:
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(
                sql, None, exc, psycopg.Error, connection_invalidated=lost
            ) from exc

    def expire_before(self, conn: sa.Connection, cutoff_ns: int) -> dict[str, int]:
        removed: dict[str, int] = {}
        for table in TIME_PARTITIONED:
            column = table.c[table.info["time_column"]]
            removed[table.name] = (
                conn.scalar(sa.select(sa.func.count()).select_from(table).where(column < cutoff_ns))
                or 0
            )
            if self.layout == TIMESCALE:
                conn.execute(
                    sa.text(
                        "SELECT drop_chunks(CAST(:t AS regclass), "
                        "older_than => CAST(:cutoff AS bigint))"
                    ),
                    {"t": table.name, "cutoff": cutoff_ns},
                )
                continue
            for month in sorted(self._partitions_of(conn, table.name)):
                if month.end_ns <= cutoff_ns:
                    conn.exec_driver_sql(f"DROP TABLE {month.partition_name(table.name)}")
        self.forget()  # re-read on the next write
        return removed

    # -- partitions ---------------------------------------------------------------------------
    def _known_partitions(self, engine: sa.Engine) -> dict[str, set[Month]]:
        if self._partitions is None:
            with engine.connect() as conn:
                self._partitions = {
                    t.name: self._partitions_of(conn, t.name) for t in TIME_PARTITIONED
                }
        return self._partitions

    @staticmethod
    def _partitions_of(conn: sa.Connection, table: str) -> set[Month]:
        names = conn.scalars(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = to_regclass(:t)"
            ),
            {"t": table},
        )
        months = (parse_partition_name(n, table) for n in names)
        return {m for m in months if m is not None}

    @staticmethod
    def _create_partition(engine: sa.Engine, table: str, month: Month) -> None:
        """Create one month's partition in its own transaction, tolerating a concurrent creator."""
        name = month.partition_name(table)
        ddl = (
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
            f"FOR VALUES FROM ({month.start_ns}) TO ({month.end_ns})"
        )
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(ddl)
        except sa.exc.DBAPIError:
            with engine.connect() as conn:  # another writer made it between our check and create
                exists = conn.scalar(sa.text("SELECT to_regclass(:n)"), {"n": name})
            if exists is None:
                raise
