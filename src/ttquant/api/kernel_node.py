"""A :class:`~ttquant.api.node.NodeHandle` over a kernel running in the API's process.

The kernel is anything with the kernel's parts (``bus``, ``cache``, ``portfolio``, ``risk``,
``strategies``): a paper node assembled in-process, or the trading node itself. An *account* is
a venue's account, named by the venue (``BINANCE``): a token scoped to ``BINANCE`` sees the
orders, fills, positions and balances of instruments at that venue only.

The kernel is single-threaded and the API calls handles from its worker threads, so every call
holds :attr:`KernelNodeHandle.lock`; whoever feeds the kernel (market data, timers) must hold it
too. After a command the handle runs ``process`` (by default the execution engine's
``process_events``) so the answer shows the order as the kernel left it: accepted, denied or
already filled. Changes reach WebSocket clients from bus subscriptions as they happen.
"""

from __future__ import annotations

import calendar
import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from ttquant.api import schemas
from ttquant.api.node import EVERYONE, NodeCommandError, Publish
from ttquant.core.bus import MessageBus
from ttquant.core.errors import TTQuantError
from ttquant.core.time import NANOS_PER_DAY, NANOS_PER_SECOND
from ttquant.model.cache import Cache
from ttquant.model.data import Bar
from ttquant.model.enums import OrderSide, OrderType
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.orders import Order
from ttquant.model.position import Position
from ttquant.monitor.health import NodeHealth
from ttquant.monitor.kernel_metrics import KernelMetrics
from ttquant.monitor.metrics import Metrics
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.engine import KILL_SWITCH, STATE_TOPIC, RiskEngine
from ttquant.risk.state import TradingStateChanged
from ttquant.strategy.strategy import Strategy

_RECENT_FILLS = 100
_LAST = -20_000  # bus priority: report an event after the kernel has fully handled it


class Kernel(Protocol):
    bus: MessageBus
    cache: Cache
    portfolio: Portfolio
    risk: RiskEngine
    strategies: Sequence[Strategy]


