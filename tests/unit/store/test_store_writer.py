"""The batched writer: nothing lost on a clean stop, flushes by size and by time, backpressure."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.store.backends import admin_engine, drop_postgres_schema, postgres_schema_url

from ttquant.core.errors import ConfigError, StoreError
from ttquant.engine.runner import BacktestResult
from ttquant.store import TradingStore, open_store, records
from ttquant.store import sqlite as sqlite_backend
from ttquant.store.records import Row
from ttquant.store.schema import TABLES, row_columns
from ttquant.store.writer import Backpressure, BatchedWriter


def _fill_rows(result: BacktestResult, n: int, run_id: str | None = None) -> list[Row]:
    """``n`` real fills as rows, repeated with new trade ids when ``n`` exceeds the run's fills."""
    run = run_id or uuid.uuid4().hex
    fills = result.fills
    out = []
    for i in range(n):
        row = list(records.fill_row(run, fills[i % len(fills)]))
        row[1] = f"T{i}"
        out.append(tuple(row))
    return out


def _stored(store: TradingStore, run_id: str) -> list[str]:
    with store.read() as conn:
        rows = conn.scalars(sa.text("SELECT trade_id FROM fills WHERE run_id = :r"), {"r": run_id})
        return sorted(rows, key=lambda t: int(t[1:]))


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.01)
    return time.monotonic() - start


