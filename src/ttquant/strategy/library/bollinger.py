"""Bollinger Band mean reversion: buy below the lower band, exit at the middle band."""

from __future__ import annotations

from ttquant.indicators.volatility import BBANDS
from ttquant.model.data import Bar
from ttquant.model.events import OrderDenied, OrderEvent, OrderRejected
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class BollingerReversion(Strategy):
    """Fade closes outside the Bollinger Bands.

    Rules, evaluated when each bar closes, with bands of ``period`` bars (SMA of the close ±
    ``nbdev`` population standard deviations, as TA-Lib's BBANDS) including this bar, and the
    side held (+1 long, 0 flat, -1 short):

    - ``close < lower``: go long (from flat, or reversing a short).
    - ``close > upper``: go short when ``long_short``, else go flat (a long is closed).
    - otherwise a long is closed when ``close >= middle``, a short when ``close <= middle``.

    A change of side targets a position of ``±size`` (or 0) with one market order, filled by the
    venue's fill model (by default at the next bar's open); if the venue rejects one, the side
    held is taken from the position again. No order rests. Trades the first
    instrument given to the strategy.
    """

    name = "bollinger_reversion"
    period: int = Param(20, min=2, max=1000, step=1, doc="band window (bars)")
    nbdev: float = Param(2.0, min=0.1, max=10.0, step=0.1, doc="band width in standard deviations")
    long_short: bool = Param(False, doc="also sell short above the upper band")
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    def on_start(self) -> None:
        self._bands = BBANDS(self.period, self.nbdev, self.nbdev)
        self._side = 0
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        bands = self._bands
        bands.update(bar.close)
        if not bands.ready:
            return
        close, side = bar.close, self._side
        if close < bands.lower:
            side = 1
        elif close > bands.upper:
            side = -1 if self.long_short else 0
        elif (side > 0 and close >= bands.middle) or (side < 0 and close <= bands.middle):
            side = 0
        if side != self._side:
            self._side = side
            self.order_target_quantity(side * self.size)

    def on_order(self, event: OrderEvent) -> None:
        if isinstance(event, OrderRejected | OrderDenied):
            # the venue said no: the side held is whatever the position really is
            qty = self.position().quantity
            self._side = (qty > 0) - (qty < 0)
