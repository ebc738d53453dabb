"""What the store needs from a database, and the parts every database shares.

A backend makes the engine, prepares the tables a batch goes to (PostgreSQL creates missing
monthly partitions), appends rows the fastest way its driver has (multi-row INSERTs through
sqlite3, :mod:`ttquant.store.sqlite_inserts`; ``COPY`` on PostgreSQL: no per-row work in
SQLAlchemy either way) and expires old months. Upserts
use SQL both dialects speak (``INSERT ... ON CONFLICT DO UPDATE``), built by SQLAlchemy, whose JSON
columns are encoded by :func:`ttquant.store.records.stored_json` as the driver-level appends are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from ttquant.store.records import Row, stored_json
from ttquant.store.schema import is_json, row_columns

Batches = Mapping[str, Sequence[Row]]


class Backend(Protocol):
    name: str  # sqlite | postgresql
    layout: str  # sqlite | partitioned | timescaledb

    def create_engine(self, url: sa.URL) -> sa.Engine: ...

    def check(self, conn: sa.Connection) -> None:
        """Raise StoreError if the database can't hold the store (e.g. no schema selected)."""

    def after_migration(self, conn: sa.Connection) -> None:
        """Learn how the migrated tables are laid out."""

    def prepare(self, engine: sa.Engine, batches: Batches) -> None:
        """Make sure every row of ``batches`` has somewhere to go; commits on its own."""

    def forget(self) -> None:
        """Drop what is cached about the database's layout (another process changed it)."""

    def append(self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None: ...

    def expire_before(self, conn: sa.Connection, cutoff_ns: int) -> dict[str, int]:
        """Remove time-keyed rows older than ``cutoff_ns`` (a month start); rows per table."""


def upsert(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    """Insert ``rows``, replacing stored rows with the same key; the last of duplicates wins."""
    names = [c.name for c in row_columns(table)]
    key = [c.name for c in table.primary_key]
    positions = [names.index(k) for k in key]
    latest = {tuple(r[i] for i in positions): r for r in rows}
    stmt = _insert(conn.dialect.name)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=key, set_={n: stmt.excluded[n] for n in names if n not in key}
    )
    conn.execute(stmt, [dict(zip(names, r, strict=True)) for r in latest.values()])


def _insert(dialect: str) -> Callable[[sa.Table], Any]:
    """The dialect's INSERT construct (it has ON CONFLICT); loads only the dialect in use."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    return sqlite.insert


def json_encoded(table: sa.Table, rows: Sequence[Row]) -> Sequence[Row]:
    """``rows`` with JSON columns as text, for driver-level inserts that bypass SQLAlchemy.

    Rows from :mod:`ttquant.store.records` carry JSON text already and pass unchanged.
    """
    json_at = [i for i, c in enumerate(row_columns(table)) if is_json(c)]
    if all(set(map(type, map(itemgetter(i), rows))) == {str} for i in json_at):
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in json_at:
            values[i] = stored_json(values[i])
        out.append(tuple(values))
    return out


def column_list(conn: sa.Connection, table: sa.Table) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(c.name) for c in row_columns(table))