@contextmanager
def database_locked(store: TradingStore, result: BacktestResult) -> Iterator[None]:
    """Another connection blocks writes to fills (reads go on) until the block ends.

    A fill written first makes the month's partition exist: on PostgreSQL, a partition created
    under the lock would wait for it and queue even readers behind itself.
    """
    store.write({"fills": _fill_rows(result, 1)})
    if store.dialect == "sqlite":
        other = sqlite3.connect(store.engine.url.database or "", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with store.engine.connect() as conn:
        conn.execute(sa.text("LOCK TABLE fills IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 2000),
    batch_size=st.integers(16, 700),
    interval=st.floats(0.01, 0.3),
)
def test_a_clean_stop_loses_nothing(
    store: TradingStore,
    demo_results: tuple[BacktestResult, ...],
    n: int,
    batch_size: int,
    interval: float,
) -> None:
    run_id = uuid.uuid4().hex
    rows = _fill_rows(demo_results[0], n, run_id)
    with BatchedWriter(
        store, batch_size=batch_size, flush_interval=interval, max_pending=max(batch_size, 1000)
    ) as writer:
        for row in rows:
            assert writer.put("fills", row)
    assert writer.written == n and writer.pending == 0
    assert _stored(store, run_id) == [f"T{i}" for i in range(n)]


def test_a_full_batch_is_written_without_waiting_for_the_interval(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    run_id = uuid.uuid4().hex
    rows = _fill_rows(demo_results[0], 100, run_id)
    writer = BatchedWriter(store, batch_size=50, flush_interval=600.0)
    try:
        for row in rows[:49]:
            writer.put("fills", row)
        time.sleep(0.3)
        assert _stored(store, run_id) == []  # below the batch size: waits for the interval
        writer.put("fills", rows[49])
        _wait_until(lambda: len(_stored(store, run_id)) == 50)
        for row in rows[50:]:
            writer.put("fills", row)
        _wait_until(lambda: len(_stored(store, run_id)) == 100)
    finally:
        writer.close()


def test_rows_are_written_every_interval_below_the_batch_size(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    run_id = uuid.uuid4().hex
    rows = _fill_rows(demo_results[0], 6, run_id)

    def stored_count_is(n: int) -> Callable[[], bool]:
        return lambda: len(_stored(store, run_id)) == n

    with BatchedWriter(store, batch_size=10_000, flush_interval=0.2) as writer:
        for i in range(0, 6, 2):
            writer.put("fills", rows[i])
            writer.put("fills", rows[i + 1])
            # far below the batch size: only the interval flush can write them before close
            _wait_until(stored_count_is(i + 2))
        # the writer counts rows as written after their commit, a moment after they show
        _wait_until(lambda: writer.pending == 0)


def test_flush_returns_when_everything_put_is_committed(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    run_id = uuid.uuid4().hex
    with BatchedWriter(store, batch_size=10_000, flush_interval=600.0) as writer:
        for row in _fill_rows(demo_results[0], 25, run_id):
            writer.put("fills", row)
        writer.flush()
        assert len(_stored(store, run_id)) == 25 and writer.pending == 0


def test_block_backpressure_waits_then_raises_and_loses_nothing_accepted(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    run_id = uuid.uuid4().hex
    rows = _fill_rows(demo_results[0], 40, run_id)
    writer = BatchedWriter(
        store, batch_size=10, flush_interval=0.05, max_pending=20, put_timeout=0.3, retry_delay=0.05
    )
    accepted = 0
    with database_locked(store, demo_results[0]):
        with pytest.raises(StoreError) as info:
            for row in rows:
                writer.put("fills", row)
                accepted += 1
        # one batch of 10 is stuck in the locked database, 20 wait in the queue
        assert accepted == 30
        message = str(info.value)
        assert "queue full (20 rows) for 0.3s" in message and "\n" not in message
        assert _stored(store, run_id) == []
        # a producer blocked on a full queue resumes as soon as the database does
        resumed = threading.Event()

        def put_one_more() -> None:
            writer.put("fills", rows[30])
            resumed.set()

        writer.put_timeout = 30.0
        blocked = threading.Thread(target=put_one_more)
        blocked.start()
        assert not resumed.wait(0.3)
    assert resumed.wait(10.0)
    blocked.join()
    writer.close()
    assert _stored(store, run_id) == [f"T{i}" for i in range(31)]


def test_drop_backpressure_never_blocks_and_counts_what_it_dropped(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    run_id = uuid.uuid4().hex
    rows = _fill_rows(demo_results[0], 50, run_id)
    writer = BatchedWriter(
        store,
        batch_size=10,
        flush_interval=0.05,
        max_pending=20,
        backpressure=Backpressure.DROP,
        retry_delay=0.05,
    )
    with database_locked(store, demo_results[0]):
        time.sleep(0.2)
        start = time.monotonic()
        kept = [writer.put("fills", row) for row in rows]
        assert time.monotonic() - start < 0.5
    writer.close()
    assert writer.dropped == kept.count(False) >= 20
    assert len(_stored(store, run_id)) == kept.count(True) == writer.written


def test_a_row_the_database_refuses_stops_the_writer_loudly(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    run_id = uuid.uuid4().hex
    row = _fill_rows(demo_results[0], 1, run_id)[0]
    writer = BatchedWriter(store, batch_size=1, flush_interval=0.05)
    writer.put("fills", row)
    writer.flush()
    writer.put("fills", row)  # the same trade again: a primary key violation
    with pytest.raises(StoreError) as info:
        writer.flush()
    message = str(info.value)
    assert message.startswith("store writer stopped: 1 rows for fills could not be written to")
    assert "\n" not in message
    with pytest.raises(StoreError, match="store writer stopped"):
        writer.put("fills", row)
    with pytest.raises(StoreError, match="store writer stopped"):
        writer.close()


def test_rows_are_checked_when_put(store: TradingStore) -> None:
    with BatchedWriter(store) as writer:
        with pytest.raises(StoreError, match="no table 'fill'; tables: account_balances, alerts"):
            writer.put("fill", ())
        with pytest.raises(StoreError, match="a equity row needs 3 values, got 2"):
            writer.put("equity", ("r", 1))
    with pytest.raises(StoreError, match="store writer is closed"):
        writer.put("equity", ("r", 1, 1.0))


def test_writer_settings_are_validated(store: TradingStore) -> None:
    with pytest.raises(ConfigError, match="batch_size <= max_pending"):
        BatchedWriter(store, batch_size=10, max_pending=5)
    with pytest.raises(ConfigError, match="must be > 0"):
        BatchedWriter(store, flush_interval=0)


SAMPLE_ROWS: dict[str, Row] = {
    "instruments": (
        *("X/Y@V", "X/Y", "V", "SPOT", "X", "Y", ""),
        *(0.01, 1e-8, 1.0, False, {"a": 1}, 5),
    ),
    "strategy_runs": (
        *("run", "live", 5, "grid", "X/Y@V", 1, 9, 1.5),
        *(2, 3, 4, "h", {"p": [1]}, {}, "v"),
    ),
    "orders": (
        *("run", "O-1", 7, "V-1", "s", "X/Y@V", "BUY", "LIMIT", 2.0, 10.5, None, "GTC"),
        *("ACCEPTED", 0.0, None, 8, True, False, "NONE", "", "", "", ["tag"]),
    ),
    "order_events": ("run", "O-1", 0, 8, 9, "OrderRejected", "", "s", "X/Y@V", {"reason": "r"}),
    "fills": (
        *("run", "T-1", 8, 9, "O-1", "V-1", "s", "X/Y@V", "V"),
        *("SELL", 1.0, 10.5, 0.01, "Y", "MAKER"),
    ),
    "equity": ("run", 8, 1000.25),
    "position_snapshots": ("run", "s", "X/Y@V", 8, -1.0, 10.5, 0.0, 0.01),
    "account_balances": ("run", "V", "Y", 8, 990.0, 10.0),
    "risk_events": (None, 8, "s", "X/Y@V", "order_denied", "too big", {"limit": 5.0}),
    "alerts": ("run", 8, "critical", "monitor", "drawdown", "drawdown 12%", {"dd": 0.12}, None),
}


@pytest.mark.parametrize("table", sorted(SAMPLE_ROWS))
def test_every_table_takes_a_row_and_gives_it_back(store: TradingStore, table: str) -> None:
    t = TABLES[table]
    with BatchedWriter(store) as writer:
        writer.put(table, SAMPLE_ROWS[table])
    with store.read() as conn:
        assert conn.execute(sa.select(*row_columns(t))).all() == [SAMPLE_ROWS[table]]


def test_a_locked_database_is_retried_until_it_frees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_results: tuple[BacktestResult, ...]
) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_S", 0.05)  # fail fast instead of waiting
    store = open_store(f"sqlite:///{tmp_path / 'records.sqlite'}")
    run_id = uuid.uuid4().hex
    rows = _fill_rows(demo_results[0], 30, run_id)
    writer = BatchedWriter(
        store, batch_size=10, flush_interval=0.05, max_pending=10, put_timeout=0.5, retry_delay=0.05
    )
    with database_locked(store, demo_results[0]):
        with pytest.raises(StoreError, match=r"last error: database is locked$"):
            for row in rows:
                writer.put("fills", row)
        time.sleep(0.3)  # several failed attempts
    writer.close()
    assert _stored(store, run_id) == [f"T{i}" for i in range(20)]  # the stuck batch + the queue
    store.close()


@pytest.mark.postgres
def test_connections_dropped_by_the_server_lose_nothing(
    demo_results: tuple[BacktestResult, ...],
) -> None:
    schema, url = postgres_schema_url()
    try:
        with open_store(url) as store:
            run_id = uuid.uuid4().hex
            rows = _fill_rows(demo_results[0], 200, run_id)
            with BatchedWriter(store, flush_interval=0.05, retry_delay=0.05) as writer:
                for row in rows[:100]:
                    writer.put("fills", row)
                writer.flush()
                with store.engine.connect() as conn:  # the pooled connection the writer uses
                    pid = conn.scalar(sa.text("SELECT pg_backend_pid()"))
                with admin_engine().begin() as conn:  # as a server restart or a proxy would
                    assert conn.scalar(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                for row in rows[100:]:
                    writer.put("fills", row)
            assert _stored(store, run_id) == [f"T{i}" for i in range(200)]
    finally:
        drop_postgres_schema(schema)
