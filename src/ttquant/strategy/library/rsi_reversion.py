"""RSI mean reversion: buy oversold, (optionally) sell overbought, exit at the midline or band."""

from __future__ import annotations

from ttquant.core.errors import ConfigError
from ttquant.indicators.oscillators import RSI
from ttquant.model.data import Bar
from ttquant.model.events import OrderDenied, OrderEvent, OrderRejected
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class RSIReversion(Strategy):
    """Fade RSI extremes.

    Rules, evaluated when each bar closes, with the ``period``-bar RSI ``r`` of the close
    (Wilder, as TA-Lib) and the side held (+1 long, 0 flat, -1 short):

    - ``r < oversold``: go long (from flat, or reversing a short).
    - ``r > overbought``: go short when ``long_short``, else go flat (a long is closed).
    - otherwise, with ``exit = "midline"``: a long is closed when ``r >= 50``, a short when
      ``r <= 50``; with ``exit = "band"`` a position is held until the opposite band (above).

    A change of side targets a position of ``±size`` (or 0) with one market order, filled by the
    venue's fill model (by default at the next bar's open); if the venue rejects one, the side
    held is taken from the position again. No order rests. Trades the first
    instrument given to the strategy.
    """

    name = "rsi_reversion"
    period: int = Param(14, min=2, max=500, step=1, doc="RSI window (bars)")
    oversold: float = Param(30.0, min=0.0, max=50.0, step=1.0, doc="buy below this RSI")
    overbought: float = Param(70.0, min=50.0, max=100.0, step=1.0, doc="sell above this RSI")
    exit: str = Param("midline", choices=("midline", "band"), doc="exit at 50 or opposite band")
    long_short: bool = Param(False, doc="also sell short above overbought")
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    def on_start(self) -> None:
        if self.oversold >= self.overbought:
            raise ConfigError(
                f"strategy {self.id!r}: oversold ({self.oversold}) must be below "
                f"overbought ({self.overbought})"
            )
        self._rsi = RSI(self.period)
        self._side = 0
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        r = self._rsi.update(bar.close)
        if not self._rsi.ready:
            return
        side = self._side
        if r < self.oversold:
            side = 1
        elif r > self.overbought:
            side = -1 if self.long_short else 0
        elif self.exit == "midline" and ((side > 0 and r >= 50.0) or (side < 0 and r <= 50.0)):
            side = 0
        if side != self._side:
            self._side = side
            self.order_target_quantity(side * self.size)

    def on_order(self, event: OrderEvent) -> None:
        if isinstance(event, OrderRejected | OrderDenied):
            # the venue said no: the side held is whatever the position really is
            qty = self.position().quantity
            self._side = (qty > 0) - (qty < 0)
