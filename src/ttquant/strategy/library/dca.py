"""Dollar-cost averaging: buy a fixed quote amount on a fixed schedule."""

from __future__ import annotations

import math

from ttquant.core.clock import TimeEvent
from ttquant.model.data import Bar
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class DCA(Strategy):
    """Buy ``amount`` worth of the instrument every ``interval``; optionally take profit.

    Rules:

    - a timer fires every ``interval`` (e.g. ``"1d"``), the first one ``interval`` after the
      first bar closes. Each firing submits a market buy of ``amount`` quote currency at the last
      known price: quantity = ``amount / last close``, rounded down to the instrument's size
      increment (nothing is sent when that rounds to zero). It fills at the next bar's open.
    - ``take_profit_pct`` (optional, 1.0 == 1 %): when a bar closes at or above the position's
      average entry price × (1 + ``take_profit_pct`` / 100), the whole position is sold with a
      market order (next bar's open). Buying continues on schedule afterwards.

    Trades the first instrument given to the strategy.
    """

    name = "dca"
    amount: float = Param(100.0, min=0.0, doc="quote-currency amount bought each interval")
    interval: str = Param("1d", doc='time between buys ("1h", "1d", "7d", ...)')
    take_profit_pct: float | None = Param(
        None, min=0.0, max=1000.0, step=1.0, doc="sell everything this % above the average entry"
    )

    def on_start(self) -> None:
        self.subscribe_bars(self.bar_type())
        self.set_timer("buy", self.interval)

    def on_timer(self, event: TimeEvent) -> None:
        price = self.cache.price(self.instrument)
        if math.isnan(price) or price <= 0.0:
            return
        qty = self.cache.instrument(self.instrument).round_quantity(self.amount / price)
        if qty > 0.0:
            self.buy(qty)

    def on_bar(self, bar: Bar) -> None:
        if self.take_profit_pct is None:
            return
        position = self.position()
        if position.quantity > 0.0 and bar.close >= position.avg_px * (
            1.0 + self.take_profit_pct / 100.0
        ):
            self.close_position(reason="take_profit")
