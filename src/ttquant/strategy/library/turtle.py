"""Donchian / turtle breakout with ATR position sizing and pyramiding."""

from __future__ import annotations

import math

from ttquant.indicators.volatility import ATR, Donchian
from ttquant.model.data import Bar
from ttquant.model.events import OrderDenied, OrderEvent, OrderFilled, OrderRejected
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Turtle(Strategy):
    """Enter on an ``entry_period`` channel breakout, add units as it runs, exit on the opposite
    ``exit_period`` breakout.

    Rules, evaluated when each bar closes. Channels are the highest high / lowest low of the
    ``entry_period`` or ``exit_period`` bars *before* this bar; ``N`` is the ``atr_period`` ATR
    (Wilder, including this bar).

    - *Unit size*: ``risk_pct`` % of equity per N: ``round_down(risk_pct / 100 × equity /
      (N × multiplier))`` to the instrument's lot, with the equity and N of the bar that decides
      the unit (a unit of 0 lots is not traded).
    - *Entry* (flat): ``close > entry high`` buys one unit; with ``long_short``, ``close < entry
      low`` sells one unit short. The N of this bar is the trade's N.
    - *Pyramiding*: while fewer than ``max_units`` units are held, one more unit is added when
      the close is at least ``add_atr × N`` (the trade's N) beyond the fill price of the last
      unit, in the position's favour; at most one unit per bar.
    - *Exit*: a long is closed when ``close < exit low``, a short when ``close > exit high``;
      the whole position; a bar that exits takes no new entry (a reversal needs a fresh
      breakout on a later bar). No stop-loss order is used.

    Orders are market orders filled by the venue's fill model (by default at the next bar's
    open); no decision is taken while one is still working, and a rejected unit is not counted.
    No order rests. Trades the first instrument given to the strategy.
    """

    name = "turtle"
    entry_period: int = Param(20, min=2, max=1000, step=1, doc="breakout channel for entries")
    exit_period: int = Param(10, min=1, max=1000, step=1, doc="opposite channel for exits")
    atr_period: int = Param(20, min=1, max=500, step=1, doc="ATR (N) window (bars)")
    risk_pct: float = Param(1.0, min=0.0, max=100.0, step=0.1, doc="% of equity risked per N")
    max_units: int = Param(4, min=1, max=20, step=1, doc="most units held at once")
    add_atr: float = Param(0.5, min=0.0, max=10.0, step=0.1, doc="add a unit every this many N")
    long_short: bool = Param(False, doc="also trade breakouts to the downside (short)")

    def on_start(self) -> None:
        self._atr = ATR(self.atr_period)
        self._entry = Donchian(self.entry_period)
        self._exit = Donchian(self.exit_period)
        self._dir = 0  # +1 long, -1 short, 0 flat
        self._units = 0
        self._n = math.nan  # the trade's N
        self._last_px = math.nan  # fill price of the last unit
        self._unit_ids: set[str] = set()
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        entry_hi, entry_lo = self._entry.upper, self._entry.lower  # previous bars (NaN: warm-up)
        exit_hi, exit_lo = self._exit.upper, self._exit.lower
        n = self._atr.update(bar.high, bar.low, bar.close)
        self._entry.update(bar.high, bar.low)
        self._exit.update(bar.high, bar.low)
        if self.open_orders():
            return
        close, d = bar.close, self._dir
        if (d > 0 and close < exit_lo) or (d < 0 and close > exit_hi):
            self.close_position()
            self._dir, self._units = 0, 0
        elif d != 0:
            if (
                self._units < self.max_units
                and d * (close - self._last_px) >= self.add_atr * self._n
            ):
                self._add_unit(d, n)
        elif close > entry_hi:
            self._add_unit(1, n)
        elif self.long_short and close < entry_lo:
            self._add_unit(-1, n)

    def _add_unit(self, direction: int, n: float) -> None:
        if not n > 0.0:  # ATR not ready (NaN) or zero
            return
        inst = self.cache.instrument(self.instrument)
        qty = inst.round_quantity(self.risk_pct / 100.0 * self.equity / (n * inst.multiplier))
        if qty <= 0.0:
            return
        if self._units == 0:
            self._dir, self._n, self._last_px = direction, n, math.nan
        self._units += 1
        order = self.buy(qty) if direction > 0 else self.sell(qty)
        self._unit_ids.add(order.client_order_id)

    def on_order(self, event: OrderEvent) -> None:
        cid = event.client_order_id
        if cid not in self._unit_ids:
            return
        if isinstance(event, OrderFilled):
            self._last_px = event.last_px
        elif isinstance(event, OrderRejected | OrderDenied):
            self._units -= 1
            if self._units == 0:
                self._dir = 0