class KernelNodeHandle:
    def __init__(
        self,
        kernel: Kernel,
        *,
        mode: str = "paper",
        name: str = "node",
        process: Callable[[], None] | None = None,
        health: Callable[[], NodeHealth] | None = None,
    ) -> None:
        self.kernel = kernel
        self.mode = mode
        self.name = name
        self.lock = threading.RLock()
        self._process = process or kernel.risk.execution.process_events
        self._health = health
        self._publish: Publish | None = None
        self._started_ns = time.time_ns()
        self._ids = itertools.count(1)
        self._metrics: KernelMetrics | None = None

    # -- streaming ----------------------------------------------------------------------------
    def attach(self, publish: Publish) -> None:
        self._publish = publish
        bus = self.kernel.bus
        bus.subscribe("events.order.*", self._on_order_event, priority=_LAST)
        bus.subscribe(STATE_TOPIC, self._on_state, priority=_LAST)
        bus.subscribe("data.bars.*", self._on_bar, priority=_LAST)

    def _on_order_event(self, event: OrderEvent) -> None:
        assert self._publish is not None
        account = _venue(event.instrument_id)
        order = self.kernel.cache.order(event.client_order_id)
        if order is not None:
            self._publish("orders", _order(order).model_dump(mode="json"), account)
        if type(event) is OrderFilled:
            self._publish("fills", _fill(event).model_dump(mode="json"), account)
            position = self.kernel.cache.positions.get((event.strategy_id, event.instrument_id))
            if position is not None:
                view = self._position(position).model_dump(mode="json")
                self._publish("positions", view, account)
            self._publish("pnl", self._pnl(account).model_dump(mode="json"), account)

    def _on_state(self, event: TradingStateChanged) -> None:
        assert self._publish is not None
        alert = {
            "kind": "trading_state",
            "scope": event.scope,
            "state": event.state.value,
            "rule": event.rule,
            "message": event.message,
            "ts_ns": event.ts_event,
        }
        self._publish("alerts", alert, EVERYONE)

    def _on_bar(self, bar: Bar) -> None:
        assert self._publish is not None
        data = {
            "bar_type": str(bar.bar_type),
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": bar.volume,
            "ts_event": bar.ts_event,
        }
        self._publish("bars", data, EVERYONE)

    def snapshot(self, topic: str, account: str | None) -> Any:
        with self.lock:
            if topic == "orders":
                return [o.model_dump(mode="json") for o in self.orders(account, True)]
            if topic == "fills":
                return [f.model_dump(mode="json") for f in self.fills(account, _RECENT_FILLS)]
            if topic == "positions":
                return [p.model_dump(mode="json") for p in self.positions(account)]
            if topic == "pnl":
                return self._pnl(account).model_dump(mode="json")
            return []  # bars, trades, alerts: deltas only

    # -- reads ----------------------------------------------------------------------------------
    def health(self) -> NodeHealth:
        if self._health is not None:
            return self._health()
        venues = self.kernel.portfolio.accounts
        return NodeHealth(venues_connected=dict.fromkeys(venues, True))

    def status(self) -> schemas.NodeStatusOut:
        with self.lock:
            reducing = any(h.rule == "MANUAL_REDUCING" for h in self.kernel.risk.holds())
        return schemas.NodeStatusOut(
            state="running",
            mode=self.mode,  # type: ignore[arg-type]  # paper, live or sandbox
            trader_id=self.name,
            started_ns=self._started_ns,
            entries_paused=reducing,
        )

    def strategies(self) -> list[schemas.StrategyOut]:
        with self.lock:
            return [
                schemas.StrategyOut(
                    strategy_id=s.id,
                    name=s.name,
                    state="running",
                    instruments=list(s.instruments),
                    params=plain_data(s.params),
                    hot_params=[],
                )
                for s in self.kernel.strategies
            ]

    def positions(self, account: str | None) -> list[schemas.PositionOut]:
        with self.lock:
            return [
                self._position(p)
                for p in self.kernel.cache.positions.values()
                if not p.is_flat and _visible(account, p.instrument.venue)
            ]

    def orders(self, account: str | None, open_only: bool) -> list[schemas.OrderOut]:
        with self.lock:
            cache = self.kernel.cache
            orders = cache.open_orders() if open_only else list(cache.orders.values())
            return [_order(o) for o in orders if _visible(account, _venue(o.instrument_id))]

    def fills(self, account: str | None, limit: int) -> list[schemas.FillOut]:
        with self.lock:
            fills = [
                f
                for f in self.kernel.risk.execution.fills
                if _visible(account, _venue(f.instrument_id))
            ]
            return [_fill(f) for f in fills[-limit:]]

    def balances(self, account: str | None) -> list[schemas.BalanceOut]:
        with self.lock:
            return [
                schemas.BalanceOut(
                    account=venue,
                    currency=b.currency,
                    total=b.total,
                    locked=b.locked,
                    free=b.free,
                )
                for venue, acc in self.kernel.portfolio.accounts.items()
                if _visible(account, venue)
                for b in acc.balances.values()
            ]

    def pnl(self, account: str | None) -> schemas.PnlOut:
        with self.lock:
            return self._pnl(account)

    def risk(self) -> schemas.RiskOut:
        with self.lock:
            risk = self.kernel.risk
            summary = risk.summary()
            config = risk.config
            return schemas.RiskOut(
                state=risk.state().value,
                kill_switch=any(h.rule == KILL_SWITCH for h in risk.holds()),
                scopes=summary["states"],
                denials=summary["denials"],
                limits={} if config is None else plain_data(config),
            )

    def bind_metrics(self, metrics: Metrics) -> None:
        with self.lock:
            self._metrics = KernelMetrics(metrics, self.kernel, self.mode).attach()

    def sample_metrics(self) -> None:
        if self._metrics is not None:
            with self.lock:
                self._metrics.sample()

    def reconciliation(self) -> schemas.ReconciliationOut:
        """An in-process simulated venue is the node's own ledger: nothing can diverge."""
        return schemas.ReconciliationOut(ok=True, last_run_ns=None, mismatches=[])

    # -- commands -------------------------------------------------------------------------------
    def control(self, action: str) -> schemas.NodeStatusOut:
        risk = self.kernel.risk
        with self.lock:
            if action == "pause-entries":
                risk.reduce_only("entries paused over the API")
            elif action == "resume-entries":
                if any(h.rule == KILL_SWITCH for h in risk.holds()):
                    raise NodeCommandError(409, "the kill switch is on: release it first")
                risk.resume()
            else:
                raise NodeCommandError(409, f"{action!r} is not available for an in-process node")
            self._process()
        return self.status()

    def strategy_action(self, strategy_id: str, action: str) -> schemas.StrategyOut:
        self._strategy(strategy_id)
        raise NodeCommandError(409, f"{action!r} needs the trading node's strategy host")

    def patch_params(self, strategy_id: str, params: dict[str, Any]) -> schemas.StrategyOut:
        self._strategy(strategy_id)
        fields = ", ".join(sorted(params)) or "none given"
        raise NodeCommandError(409, f"parameters need a restart to change here ({fields})")

    def submit_order(self, order: schemas.OrderIn, account: str | None) -> schemas.OrderOut:
        with self.lock:
            cache = self.kernel.cache
            instrument = cache.instruments.get(order.instrument_id)
            if instrument is None or not _visible(account, instrument.venue):
                raise NodeCommandError(404, f"unknown instrument {order.instrument_id!r}")
            if order.order_type == "limit" and order.price is None:
                raise NodeCommandError(422, "a limit order needs a price")
            new = Order(
                client_order_id=f"api-{self._started_ns:x}-{next(self._ids)}",
                strategy_id=order.strategy_id,
                instrument_id=instrument.id,
                side=OrderSide.BUY if order.side == "buy" else OrderSide.SELL,
                order_type=OrderType.LIMIT if order.order_type == "limit" else OrderType.MARKET,
                quantity=order.quantity,
                price=order.price if order.order_type == "limit" else None,
                ts_init=cache.now(),
            )
            try:
                self.kernel.risk.submit([new])
                self._process()
            except TTQuantError as exc:
                raise NodeCommandError(422, str(exc)) from None
            return _order(new)

    def cancel_order(self, client_order_id: str, account: str | None) -> schemas.OrderOut:
        with self.lock:
            order = self.kernel.cache.order(client_order_id)
            if order is None or not _visible(account, _venue(order.instrument_id)):
                raise NodeCommandError(404, f"no order {client_order_id!r}")
            if order.is_closed:
                raise NodeCommandError(409, f"order {client_order_id} is {order.status.name}")
            self.kernel.risk.cancel(order)
            self._process()
            return _order(order)

    def cancel_all(self, account: str | None, instrument_id: str | None) -> int:
        with self.lock:
            targets = [
                o
                for o in self.kernel.cache.open_orders(instrument_id=instrument_id)
                if _visible(account, _venue(o.instrument_id))
            ]
            for order in targets:
                self.kernel.risk.cancel(order)
            self._process()
            return len(targets)

    def kill_switch(self, active: bool, reason: str) -> schemas.RiskOut:
        with self.lock:
            if active:
                self.kernel.risk.halt(reason)
            else:
                self.kernel.risk.resume()
            self._process()
        return self.risk()

    # -- views ------------------------------------------------------------------------------------
    def _strategy(self, strategy_id: str) -> Strategy:
        for strategy in self.kernel.strategies:
            if strategy.id == strategy_id:
                return strategy
        raise NodeCommandError(404, f"no strategy {strategy_id!r}")

    def _position(self, p: Position) -> schemas.PositionOut:
        price = self.kernel.cache.price(p.instrument.id)
        known = math.isfinite(price)
        return schemas.PositionOut(
            account=p.instrument.venue,
            strategy_id=p.strategy_id,
            instrument_id=p.instrument.id,
            quantity=p.quantity,
            avg_px=p.avg_px,
            last_price=price if known else None,
            unrealized_pnl=p.unrealized_pnl(price) if known else 0.0,
            realized_pnl=p.realized_pnl - p.commissions,
        )

    def _pnl(self, account: str | None) -> schemas.PnlOut:
        """Totals per (strategy, instrument), and realized PnL of round trips closed today, this
        week and this month (UTC)."""
        cache, portfolio = self.kernel.cache, self.kernel.portfolio
        rows = []
        for (sid, iid), p in cache.positions.items():
            if not _visible(account, p.instrument.venue):
                continue
            price = cache.price(iid)
            unrealized = p.unrealized_pnl(price) if math.isfinite(price) else 0.0
            rows.append(
                schemas.PnlRow(
                    period="total",
                    strategy_id=sid,
                    instrument_id=iid,
                    realized=p.realized_pnl - p.commissions,
                    unrealized=unrealized,
                    commissions=p.commissions,
                )
            )
        now = cache.now()
        starts = {"day": _day_start(now), "week": _week_start(now), "month": _month_start(now)}
        for period, start in starts.items():
            totals: dict[tuple[str, str], list[float]] = {}
            for trip in cache.round_trips:
                if trip.exit_ns >= start and _visible(account, _venue(trip.instrument_id)):
                    acc = totals.setdefault((trip.strategy_id, trip.instrument_id), [0.0, 0.0])
                    acc[0] += trip.pnl
                    acc[1] += trip.fees
            rows += [
                schemas.PnlRow(
                    period=period,  # type: ignore[arg-type]  # day, week or month
                    strategy_id=sid,
                    instrument_id=iid,
                    realized=pnl,
                    unrealized=0.0,
                    commissions=fees,
                )
                for (sid, iid), (pnl, fees) in totals.items()
            ]
        equity = sum(portfolio.equity(v) for v in portfolio.accounts if _visible(account, v))
        return schemas.PnlOut(equity=equity, rows=rows)


