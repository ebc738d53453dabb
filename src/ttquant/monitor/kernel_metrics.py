"""Feed :class:`~ttquant.monitor.metrics.Metrics` from a running kernel.

Two halves, because they cost differently. Order events are counted as they are published on the
bus (a dict lookup and a counter increment per event), so no submit, fill or reject is missed
between scrapes. Positions, PnL, equity, drawdown and trading states are *levels*: they are
sampled by :meth:`KernelMetrics.sample`, which the node calls on a timer (and a scrape may call),
so the kernel pays nothing per price update.

The kernel is anything with ``bus``, ``cache``, ``portfolio`` and ``risk`` attributes: the
backtest engine and the live/paper node alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from ttquant.core.bus import MessageBus
from ttquant.model.cache import Cache
from ttquant.model.events import (
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from ttquant.monitor.metrics import Metrics
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.engine import KILL_SWITCH, STATE_TOPIC, RiskEngine
from ttquant.risk.state import ACCOUNT, TradingState, TradingStateChanged

ORDER_EVENTS = "events.order.*"
_LAST = -10_000  # bus priority: count an event after every strategy and engine has seen it
NS = 1e-9


class Kernel(Protocol):
    bus: MessageBus
    cache: Cache
    portfolio: Portfolio
    risk: RiskEngine


class KernelMetrics:
    """Counts a kernel's order events and samples its positions, PnL and risk states."""

    def __init__(
        self,
        metrics: Metrics,
        kernel: Kernel,
        mode: str,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.metrics = metrics
        self.kernel = kernel
        self.mode = mode
        self._wall_ns = wall_ns
        self._submitted_ns: dict[str, int] = {}  # client order id -> submit time, until answered
        self._peaks: dict[str, float] = {}  # drawdown scope -> running peak equity
        self._sampled: set[tuple[str, ...]] = set()  # position label sets exported last time
        self._published = kernel.bus.published_count

    def attach(self) -> KernelMetrics:
        bus = self.kernel.bus
        bus.subscribe(ORDER_EVENTS, self.on_order_event, priority=_LAST)
        bus.subscribe(STATE_TOPIC, self.on_state_change, priority=_LAST)
        return self

    # -- events -------------------------------------------------------------------------------
    def on_order_event(self, event: OrderEvent) -> None:
        m = self.metrics
        kind = type(event)
        if kind is OrderFilled:
            assert isinstance(event, OrderFilled)
            instrument = self.kernel.cache.instruments.get(event.instrument_id)
            venue = instrument.venue if instrument else _venue_of(event.instrument_id)
            labels = (self.mode, event.strategy_id, venue, event.instrument_id)
            m.fills.labels(*labels, event.side.name.lower()).inc()
            multiplier = instrument.multiplier if instrument else 1.0
            m.fill_notional.labels(*labels).inc(abs(event.last_qty * event.last_px * multiplier))
        elif kind is OrderSubmitted:
            order = self.kernel.cache.order(event.client_order_id)
            side = order.side.name.lower() if order is not None else "unknown"
            venue = _venue_of(event.instrument_id)
            m.orders.labels(self.mode, event.strategy_id, venue, event.instrument_id, side).inc()
            self._submitted_ns[event.client_order_id] = self._wall_ns()
        elif kind is OrderAccepted:
            self._answered(event)
        elif kind is OrderRejected or kind is OrderDenied:
            assert isinstance(event, OrderRejected | OrderDenied)
            source = "risk" if kind is OrderDenied else "venue"
            venue = _venue_of(event.instrument_id)
            m.order_rejects.labels(self.mode, event.strategy_id, venue, source, event.reason).inc()
            if kind is OrderRejected:
                self._answered(event)

    def _answered(self, event: OrderEvent) -> None:
        sent = self._submitted_ns.pop(event.client_order_id, None)
        if sent is not None:
            seconds = max(self._wall_ns() - sent, 0) * NS
            self.metrics.order_round_trip.labels(self.mode, _venue_of(event.instrument_id)).observe(
                seconds
            )

    def on_state_change(self, event: TradingStateChanged) -> None:
        self._export_state(event.scope, event.state)

    def observe_tick_to_order(self, strategy_id: str, seconds: float) -> None:
        """Record a strategy's reaction time (the node measures it around its callbacks)."""
        self.metrics.tick_to_order.labels(self.mode, strategy_id).observe(seconds)

    # -- levels -------------------------------------------------------------------------------
    def sample(self) -> None:
        """Export the current positions, PnL, equity, drawdown, states and a heartbeat."""
        m, mode = self.metrics, self.mode
        cache, portfolio = self.kernel.cache, self.kernel.portfolio
        seen: set[tuple[str, ...]] = set()
        for (sid, iid), pos in cache.positions.items():
            labels = (mode, sid, pos.instrument.venue, iid)
            if pos.is_flat and labels not in self._sampled:
                continue
            seen.add(labels)
            price = cache.price(iid)
            m.position_quantity.labels(*labels).set(pos.quantity)
            notional = pos.quantity * pos.instrument.multiplier * price
            m.position_notional.labels(*labels).set(notional if math.isfinite(notional) else 0.0)
        self._sampled = seen
        for sid, pnl in portfolio.pnl_by_strategy().items():
            m.pnl_realized.labels(mode, sid).set(pnl.realized)
            m.pnl_unrealized.labels(mode, sid).set(pnl.unrealized)
        for venue in portfolio.accounts:
            m.equity.labels(mode, venue).set(portfolio.equity(venue))
        self._drawdown(ACCOUNT, portfolio.equity())
        for sid in portfolio.capitals:
            self._drawdown(sid, portfolio.strategy_equity(sid))
        risk = self.kernel.risk
        self._export_state(ACCOUNT, risk.state())
        m.node_heartbeat.labels(mode).set(self._wall_ns() * NS)
        m.bus_queue_depth.labels(mode, "venue_events").set(len(risk.execution.pending))
        published = self.kernel.bus.published_count
        m.bus_messages.labels(mode).inc(published - self._published)
        self._published = published

    def _drawdown(self, scope: str, equity: float) -> None:
        if not math.isfinite(equity):
            return
        peak = max(self._peaks.get(scope, equity), equity)
        self._peaks[scope] = peak
        ratio = (peak - equity) / peak if peak > 0 else 0.0
        self.metrics.drawdown.labels(self.mode, scope).set(ratio)

    def _export_state(self, scope: str, state: TradingState) -> None:
        for candidate in TradingState:
            self.metrics.risk_state.labels(self.mode, scope, candidate.value).set(
                1.0 if candidate is state else 0.0
            )
        holds = self.kernel.risk.holds(None if scope == ACCOUNT else scope)
        killed = any(h.rule == KILL_SWITCH for h in holds)
        self.metrics.kill_switch.labels(self.mode, scope).set(1.0 if killed else 0.0)


def _venue_of(instrument_id: str) -> str:
    """The venue part of ``SYMBOL@VENUE``."""
    return instrument_id.rpartition("@")[2]
