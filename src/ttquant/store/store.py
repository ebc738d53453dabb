"""Open a trading-records store by URL and write batches of rows into it.

``open_store()`` accepts ``sqlite:///path/file.sqlite`` (the default: a file under the user data
folder) or ``postgresql+psycopg://user@host:port/db``; a PostgreSQL schema other than
``public`` is chosen the libpq way, ``?options=-csearch_path%3Dmyschema``. Opening migrates the
schema to the latest revision. Every failure a user can cause (a malformed URL, a server that
doesn't answer, a schema from a newer ttquant) is a one-line :class:`StoreError`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from ttquant.core.errors import StoreError
from ttquant.store import migrate
from ttquant.store.backend import Backend, Batches, upsert
from ttquant.store.location import default_store_url
from ttquant.store.partitions import retention_cutoff
from ttquant.store.schema import table
from ttquant.store.sqlite import WRITE_OPTION, SqliteBackend

_SQLSTATE_NO_PARTITION = "23514"  # a row for a partition another process dropped


class TradingStore:
    """A migrated database holding trading records; safe to share between threads."""

    def __init__(self, engine: sa.Engine, backend: Backend) -> None:
        self.engine = engine
        self.backend = backend

    @property
    def url(self) -> str:
        """The database URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.backend.name

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for queries, all in one transaction (a consistent snapshot)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot read {self.url}: {_reason(exc)}") from None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a write transaction, committed when the block ends without error."""
        with self.engine.connect() as plain:
            conn = plain.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def write(self, batches: Batches, *, new_keys: Collection[str] = ()) -> None:
        """Store rows of several tables in one transaction: all of them or none.

        ``batches`` maps a table name to row tuples (see :mod:`ttquant.store.records`). Tables
        marked ``upsert`` replace rows with the same key; the others append. ``new_keys`` names
        tables whose rows all have keys the store doesn't hold yet (a run saved for the first
        time): they append even if they upsert, the fast way (a duplicate fails the write).
        """
        batches = {name: rows for name, rows in batches.items() if rows}
        if not batches:
            return
        try:
            self._write(batches, new_keys)
        except sa.exc.IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) != _SQLSTATE_NO_PARTITION:
                raise
            self.backend.forget()
            self._write(batches, new_keys)

    def _write(self, batches: Batches, new_keys: Collection[str]) -> None:
        self.backend.prepare(self.engine, batches)
        with self.transaction() as conn:
            for name, rows in batches.items():
                t = table(name)
                if t.info.get("upsert") and name not in new_keys:
                    upsert(conn, t, rows)
                else:
                    self.backend.append(conn, t, rows)

    def expire(self, keep_months: int, now_ns: int | None = None) -> dict[str, int]:
        """Delete orders, order events, fills and equity older than the last ``keep_months``.

        Whole UTC months go (the current one counts as the first kept), on every backend the same
        rows; PostgreSQL drops their partitions. Returns the rows removed per table.
        """
        if keep_months < 1:
            raise StoreError(f"keep_months must be at least 1, got {keep_months}")
        cutoff = retention_cutoff(keep_months, time.time_ns() if now_ns is None else now_ns)
        with self.transaction() as conn:
            return self.backend.expire_before(conn, cutoff)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> TradingStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(url: str | None = None) -> TradingStore:
    """Connect to the store at ``url`` (default: :func:`default_store_url`) and migrate it."""
    text = url or default_store_url()
    try:
        parsed = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise StoreError(
            f"not a database URL: {text!r} (use sqlite:///FILE or "
            "postgresql+psycopg://USER@HOST:PORT/DB)"
        ) from None
    backend = _backend_for(parsed)
    engine = backend.create_engine(parsed)
    store = TradingStore(engine, backend)
    try:
        with store.transaction() as conn:
            backend.check(conn)
            migrate.upgrade(conn)
            backend.after_migration(conn)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise StoreError(f"cannot open store {store.url}: {_reason(exc)}") from None
    except BaseException:
        engine.dispose()
        raise
    return store


def _backend_for(url: sa.URL) -> Backend:
    name = url.get_backend_name()
    if name == "sqlite":
        return SqliteBackend()
    if name == "postgresql":
        driver = url.get_driver_name()
        if url.drivername != "postgresql" and driver != "psycopg":
            raise StoreError(
                f"PostgreSQL driver {driver!r} is not supported: use postgresql+psycopg"
            )
        from ttquant.store.postgres import PostgresBackend  # psycopg only for PostgreSQL

        return PostgresBackend()
    raise StoreError(
        f"unsupported database {name!r} in {url.render_as_string(hide_password=True)}: "
        "use sqlite:///FILE or postgresql+psycopg://USER@HOST:PORT/DB"
    )


def _reason(exc: sa.exc.DBAPIError) -> str:
    """The driver's message, first line only: enough to act on, short enough for a CLI line."""
    lines = [line.strip() for line in str(exc.orig).splitlines() if line.strip()]
    return lines[0] if lines else type(exc.orig).__name__


def exception_reason(exc: Any) -> str:
    """One line describing a database exception, for messages outside this module."""
    if isinstance(exc, sa.exc.DBAPIError):
        return _reason(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
