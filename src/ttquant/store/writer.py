"""Write records from the trading loop without waiting for the database.

``put()`` appends a row to a bounded in-memory queue and returns (about a microsecond); a
background thread commits the queue in batches, when ``batch_size`` rows are waiting or every
``flush_interval`` seconds, whichever comes first. Each batch is one transaction, written in the
order rows were put, so the store always holds a prefix of what was put.

What can be lost:

- **Clean stop** (``close()``, leaving a ``with`` block, or interpreter exit): nothing. The
  queue is drained before ``close()`` returns (at exit, if the database answers within
  ``EXIT_TIMEOUT_S``; otherwise the exit reports how many rows were not written).
- **Crash** (the process is killed): the rows put since the last commit began, which is at
  most one flush interval of rows plus those of the batch being committed at that moment.
  Committed batches survive: SQLite's WAL and PostgreSQL both keep committed transactions.

When the database is slower than the producer the queue fills to ``max_pending`` rows, and
``backpressure`` decides what ``put()`` does:

- ``Backpressure.BLOCK`` (default): wait for room, up to ``put_timeout`` seconds, then raise
  :class:`StoreError`. Nothing is lost; the trading loop slows to the database's pace, and a
  database that stays down stops it with a clear error instead of growing memory without bound.
- ``Backpressure.DROP``: return False at once and count the row in ``dropped``. For records
  that may be sampled (equity snapshots, metrics), never for orders or fills.

A database that is unreachable or locked is retried (the batch is kept, in order) until it
answers; any other database error (a constraint violation, a malformed row) stops the writer,
and the next ``put()``, ``flush()`` or ``close()`` raises it.
"""

from __future__ import annotations

import atexit
import functools
import threading
import time
from collections import deque
from enum import StrEnum
from types import TracebackType

import sqlalchemy as sa

from ttquant.core.errors import ConfigError, StoreError
from ttquant.store.records import Row
from ttquant.store.schema import TABLES, row_columns
from ttquant.store.store import TradingStore, exception_reason

EXIT_TIMEOUT_S = 60.0  # at interpreter exit, wait this long for an unreachable database


class Backpressure(StrEnum):
    BLOCK = "block"
    DROP = "drop"


