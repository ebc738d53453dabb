"""The kernel's in-memory view of the trading world.

Instruments, orders, positions, round-trip trades, the last price of every instrument and the
current time. Strategies read it through ``self.cache``; engines write it. It performs no I/O,
so the same cache serves a backtest and a live node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ttquant.core.errors import InstrumentError
from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderStatus
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.model.position import Position, RoundTrip


class Cache:
    def __init__(self, clock_ns: Callable[[], int]) -> None:
        self.now = clock_ns
        self.instruments: dict[str, Instrument] = {}
        self.orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}  # not yet terminal, in submission order
        self.positions: dict[tuple[str, str], Position] = {}
        self.round_trips: list[RoundTrip] = []
        self.prices: dict[str, float] = {}  # last trade, close or mid per instrument
        self.quotes: dict[str, QuoteTick] = {}

    # -- instruments ----------------------------------------------------------------------------
    def add_instrument(self, instrument: Instrument) -> None:
        self.instruments[instrument.id] = instrument

    def instrument(self, instrument_id: str) -> Instrument:
        try:
            return self.instruments[instrument_id]
        except KeyError:
            known = ", ".join(sorted(self.instruments)) or "none"
            raise InstrumentError(
                f"unknown instrument {instrument_id!r} (known: {known})"
            ) from None

    # -- prices ---------------------------------------------------------------------------------
    def price(self, instrument_id: str) -> float:
        """The last known price, NaN before any data."""
        return self.prices.get(instrument_id, math.nan)

    def conversion_rate(self, from_ccy: str, to_ccy: str) -> float:
        """How many ``to_ccy`` one ``from_ccy`` is worth, from any instrument quoting the pair."""
        if from_ccy == to_ccy:
            return 1.0
        for inst in self.instruments.values():
            price = self.prices.get(inst.id)
            if price is None or inst.is_inverse:
                continue
            if inst.base == from_ccy and inst.quote == to_ccy:
                return price
            if inst.base == to_ccy and inst.quote == from_ccy:
                return 1.0 / price
        return math.nan

    # -- orders ---------------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        if order.client_order_id in self.orders:
            raise InstrumentError(f"duplicate client order id {order.client_order_id}")
        self.orders[order.client_order_id] = order
        self._open[order.client_order_id] = order

    def order_updated(self, order: Order) -> None:
        """Keep the open-order index in step after ``order`` changed state."""
        if order.is_closed:
            self._open.pop(order.client_order_id, None)

    def order(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    def open_orders(
        self, strategy_id: str | None = None, instrument_id: str | None = None
    ) -> list[Order]:
        """Orders working or in flight (not yet terminal)."""
        return [
            o
            for o in self._open.values()
            if o.status is not OrderStatus.INITIALIZED
            and (strategy_id is None or o.strategy_id == strategy_id)
            and (instrument_id is None or o.instrument_id == instrument_id)
        ]

    # -- positions ------------------------------------------------------------------------------
    def position(self, strategy_id: str, instrument_id: str) -> Position:
        """The strategy's position in the instrument (created flat on first use)."""
        key = (strategy_id, instrument_id)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(self.instrument(instrument_id), strategy_id)
        return pos

    def open_positions(self, strategy_id: str | None = None) -> Iterable[Position]:
        return [
            p
            for (sid, _), p in self.positions.items()
            if not p.is_flat and (strategy_id is None or sid == strategy_id)
        ]