def _visible(account: str | None, venue: str) -> bool:
    return account is None or account == venue


def _venue(instrument_id: str) -> str:
    return instrument_id.rpartition("@")[2]


def _order(o: Order) -> schemas.OrderOut:
    return schemas.OrderOut(
        account=_venue(o.instrument_id),
        client_order_id=o.client_order_id,
        venue_order_id=o.venue_order_id,
        strategy_id=o.strategy_id,
        instrument_id=o.instrument_id,
        side="buy" if o.side is OrderSide.BUY else "sell",
        order_type=o.order_type.name.lower(),
        quantity=o.quantity,
        price=o.price,
        trigger_price=o.trigger_price,
        status=o.status.name,
        filled_qty=o.filled_qty,
        avg_px=o.avg_px if o.filled_qty else None,
        ts_init=o.ts_init,
        ts_last=o.ts_last,
    )


def _fill(f: OrderFilled) -> schemas.FillOut:
    return schemas.FillOut(
        trade_id=f.trade_id,
        client_order_id=f.client_order_id,
        venue_order_id=f.venue_order_id,
        strategy_id=f.strategy_id,
        instrument_id=f.instrument_id,
        side=f.side.name.lower(),
        qty=f.last_qty,
        price=f.last_px,
        commission=f.commission,
        commission_currency=f.commission_currency,
        liquidity_side=f.liquidity_side.name.lower(),
        ts_event=f.ts_event,
    )


def plain_data(value: Any) -> Any:
    """JSON-ready: msgspec structs and mappings to dicts, non-finite floats to strings."""
    return _finite(msgspec.to_builtins(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _day_start(ns: int) -> int:
    return ns - ns % NANOS_PER_DAY


def _week_start(ns: int) -> int:
    day = _day_start(ns)
    weekday = (day // NANOS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    return day - weekday * NANOS_PER_DAY


def _month_start(ns: int) -> int:
    moment = time.gmtime(ns // NANOS_PER_SECOND)
    return calendar.timegm((moment.tm_year, moment.tm_mon, 1, 0, 0, 0)) * NANOS_PER_SECOND