class BatchedWriter:
    """A background thread that commits rows put from any thread, in batches."""

    def __init__(
        self,
        store: TradingStore,
        *,
        batch_size: int = 10_000,
        flush_interval: float = 0.5,
        max_pending: int = 200_000,
        backpressure: Backpressure = Backpressure.BLOCK,
        put_timeout: float = 30.0,
        retry_delay: float = 0.5,
    ) -> None:
        if batch_size < 1 or max_pending < batch_size:
            raise ConfigError(
                f"writer needs 1 <= batch_size <= max_pending, got {batch_size} and {max_pending}"
            )
        if flush_interval <= 0 or put_timeout <= 0 or retry_delay <= 0:
            raise ConfigError("writer flush_interval, put_timeout and retry_delay must be > 0")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.backpressure = Backpressure(backpressure)
        self.put_timeout = put_timeout
        self.retry_delay = retry_delay
        self.written = 0  # rows committed
        self.dropped = 0  # rows refused under Backpressure.DROP
        self._arity = {name: len(row_columns(t)) for name, t in TABLES.items()}
        self._pending: deque[tuple[str, Row]] = deque()
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)
        self._committed = threading.Condition(self._lock)
        self._accepted = 0  # rows put (and not dropped) so far
        self._flush_wanted = False
        self._closing = False
        self._abandoned = False
        self._failure: StoreError | None = None
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name="ttq-store-writer", daemon=True)
        self._thread.start()
        self._close_at_exit = functools.partial(self.close, EXIT_TIMEOUT_S)
        atexit.register(self._close_at_exit)

    @property
    def pending(self) -> int:
        """Rows put but not yet committed."""
        with self._lock:
            return self._accepted - self.written

    def put(self, table: str, row: Row) -> bool:
        """Queue ``row`` for ``table``; False only if it was dropped under DROP backpressure."""
        arity = self._arity.get(table)
        if arity is None:
            raise StoreError(
                f"writer: no table {table!r}; tables: {', '.join(sorted(self._arity))}"
            )
        if len(row) != arity:
            raise StoreError(f"writer: a {table} row needs {arity} values, got {len(row)}")
        with self._lock:
            self._raise_if_stopped()
            if len(self._pending) >= self.max_pending:
                if self.backpressure is Backpressure.DROP:
                    self.dropped += 1
                    return False
                self._wait_for_room()
            self._pending.append((table, row))
            self._accepted += 1
            if len(self._pending) == self.batch_size:
                self._has_work.notify()
        return True

    def flush(self) -> None:
        """Return once every row put before this call is committed."""
        with self._lock:
            target = self._accepted
            self._flush_wanted = True
            self._has_work.notify()
            while self.written < target:
                self._raise_if_failed()
                self._committed.wait(self.retry_delay)
            self._raise_if_failed()

    def close(self, timeout: float | None = None) -> None:
        """Commit everything queued and stop; raise if rows could not be written.

        ``timeout`` bounds the wait for an unreachable database (None: wait until it answers).
        """
        with self._lock:
            already = self._closing
            self._closing = True
            self._has_work.notify()
            self._has_room.notify_all()
        if not already:
            atexit.unregister(self._close_at_exit)
        self._thread.join(timeout)
        if self._thread.is_alive():
            with self._lock:
                self._abandoned = True
                lost = self._accepted - self.written
                self._has_work.notify()
            raise StoreError(
                f"store writer gave up after {timeout}s: {lost} rows not written to "
                f"{self.store.url} ({self._last_error or 'no answer'})"
            )
        self._raise_if_failed()

    def __enter__(self) -> BatchedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- producer side, called with the lock held ----------------------------------------------
    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _raise_if_stopped(self) -> None:
        self._raise_if_failed()
        if self._closing:
            raise StoreError("store writer is closed")

    def _wait_for_room(self) -> None:
        deadline = time.monotonic() + self.put_timeout
        while len(self._pending) >= self.max_pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                cause = f"; last error: {self._last_error}" if self._last_error else ""
                raise StoreError(
                    f"store writer queue full ({self.max_pending} rows) for {self.put_timeout}s: "
                    f"{self.store.url} is too slow or unreachable{cause}"
                )
            self._has_room.wait(remaining)
            self._raise_if_stopped()

    # -- the writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_interval
        while True:
            batch = self._take(next_flush)
            if batch is None:
                return
            next_flush = time.monotonic() + self.flush_interval
            if batch:
                self._commit(batch)

    def _take(self, next_flush: float) -> list[tuple[str, Row]] | None:
        """The next batch, once it is due; None when closed and drained (or abandoned)."""
        with self._lock:
            while not (
                self._closing
                or self._flush_wanted
                or len(self._pending) >= self.batch_size
                or self._failure is not None
            ):
                remaining = next_flush - time.monotonic()
                if remaining <= 0:
                    break
                self._has_work.wait(remaining)
            if self._failure is not None or self._abandoned:
                return None
            if not self._pending:
                self._flush_wanted = False
                return None if self._closing else []
            n = min(len(self._pending), self.batch_size)
            batch = [self._pending.popleft() for _ in range(n)]
            if not self._pending:
                self._flush_wanted = False
            self._has_room.notify_all()
            return batch

    def _commit(self, batch: list[tuple[str, Row]]) -> None:
        grouped: dict[str, list[Row]] = {}
        for name, row in batch:
            grouped.setdefault(name, []).append(row)
        while True:
            try:
                self.store.write(grouped)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                with self._lock:  # unreachable or locked: keep the batch, try again
                    self._last_error = exception_reason(exc)
                    if self._abandoned:
                        return
                    self._has_work.wait(self.retry_delay)
                continue
            except Exception as exc:  # any other failure stops the writer, loudly
                with self._lock:
                    self._failure = StoreError(
                        f"store writer stopped: {len(batch)} rows for "
                        f"{', '.join(sorted(grouped))} could not be written to {self.store.url}: "
                        f"{exception_reason(exc)}"
                    )
                    self._has_room.notify_all()
                    self._committed.notify_all()
                return
            with self._lock:
                self.written += len(batch)
                self._last_error = ""
                self._committed.notify_all()
            return
