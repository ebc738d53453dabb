"""Writes: atomic batches, upserts, monthly partitions on demand, retention and rolled-up views."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from tests.unit.store.backends import bare_run_row, drop_postgres_schema, postgres_schema_url

from ttquant.core.errors import StoreError
from ttquant.core.time import datetime_to_ns
from ttquant.engine.runner import BacktestResult
from ttquant.model.enums import OrderStatus
from ttquant.store import TradingStore, open_store, records, schema
from ttquant.store.postgres import PostgresBackend
from ttquant.store.runs import RunRepository
from ttquant.store.schema import row_columns
from ttquant.store.sqlite_inserts import ROWS_PER_INSERT


def _ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return datetime_to_ns(datetime(year, month, day, hour, minute, tzinfo=UTC))


def _count(store: TradingStore, table: str) -> int:
    with store.read() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_an_order_row_is_replaced_by_its_latest_state(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    order = demo_results[0].orders[0]
    assert order.status is OrderStatus.FILLED
    first = records.order_row("r", order)
    status_at = 12
    submitted = (*first[:status_at], OrderStatus.SUBMITTED.value, *first[status_at + 1 :])
    store.write({"orders": [submitted]})
    store.write({"orders": [submitted, first]})  # two states of one order in one batch: last wins
    with store.read() as conn:
        rows = conn.execute(sa.text("SELECT client_order_id, status FROM orders")).all()
    assert rows == [(order.client_order_id, "FILLED")]


def test_a_write_is_all_or_nothing(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    result = demo_results[0]
    rows = [records.fill_row("r", f) for f in result.fills[:3]]
    equity = records.equity_rows("r", result.curve.ts[:10], result.curve.equity[:10])
    with pytest.raises(sa.exc.IntegrityError):
        store.write({"equity": equity, "fills": [*rows, rows[0]]})  # a duplicate fill
    assert _count(store, "fills") == 0 and _count(store, "equity") == 0
    store.write({"equity": equity, "fills": rows})
    assert _count(store, "fills") == 3 and _count(store, "equity") == 10


def test_big_batches_with_empty_columns_read_back_exactly(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    """SQLite inserts several rows per statement and leaves out columns NULL in every row."""
    order = demo_results[0].orders[0]
    n = 2 * ROWS_PER_INSERT + 7  # two whole statements and a short one
    names = [c.name for c in row_columns(schema.orders)]
    price, avg_px = names.index("price"), names.index("avg_px")
    rows = []
    for i in range(n):
        row = list(records.order_row("r", order))
        row[names.index("client_order_id")] = f"o{i}"
        row[avg_px] = float(i) if i % 3 else None  # some NULLs
        assert row[price] is None  # a market order: NULL in every row
        rows.append(tuple(row))
    store.write({"orders": rows})
    with store.read() as conn:
        stored = conn.execute(sa.select(schema.orders)).all()
    typed = {"reduce_only": bool, "post_only": bool, "tags": json.loads}  # how SQLAlchemy reads
    expected = [
        tuple(typed.get(name, lambda v: v)(v) for name, v in zip(names, row, strict=True))
        for row in rows
    ]
    assert sorted(tuple(r) for r in stored) == sorted(expected)


def test_sqlite_statements_fit_the_parameter_limit_of_the_build(
    tmp_path: Path, demo_results: tuple[BacktestResult, ...]
) -> None:
    rows = [records.fill_row("r", f) for f in demo_results[0].fills[:25]]
    with open_store(f"sqlite:///{tmp_path / 'records.sqlite'}") as store:
        with store.transaction() as conn:
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 30)  # a few rows a statement
            try:
                store.backend.append(conn, schema.fills, rows)
            finally:
                driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        assert RunRepository(store).fills("r") == demo_results[0].fills[:25]


def test_json_columns_take_text_or_values(store: TradingStore) -> None:
    payload = {"limit": math.inf, "names": ["a", "b"], "none": None}
    store.write(
        {
            "risk_events": [
                (None, 1, "s", "X/Y@V", "kind", "as a value", records.json_safe(payload)),
                (None, 2, "s", "X/Y@V", "kind", "as text", records.json_text(payload)),
            ]
        }
    )
    t = schema.risk_events
    with store.read() as conn:
        stored = conn.execute(sa.select(t.c.payload).order_by(t.c.ts)).scalars().all()
    assert stored == [{"limit": "inf", "names": ["a", "b"], "none": None}] * 2


MONTH_EDGES = [
    _ns(2024, 1, 10),
    _ns(2024, 2, 1) - 1,  # the last nanosecond of January
    _ns(2024, 2, 1),
    _ns(2024, 2, 20, 12),
    _ns(2024, 3, 1),
    _ns(2024, 3, 14, 23, 59),
]


def test_retention_keeps_whole_recent_months_on_every_backend(store: TradingStore) -> None:
    store.write(
        {
            "equity": [("r", ts, 100.0 + i) for i, ts in enumerate(MONTH_EDGES)],
            "alerts": [(None, MONTH_EDGES[0], "info", "test", "rule", "kept forever", {}, None)],
        }
    )
    removed = store.expire(keep_months=2, now_ns=_ns(2024, 3, 15))
    assert removed == {"orders": 0, "order_events": 0, "fills": 0, "equity": 2}
    with store.read() as conn:
        kept = list(conn.scalars(sa.text("SELECT ts FROM equity ORDER BY ts")))
    assert kept == MONTH_EDGES[2:]
    assert _count(store, "alerts") == 1  # only the time-partitioned tables expire
    with pytest.raises(StoreError, match="keep_months must be at least 1, got 0"):
        store.expire(keep_months=0)


@pytest.mark.postgres
def test_postgres_creates_monthly_partitions_on_demand_and_drops_them() -> None:
    schema, url = postgres_schema_url()

    def partitions(conn: sa.Connection) -> list[str]:
        return sorted(
            conn.scalars(
                sa.text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass('equity')"
                )
            )
        )

    try:
        with open_store(url) as store, store.read() as conn:
            assert partitions(conn) == []
            store.write({"equity": [("r", ts, 1.0) for ts in MONTH_EDGES[:3]]})
            assert partitions(conn) == ["equity_p202401", "equity_p202402"]
            # a second process that doesn't know the partitions exist writes into them
            with open_store(url) as other:
                other.write({"equity": [("r2", ts, 1.0) for ts in MONTH_EDGES]})
            assert partitions(conn) == ["equity_p202401", "equity_p202402", "equity_p202403"]
            with open_store(url) as other:  # ... and one that drops a month another still caches
                other.expire(keep_months=1, now_ns=_ns(2024, 2, 5))
            assert partitions(conn) == ["equity_p202402", "equity_p202403"]
            assert isinstance(store.backend, PostgresBackend)
            store.write({"equity": [("r3", MONTH_EDGES[0], 1.0)]})  # recreated, not an error
            assert partitions(conn) == ["equity_p202401", "equity_p202402", "equity_p202403"]
    finally:
        drop_postgres_schema(schema)


def test_daily_pnl_view_matches_an_independent_computation(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    result = demo_results[0]
    curve = result.curve
    store.write(
        {
            "strategy_runs": [bare_run_row("run-a", "sma_cross")],
            "equity": records.equity_rows("run-a", curve.ts, curve.equity),
        }
    )
    days = (
        pl.DataFrame({"ts": curve.ts, "equity": curve.equity})
        .with_columns(day=pl.col("ts").cast(pl.Datetime("ns")).dt.date())
        .group_by("day", maintain_order=True)
        .agg(pl.col("equity").last())
    )
    close = days["equity"].to_list()
    expected_pnl = [close[0] - curve.equity[0]] + [b - a for a, b in itertools.pairwise(close)]
    with store.read() as conn:
        rows = conn.execute(
            sa.text("SELECT strategy, day, close_equity, pnl FROM daily_pnl ORDER BY day")
        ).all()
    assert [str(r.day) for r in rows] == [str(d) for d in days["day"]]
    assert {r.strategy for r in rows} == {"sma_cross"}
    assert [r.close_equity for r in rows] == close
    assert [r.pnl for r in rows] == pytest.approx(expected_pnl, rel=0, abs=1e-6)
    assert sum(r.pnl for r in rows) == pytest.approx(curve.equity[-1] - curve.equity[0])


def test_fills_per_venue_view_matches_an_independent_computation(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    fills = demo_results[0].fills
    store.write({"fills": [records.fill_row("run-a", f) for f in fills]})
    expected = (
        pl.DataFrame(
            {
                "ts": [f.ts_event for f in fills],
                "qty": [f.last_qty for f in fills],
                "px": [f.last_px for f in fills],
                "fee": [f.commission for f in fills],
            }
        )
        .with_columns(day=pl.col("ts").cast(pl.Datetime("ns")).dt.date().cast(pl.String))
        .group_by("day")
        .agg(
            n=pl.len(),
            qty=pl.col("qty").sum(),
            notional=(pl.col("qty") * pl.col("px")).sum(),
            fee=pl.col("fee").sum(),
        )
        .sort("day")
    )
    with store.read() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT day, venue, n_fills, quantity, notional, commission "
                "FROM fills_per_venue ORDER BY day"
            )
        ).all()
    assert [str(r.day) for r in rows] == expected["day"].to_list()
    assert {r.venue for r in rows} == {"BINANCE"}
    assert [r.n_fills for r in rows] == expected["n"].to_list()
    assert [r.quantity for r in rows] == pytest.approx(expected["qty"].to_list())
    assert [r.notional for r in rows] == pytest.approx(expected["notional"].to_list())
    assert [r.commission for r in rows] == pytest.approx(expected["fee"].to_list())
