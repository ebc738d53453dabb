"""A running node's trading records: written as they change, read back after a restart.

Every order event, fill, position change, balance report, reconciliation action and alert goes
to the records store through its batched writer (``store/writer.py``): ``put`` costs about a
microsecond on the kernel thread and a background thread commits. Rows are put in an order that
makes every committed prefix consistent: a fill before the order row that counts it, so an order
stored as FILLED always has its fills stored too.

One node writes one run (``<mode>-<node name>``) across restarts, so recovery reads the whole
history of the run: every order with its events in the order applied, and every fill.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sqlalchemy as sa

from ttquant.model.account import Account, AccountState
from ttquant.model.cache import Cache
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.risk.alerts import Alert
from ttquant.store import records, schema
from ttquant.store.store import TradingStore
from ttquant.store.writer import BatchedWriter


@dataclass(slots=True)
class StoredRun:
    """What the store holds of a run: orders (latest row each), their events, and fills."""

    orders: dict[str, dict[str, Any]]  # client order id -> orders row
    events: dict[str, list[OrderEvent]]  # client order id -> events in applied order
    fills: list[OrderFilled]  # in the order the kernel applied them


class TradingRecords:
    """Puts the node's records into the store; one instance per node run."""

    def __init__(
        self,
        store: TradingStore,
        run_id: str,
        cache: Cache,
        *,
        flush_interval: float = 0.2,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.cache = cache
        self.writer = BatchedWriter(store, flush_interval=flush_interval, batch_size=2_000)

    # -- writing --------------------------------------------------------------------------------
    def start_run(
        self, mode: str, strategies: list[str], instruments: list[str], config: Any
    ) -> None:
        now = time.time_ns()
        self.writer.put(
            "strategy_runs",
            (
                self.run_id,
                mode,
                now,
                "+".join(strategies),
                ",".join(instruments),
                now,
                None,
                None,
                0,
                0,
                0,
                "",
                records.json_safe(config),
                {},
                _version(),
            ),
        )
        for iid in instruments:
            self.writer.put("instruments", records.instrument_row(self.cache.instrument(iid), now))

    def on_order_event(self, event: OrderEvent) -> None:
        """Record an event the execution engine applied (or a fill it booked unattributed)."""
        run_id = self.run_id
        put = self.writer.put
        if type(event) is OrderFilled:
            put("fills", records.fill_row(run_id, event))
            pos = self.cache.position(event.strategy_id, event.instrument_id)
            put(
                "position_snapshots",
                (
                    run_id,
                    event.strategy_id,
                    event.instrument_id,
                    event.ts_event,
                    pos.quantity,
                    pos.avg_px,
                    pos.realized_pnl,
                    pos.commissions,
                ),
            )
        order = self.cache.order(event.client_order_id)
        if order is None or not order.events or order.events[-1] is not event:
            return  # news about a request to an order already closed: not part of its life
        put("order_events", records.order_event_row(run_id, len(order.events) - 1, event))
        put("orders", records.order_row(run_id, order))

    def on_account_state(self, state: AccountState) -> None:
        for ccy, (total, locked) in state.balances.items():
            self.writer.put(
                "account_balances", (self.run_id, state.venue, ccy, state.ts_event, total, locked)
            )

    def balances(self, account: Account, ts_ns: int) -> None:
        """Snapshot a ledger the node keeps itself (the paper venue's)."""
        for ccy, bal in account.balances.items():
            self.writer.put(
                "account_balances", (self.run_id, account.venue, ccy, ts_ns, bal.total, bal.locked)
            )

    def action(
        self,
        kind: str,
        message: str,
        payload: dict[str, Any] | None = None,
        *,
        strategy_id: str = "",
        instrument_id: str = "",
        ts_ns: int | None = None,
    ) -> None:
        """Record something the node did on its own (reconciliation, isolation of a strategy)."""
        self.writer.put(
            "risk_events",
            (
                self.run_id,
                time.time_ns() if ts_ns is None else ts_ns,
                strategy_id,
                instrument_id,
                kind,
                message,
                records.json_safe(payload or {}),
            ),
        )

    def alert(self, alert: Alert) -> None:
        self.writer.put(
            "alerts",
            (
                self.run_id,
                alert.ts_ns,
                alert.level.label,
                alert.source or "node",
                alert.key,
                alert.message,
                records.json_safe(alert.to_dict()),
                None,
            ),
        )

    def finish_run(self, n_orders: int, n_fills: int, equity: float) -> None:
        now = time.time_ns()
        with self.store.transaction() as conn:
            conn.execute(
                sa.update(schema.strategy_runs)
                .where(schema.strategy_runs.c.run_id == self.run_id)
                .values(end_ns=now, final_equity=equity, n_orders=n_orders, n_fills=n_fills)
            )

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    # -- reading --------------------------------------------------------------------------------
    def load(self) -> StoredRun:
        """Everything stored for this run so far (committed rows only)."""
        return load_run(self.store, self.run_id)

    def first_balances(self, venue: str) -> dict[str, float]:
        self.writer.flush()
        return first_balances(self.store, self.run_id, venue)


def first_balances(store: TradingStore, run_id: str, venue: str) -> dict[str, float]:
    """The first balance recorded in the run for each currency at ``venue``."""
    b = schema.account_balances
    first = (
        sa.select(b.c.currency, sa.func.min(b.c.id).label("first"))
        .where(b.c.run_id == run_id, b.c.venue == venue)
        .group_by(b.c.currency)
        .subquery()
    )
    query = sa.select(b.c.currency, b.c.total).join(first, b.c.id == first.c.first)
    with store.read() as conn:
        return {row.currency: row.total for row in conn.execute(query)}


def load_run(store: TradingStore, run_id: str) -> StoredRun:
    o, e, f = schema.orders, schema.order_events, schema.fills
    with store.read() as conn:
        orders = {
            row.client_order_id: dict(row._mapping)
            for row in conn.execute(sa.select(o).where(o.c.run_id == run_id))
        }
        events: dict[str, list[OrderEvent]] = {}
        query = sa.select(e).where(e.c.run_id == run_id).order_by(e.c.client_order_id, e.c.seq)
        for row in conn.execute(query):
            event = records.order_event_from_row(row._mapping)
            events.setdefault(event.client_order_id, []).append(event)
        fills = [
            records.fill_from_row(row._mapping)
            for row in conn.execute(
                sa.select(f).where(f.c.run_id == run_id).order_by(f.c.ts_init, f.c.trade_id)
            )
        ]
    return StoredRun(orders, events, fills)


def _version() -> str:
    try:
        return version("ttquant")
    except PackageNotFoundError:
        return "unknown"
