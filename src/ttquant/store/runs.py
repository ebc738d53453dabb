"""Strategy runs: save a finished backtest with everything it produced, find and compare runs.

A saved backtest holds its config, statistics and results hash, every order (final state) and
order event, every fill, the position after each fill, the instruments and the samples of its
equity curve that reproduce every statistic (:mod:`ttquant.analytics.equity_samples`: about a
thousand of a million minute samples), all written in one transaction: a run is either complete
in the store or absent. Runs are named by a 12-hex-digit id; commands accept any unique prefix of
it, as git does for commits.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeGuard

import numpy as np
import sqlalchemy as sa

from ttquant.analytics.equity_samples import statistics_samples
from ttquant.core.errors import StoreError
from ttquant.engine.runner import BacktestResult
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.store import records, schema
from ttquant.store.records import Row
from ttquant.store.store import TradingStore, open_store

MIN_PREFIX = 4


@dataclass(frozen=True, slots=True)
class Run:
    """One row of ``strategy_runs``."""

    run_id: str
    kind: str
    created_ns: int
    strategy: str
    instruments: str
    start_ns: int | None
    end_ns: int | None
    final_equity: float | None
    n_orders: int
    n_fills: int
    n_trades: int
    results_hash: str
    config: dict[str, Any]
    statistics: dict[str, Any]
    ttquant_version: str


@dataclass(frozen=True, slots=True)
class StatisticChange:
    key: str
    a: Any
    b: Any
    delta: float | None  # b - a when both are numbers


def _ttquant_version() -> str:
    try:
        return version("ttquant")
    except PackageNotFoundError:
        return "unknown"


# Every key of a new run's rows holds its fresh id: these tables take plain appends.
NEW_RUN_TABLES = ("strategy_runs", "orders")


def backtest_batches(result: BacktestResult, run_id: str, created_ns: int) -> dict[str, list[Row]]:
    """Every row a finished backtest adds to the store, per table."""
    curve = result.curve
    kept = statistics_samples(curve.ts, curve.equity)
    run: Row = (
        run_id,
        "backtest",
        created_ns,
        "+".join(s.name for s in result.config.strategies),
        ",".join(result.bars),
        int(curve.ts[0]) if len(curve.ts) else None,
        int(curve.ts[-1]) if len(curve.ts) else None,
        result.final_equity if len(curve.equity) else None,
        len(result.orders),
        len(result.fills),
        len(result.round_trips),
        result.results_hash,
        records.json_text(result.config.to_dict()),
        records.json_text(dict(result.statistics)),
        _ttquant_version(),
    )
    return {
        "strategy_runs": [run],
        "instruments": [records.instrument_row(i, created_ns) for i in result.instruments.values()],
        "orders": [records.order_row(run_id, o) for o in result.orders],
        "order_events": records.order_event_rows(run_id, result.orders),
        "fills": [records.fill_row(run_id, f) for f in result.fills],
        "equity": records.equity_rows(run_id, curve.ts[kept], curve.equity[kept]),
        "position_snapshots": records.position_snapshot_rows(
            run_id, result.fills, result.instruments
        ),
    }


class RunRepository:
    def __init__(self, store: TradingStore) -> None:
        self.store = store

    def save_backtest(self, result: BacktestResult) -> str:
        """Store ``result`` as a new run; return its id."""
        run_id = uuid.uuid4().hex[:12]
        with _collector_paused():  # the rows are freed when write returns, before it resumes
            self.store.write(
                backtest_batches(result, run_id, time.time_ns()), new_keys=NEW_RUN_TABLES
            )
        return run_id

    def recent(self, limit: int = 20, strategy: str | None = None) -> list[Run]:
        """The newest runs first, optionally only those whose strategy label contains a name."""
        query = (
            sa.select(schema.strategy_runs)
            .order_by(schema.strategy_runs.c.created_ns.desc())
            .limit(limit)
        )
        if strategy:
            query = query.where(schema.strategy_runs.c.strategy.contains(strategy, autoescape=True))
        with self.store.read() as conn:
            return [Run(**row._mapping) for row in conn.execute(query)]

    def get(self, run_id: str) -> Run:
        """The run whose id is ``run_id`` or starts with it (at least 4 characters)."""
        full = self.resolve(run_id)
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(schema.strategy_runs).where(schema.strategy_runs.c.run_id == full)
            ).one()
        return Run(**row._mapping)

    def resolve(self, prefix: str) -> str:
        """The full id of the one run starting with ``prefix``."""
        prefix = prefix.strip().lower()
        if len(prefix) < MIN_PREFIX:
            raise StoreError(
                f"run id {prefix!r} is too short: give at least {MIN_PREFIX} characters"
            )
        with self.store.read() as conn:
            ids = list(
                conn.scalars(
                    sa.select(schema.strategy_runs.c.run_id)
                    .where(schema.strategy_runs.c.run_id.startswith(prefix, autoescape=True))
                    .limit(3)
                )
            )
        if not ids:
            raise StoreError(f"no run {prefix!r} in {self.store.url} (see: ttq runs list)")
        if len(ids) > 1:
            raise StoreError(f"run id {prefix!r} is ambiguous: {', '.join(ids)}...")
        return str(ids[0])

    def fills(self, run_id: str) -> list[OrderFilled]:
        query = sa.select(schema.fills).where(schema.fills.c.run_id == run_id)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(schema.fills.c.ts_event, schema.fills.c.trade_id))
            return [records.fill_from_row(r._mapping) for r in rows]

    def order_events(self, run_id: str) -> dict[str, list[OrderEvent]]:
        """Each order's events in the order they were applied, by client order id."""
        query = (
            sa.select(schema.order_events)
            .where(schema.order_events.c.run_id == run_id)
            .order_by(schema.order_events.c.client_order_id, schema.order_events.c.seq)
        )
        events: dict[str, list[OrderEvent]] = {}
        with self.store.read() as conn:
            for row in conn.execute(query):
                event = records.order_event_from_row(row._mapping)
                events.setdefault(event.client_order_id, []).append(event)
        return events

    def equity(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The stored equity samples: int64 ns timestamps and float64 values.

        For a saved backtest, the samples that give every statistic of its full curve.
        """
        t = schema.equity
        query = sa.select(t.c.ts, t.c.equity).where(t.c.run_id == run_id)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(t.c.ts)).all()
        return (
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.float64),
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while a run's rows are built and written.

    Rows are tuples of numbers and strings, which hold no cycles, yet every few hundred of them
    would set off a collection that walks the backtest's objects: a tenth of the saving time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def save_backtest(result: BacktestResult, url: str | None = None) -> str:
    """Save ``result`` in the store at ``url`` (default: the user's store); return the run id."""
    with open_store(url) as store:
        return RunRepository(store).save_backtest(result)


def compare(a: Run, b: Run) -> list[StatisticChange]:
    """Each statistic of either run, in ``a``'s order, with ``b - a`` where both are numbers."""
    keys = list(a.statistics) + [k for k in b.statistics if k not in a.statistics]
    changes = []
    for key in keys:
        va, vb = a.statistics.get(key), b.statistics.get(key)
        delta = None
        if _is_number(va) and _is_number(vb):
            delta = float(vb) - float(va)
        changes.append(StatisticChange(key, va, vb, delta))
    return changes


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted.path, value in a, value in b)`` for every config leaf that differs."""
    out: list[tuple[str, Any, Any]] = []
    _diff(a, b, "", out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            _diff(a.get(key), b.get(key), f"{path}.{key}" if path else str(key), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append((path, a, b))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
