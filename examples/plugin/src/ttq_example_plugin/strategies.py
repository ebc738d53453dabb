"""``ema_ribbon``: ride a trend while a ribbon of EMAs stays stacked in its direction."""

from __future__ import annotations

from ttquant.model.data import Bar
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy

from .indicators import RibbonWidth


class EMARibbon(Strategy):
    """Hold a long while every EMA of a ribbon is above the next slower one.

    The ribbon has ``lines`` EMAs of the close with periods ``fastest``, ``fastest + spacing``,
    ``fastest + 2 * spacing``, ... Rules, evaluated when each bar closes:

    - ribbon stacked upwards (every EMA above the next slower one): go long, if the ribbon is at
      least ``min_width`` percent of the close wide (an open long is kept whatever the width).
    - stacked downwards: go flat, or short (same width rule) when ``long_only`` is false.
    - tangled: go flat.

    A change of side targets a position of ``±size`` (or 0) with one market order. Trades the
    first instrument given to the strategy.
    """

    name = "ema_ribbon"
    fastest: int = Param(8, min=2, max=500, step=1, doc="period of the fastest EMA (bars)")
    spacing: int = Param(6, min=1, max=500, step=1, doc="period added per further EMA (bars)")
    lines: int = Param(4, min=2, max=12, step=1, doc="number of EMAs in the ribbon")
    min_width: float = Param(
        0.0, min=0.0, max=10.0, doc="enter only when the ribbon is this wide (percent of close)"
    )
    long_only: bool = Param(True, doc="never hold a short position")
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    def on_start(self) -> None:
        periods = [self.fastest + i * self.spacing for i in range(self.lines)]
        self._ribbon = RibbonWidth(periods)
        self._side = 0
        bar_type = self.bar_type()
        self.register_indicator(self._ribbon, bar_type)  # updated before each on_bar
        self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        ribbon = self._ribbon
        if not ribbon.ready:
            return
        wide = ribbon.value >= self.min_width
        side = self._side
        if ribbon.trend > 0.0:
            side = 1 if side > 0 or wide else 0
        elif ribbon.trend < 0.0 and not self.long_only:
            side = -1 if side < 0 or wide else 0
        else:
            side = 0
        if side != self._side:
            self._side = side
            self.order_target_quantity(side * self.size)
