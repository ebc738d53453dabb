"""Rows into SQLite with as little work per value as Python's sqlite3 allows.

sqlite3 binds an exact int, float or str in about a tenth of a microsecond, but anything it must
first try to adapt (None, a bool, an enum member) three times slower, and it steps a statement in
about the time of ten binds. A saved backtest has a quarter of a million rows, so:

- rows go in statements of up to ``ROWS_PER_INSERT`` rows each;
- a column holding the very same object in every row of a batch (the run id, the strategy, a
  NULL) is bound once per statement, as a numbered parameter each row refers to (``?1``).

Together they take a third off the time a saved backtest's rows take to insert (the rest is
SQLite's own work, mostly its B-trees).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import chain, compress, count, cycle, repeat
from operator import is_, itemgetter
from typing import Any

import sqlalchemy as sa

from ttquant.store.records import Row
from ttquant.store.schema import row_columns

ROWS_PER_INSERT = 200
_VARIES = object()


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (in :func:`ttquant.store.schema.row_columns` order, JSON as text)."""
    if not rows:
        return
    common = [_common_value(rows, at) for at in range(len(row_columns(table)))]
    varies = [value is _VARIES for value in common]
    shared = tuple(value for value in common if value is not _VARIES)
    per_row = sum(varies)
    per_insert = ROWS_PER_INSERT
    if per_row:
        room = _max_parameters(conn) - len(shared)
        per_insert = max(1, min(per_insert, room // per_row))

    def parameters(chunk: Sequence[Row]) -> tuple[Any, ...]:
        """The shared values, then each row's own: the parameters of one statement."""
        return shared + tuple(compress(chain.from_iterable(chunk), cycle(varies)))

    whole = len(rows) - len(rows) % per_insert
    if whole:
        conn.exec_driver_sql(
            _statement(conn, table, varies, per_insert),
            [parameters(rows[i : i + per_insert]) for i in range(0, whole, per_insert)],
        )
    if whole < len(rows):
        rest = rows[whole:]
        conn.exec_driver_sql(_statement(conn, table, varies, len(rest)), parameters(rest))


def _max_parameters(conn: sa.Connection) -> int:
    """The parameters one statement may have (32,766 in current builds, 999 in old ones)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _common_value(rows: Sequence[Row], at: int) -> Any:
    """The object column ``at`` holds in every row (identity: same value, same type)."""
    first = rows[0][at]
    return first if all(map(is_, map(itemgetter(at), rows), repeat(first))) else _VARIES


def _statement(conn: sa.Connection, table: sa.Table, varies: list[bool], n_rows: int) -> str:
    """INSERT of ``n_rows`` rows: ``?1``... are the shared values, each row numbers its own."""
    shared_columns = [at for at, own in enumerate(varies) if not own]
    slot_of = {at: slot for slot, at in enumerate(shared_columns, start=1)}
    own_slots = count(len(slot_of) + 1)
    values = ", ".join(
        "("
        + ", ".join(f"?{next(own_slots) if own else slot_of[at]}" for at, own in enumerate(varies))
        + ")"
        for _ in range(n_rows)
    )
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in row_columns(table))
    return f"INSERT INTO {table.name} ({names}) VALUES {values}"
