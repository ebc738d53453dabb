"""Trading-records store writes, to SQLite and to PostgreSQL: two figures.

Run: ``python benchmarks/store_writes.py [--fills N] [--run-bars N] [--saves K] [--postgres URL]``.

Fills per second through the batched writer: builds N fills (default 500,000) at the closes of
real one-minute BTCUSDT bars from the shared data folder, then times, for each backend,
everything from the first ``put()`` to ``close()`` returning with every row committed: the
conversion of each fill to a row, the queue and the database writes. The producer-side cost per
``put()`` (what a trading loop pays) is shown too.

Saving one backtest run: the SMA 10/30 long-only cross of ``ttq backtest`` on the first
``--run-bars`` real bars (default 1,000,000: ~40,850 orders, ~122,550 order events, ~40,850
fills), then ``K`` times (default 3) ``save_backtest`` into a store that already exists (as the
user's does after the first run): opening it, building every row, one transaction, closing it.
Each save is checked by counting its rows back. Wall and CPU seconds are shown with the load
average of the moment, since the machine is shared.

The SQLite stores are fresh files in a temporary folder; PostgreSQL gets a fresh schema, dropped
afterwards. ``--fills 0`` or ``--run-bars 0`` skips a figure.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.engine.runner import BacktestResult, run_backtest
from ttquant.model.enums import LiquiditySide, OrderSide
from ttquant.model.events import OrderFilled
from ttquant.store import open_store, schema
from ttquant.store.records import fill_row
from ttquant.store.runs import backtest_batches, save_backtest
from ttquant.store.schema import row_columns
from ttquant.store.writer import BatchedWriter

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T = TypeVar("T")


def real_fills(n: int) -> list[OrderFilled]:
    """One fill per real bar: at its close, stamped at its close time, alternating sides."""
    with gzip.open(BTC, "rt") as f:
        next(f)
        rows = [next(f).split(",") for _ in range(n)]
    ts = np.array([int(r[0]) for r in rows], dtype=np.int64) * 1_000_000 + 60_000_000_000
    close = [float(r[4]) for r in rows]
    return [
        OrderFilled(
            client_order_id=f"O-{i // 2}",
            strategy_id="bench",
            instrument_id="BTC/USDT@BINANCE",
            ts_event=int(ts[i]),
            ts_init=int(ts[i]),
            venue_order_id=f"V-{i // 2}",
            trade_id=f"BINANCE-T{i}",
            side=OrderSide.BUY if i % 2 == 0 else OrderSide.SELL,
            last_qty=0.01,
            last_px=close[i],
            commission=close[i] * 0.01 * 0.001,
            commission_currency="USDT",
            liquidity_side=LiquiditySide.TAKER,
        )
        for i in range(n)
    ]


def measure(url: str, fills: list[OrderFilled]) -> tuple[float, float]:
    """(fills committed per second, microseconds per put() into a queue with room).

    The rate covers converting each fill to a row, queueing it and committing it; the queue is
    the default 200,000 rows, so the producer waits whenever the database falls behind. The
    put() cost is measured separately, with rows built beforehand and a queue that holds them
    all: what a trading loop pays per record while the database keeps up.
    """
    run_id = uuid.uuid4().hex[:12]
    with open_store(url) as store:
        writer = BatchedWriter(store)
        start = time.perf_counter()
        for fill in fills:
            writer.put("fills", fill_row(run_id, fill))
        writer.close()
        rate = len(fills) / (time.perf_counter() - start)
        with store.read() as conn:
            query = sa.text("SELECT count(*) FROM fills WHERE run_id = :r")
            stored = conn.scalar(query, {"r": run_id})
        if stored != len(fills):
            raise SystemExit(f"{url}: {stored} of {len(fills)} fills stored")
        rows = [fill_row(run_id + "-put", fill) for fill in fills]
        writer = BatchedWriter(store, batch_size=len(rows), max_pending=len(rows))
        start = time.perf_counter()
        for row in rows:
            writer.put("fills", row)
        per_put = (time.perf_counter() - start) / len(rows) * 1e6
        writer.close()
    return rate, per_put


def sma_cross_run(n_bars: int, folder: Path) -> BacktestResult:
    """``ttq backtest --strategy sma_cross --set fast=10 --set slow=30 --set long_only=true
    --size 1 --cash 1000000 --fee-bps 0`` on the first ``n_bars`` real bars."""
    head = folder / f"head{n_bars}.csv"
    with gzip.open(BTC, "rt") as src, head.open("w") as out:
        out.writelines(islice(src, n_bars + 1))
    params = {"fast": 10, "slow": 30, "long_only": True, "size": 1.0}
    return run_backtest(
        BacktestConfig(
            data=[DataConfig(file=str(head), symbol="BTC/USDT")],
            strategies=[StrategyConfig(name="sma_cross", params=params)],
            venue=VenueConfig(cash=1_000_000.0, fee_bps=0.0),
        )
    )


def time_saves(url: str, result: BacktestResult, saves: int) -> list[tuple[float, float, float]]:
    """``(wall s, CPU s, load average)`` of each save of ``result`` into the existing store."""
    open_store(url).close()  # created and migrated beforehand, as after a user's first run
    times = []
    for _ in range(saves):
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        run_id = save_backtest(result, url)
        times.append((time.perf_counter() - wall, time.process_time() - cpu, load))
        with open_store(url) as store, store.read() as conn:
            for table, expected in (
                ("orders", len(result.orders)),
                ("order_events", sum(len(o.events) for o in result.orders)),
                ("fills", len(result.fills)),
            ):
                query = sa.text(f"SELECT count(*) FROM {table} WHERE run_id = :r")
                if (stored := conn.scalar(query, {"r": run_id})) != expected:
                    raise SystemExit(f"{url}: {stored} of {expected} {table} stored")
    return times


def sqlite_share(url: str, result: BacktestResult, saves: int) -> list[tuple[float, float, float]]:
    """Timings of SQLite's own part of a save: the run's rows, already in temporary tables,
    copied into the store's tables by ``INSERT ... SELECT`` and committed (no Python per row)."""
    batches = backtest_batches(result, "staged", 0)
    tables = ["orders", "order_events", "fills", "equity", "position_snapshots"]
    times = []
    with open_store(url) as store:
        for k in range(saves):
            with store.engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert isinstance(raw, sqlite3.Connection)
                raw.execute("BEGIN IMMEDIATE")
                names = {t: [c.name for c in row_columns(schema.table(t))] for t in tables}
                for t, cols in names.items():
                    raw.execute(f"CREATE TEMP TABLE staged_{t} AS SELECT * FROM {t} WHERE 0")
                    marks = ", ".join("?" * len(cols))
                    raw.executemany(
                        f"INSERT INTO staged_{t} ({', '.join(cols)}) VALUES ({marks})", batches[t]
                    )
                load = os.getloadavg()[0]
                wall, cpu = time.perf_counter(), time.process_time()
                for t, cols in names.items():
                    raw.execute(
                        f"INSERT INTO {t} ({', '.join(cols)}) "
                        f"SELECT 'staged{k}', {', '.join(cols[1:])} FROM staged_{t}"
                    )
                for t in tables:
                    raw.execute(f"DROP TABLE staged_{t}")
                raw.execute("COMMIT")
                times.append((time.perf_counter() - wall, time.process_time() - cpu, load))
    return times


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """The URL of a fresh schema on ``server``, dropped afterwards."""
    schema = f"ttq_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def on_each_backend(postgres: str, measure_one: Callable[[str], T]) -> list[tuple[str, T]]:
    results: list[tuple[str, T]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(("SQLite (WAL)", measure_one(f"sqlite:///{tmp}/bench.sqlite")))
    if postgres:
        with postgres_schema(postgres) as url:
            results.append(("PostgreSQL (COPY, monthly partitions)", measure_one(url)))
    return results


def fills_figure(n_fills: int, postgres: str) -> None:
    fills = real_fills(n_fills)
    table = Table(title=f"{len(fills):,} real fills through BatchedWriter (batch 10,000, 0.5 s)")
    for col in ("backend", "fills/s", "µs per put()"):
        table.add_column(col, justify="left" if col == "backend" else "right")
    for name, result in on_each_backend(postgres, lambda url: measure(url, fills)):
        rate, per_put = result
        table.add_row(name, f"{rate:,.0f}", f"{per_put:.2f}")
    Console().print(table)


def run_figure(n_bars: int, saves: int, postgres: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = sma_cross_run(n_bars, Path(tmp))
    events = sum(len(o.events) for o in result.orders)
    title = (
        f"Saving one backtest run: {len(result.curve.ts):,} bars, {len(result.orders):,} orders, "
        f"{events:,} order events, {len(result.fills):,} fills (best of {saves})"
    )
    table = Table(title=title)
    for col in ("backend", "wall s", "CPU s", "median wall s", "load average"):
        table.add_column(col, justify="left" if col == "backend" else "right")
    rows = on_each_backend(postgres, lambda url: time_saves(url, result, saves))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        share = sqlite_share(url, result, saves)
    rows.insert(1, ("SQLite's own part (rows staged, INSERT … SELECT)", share))
    for name, times in rows:
        wall, cpu, load = min(times)
        median = statistics.median(t[0] for t in times)
        table.add_row(name, f"{wall:.3f}", f"{cpu:.3f}", f"{median:.3f}", f"{load:.1f}")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=500_000)
    parser.add_argument("--run-bars", type=int, default=1_000_000)
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--postgres", default=POSTGRES, help="server URL; empty to skip")
    args = parser.parse_args()
    if args.fills:
        fills_figure(args.fills, args.postgres)
    if args.run_bars:
        run_figure(args.run_bars, args.saves, args.postgres)


if __name__ == "__main__":
    main()
