"""The embedded SQLite backend: one file, WAL journal, writers that don't block readers.

WAL with ``synchronous=NORMAL`` keeps every committed transaction through a crash of the
process (not of the machine), which is the writer's promise. Python's sqlite3 module opens
transactions lazily and never for DDL; the store turns that off and starts each transaction
itself, ``BEGIN IMMEDIATE`` for writes, so two writers queue on the lock (waiting up to
``BUSY_TIMEOUT_S``) instead of failing when one upgrades from reading to writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ttquant.core.errors import StoreError
from ttquant.store.backend import Batches, json_encoded
from ttquant.store.records import Row, stored_json
from ttquant.store.schema import TIME_PARTITIONED
from ttquant.store.sqlite_inserts import insert_rows

BUSY_TIMEOUT_S = 30.0
CACHE_KIB = 65_536  # page cache per connection, allocated as used: a saved run's pages fit
WRITE_OPTION = "ttq_write"  # execution option: start the transaction with BEGIN IMMEDIATE


class SqliteBackend:
    name = "sqlite"
    layout = "sqlite"

    def create_engine(self, url: sa.URL) -> sa.Engine:
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise StoreError(
                "an in-memory SQLite store would vanish with its connection: "
                "give a file, e.g. sqlite:///records.sqlite"
            )
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create folder {folder} for the store: {exc.strerror}"
            ) from None
        engine = sa.create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_S}, json_serializer=stored_json
        )
        sa.event.listen(engine, "connect", _on_connect)
        sa.event.listen(engine, "begin", _on_begin)
        return engine

    def check(self, conn: sa.Connection) -> None:
        return None

    def after_migration(self, conn: sa.Connection) -> None:
        return None

    def prepare(self, engine: sa.Engine, batches: Batches) -> None:
        return None

    def forget(self) -> None:
        return None

    def append(self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
        insert_rows(conn, table, json_encoded(table, rows))

    def expire_before(self, conn: sa.Connection, cutoff_ns: int) -> dict[str, int]:
        removed: dict[str, int] = {}
        for table in TIME_PARTITIONED:
            column = table.c[table.info["time_column"]]
            result = conn.execute(sa.delete(table).where(column < cutoff_ns))
            removed[table.name] = result.rowcount
        return removed


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _on_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cursor.close()


def _on_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
