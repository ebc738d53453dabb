"""Momentum breakout: a close above the recent highs on strong volume, protected by an ATR stop."""

from __future__ import annotations

from collections import deque

from ttquant.indicators.volatility import ATR
from ttquant.model.data import Bar
from ttquant.model.enums import OrderSide
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Breakout(Strategy):
    """Buy a close that breaks the recent highs on above-average volume; exit on an ATR stop.

    Rules, evaluated when each bar closes, over the ``lookback`` bars *before* it (the bar
    itself is not part of its own reference):

    - *price*: ``close > highest high × (1 + threshold_pct / 100)``;
    - *volume*: ``volume > volume_multiple × mean volume``;
    - *risk*: the ``atr_period`` ATR (Wilder, including this bar) is defined.

    When all three hold and the strategy is flat with no order working, it submits a bracket:
    a market buy of ``size`` (filled by the venue's fill model, by default at the next bar's
    open), a reduce-only stop-loss at ``close − atr_mult × ATR`` and, if ``take_profit_atr`` >
    0, a take-profit limit at ``close + take_profit_atr × ATR`` (both prices from the signal
    bar, rounded to the tick). The exits become active when the entry fills and cancel each
    other; nothing else closes the position, and no new signal is taken while it is open or
    while any of the bracket's orders works. Long only; trades the first instrument.
    """

    name = "breakout"
    lookback: int = Param(20, min=2, max=1000, step=1, doc="bars of highs and volume to beat")
    threshold_pct: float = Param(
        0.0, min=0.0, max=20.0, step=0.1, doc="close must exceed the highest high by this %"
    )
    volume_multiple: float = Param(
        1.5, min=0.0, max=20.0, step=0.1, doc="volume must exceed this multiple of its mean"
    )
    atr_period: int = Param(14, min=1, max=500, step=1, doc="ATR window (bars)")
    atr_mult: float = Param(2.0, min=0.1, max=20.0, step=0.1, doc="stop distance in ATRs")
    take_profit_atr: float = Param(
        0.0, min=0.0, max=50.0, step=0.5, doc="take-profit distance in ATRs (0: none)"
    )
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    def on_start(self) -> None:
        self._atr = ATR(self.atr_period)
        self._highs: deque[float] = deque(maxlen=self.lookback)
        self._volumes: deque[float] = deque(maxlen=self.lookback)
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        atr = self._atr.update(bar.high, bar.low, bar.close)
        highs, volumes = self._highs, self._volumes
        ready = len(highs) == self.lookback and self._atr.ready
        if (
            ready
            and bar.close > max(highs) * (1.0 + self.threshold_pct / 100.0)
            and bar.volume > self.volume_multiple * (sum(volumes) / self.lookback)
            and self.position().is_flat
            and not self.open_orders()
        ):
            inst = self.cache.instrument(self.instrument)
            take_profit = None
            if self.take_profit_atr > 0.0:
                take_profit = inst.round_price(bar.close + self.take_profit_atr * atr)
            self.bracket(
                OrderSide.BUY,
                self.size,
                stop_loss=inst.round_price(bar.close - self.atr_mult * atr),
                take_profit=take_profit,
            )
        highs.append(bar.high)
        volumes.append(bar.volume)
