"""Grid trading: resting limit orders on a ladder of prices, buying low and selling one level up."""

from __future__ import annotations

from ttquant.core.errors import ConfigError
from ttquant.model.data import Bar
from ttquant.model.enums import OrderSide
from ttquant.model.events import OrderFilled
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Grid(Strategy):
    """Long-only grid: buy at each level below the price, sell each lot one level higher.

    Levels: ``levels`` prices from ``lower`` to ``upper`` (both included), evenly spaced
    (``spacing="arithmetic"``: equal differences; ``"geometric"``: equal ratios), each rounded to
    the instrument's tick (``round_price``). Without ``lower``/``upper`` the range is
    ``width_pct`` percent (1.0 == 1 %) either side of the first bar's close.

    Rules:

    - at the close of the first bar, a limit buy of ``order_size`` rests at every level strictly
      below that close; the grid starts with no position and never sells what it has not bought.
    - a buy filled at level ``k`` places a limit sell of the filled quantity at level ``k + 1``;
      a sell filled at level ``k`` places a limit buy of the filled quantity at level ``k - 1``.
      Each lot therefore earns one level gap (``level[k + 1] - level[k]``) less fees; a lot bought
      at the top level (only possible when the first close is above ``upper``) has no level to
      sell at and is held until ``stop_loss``/``take_profit`` or the end. Orders are
      placed when the fill is reported (at the close of the bar it happened in), so a counter
      order that is already marketable then fills at the next open, a price at least as good.
    - ``stop_loss`` / ``take_profit`` (absolute prices, optional): when a bar closes at or below
      ``stop_loss`` or at or above ``take_profit`` (the first bar included: the grid is then
      never placed), every resting order is canceled, the
      position is closed with a market order (next bar's open) and the grid stops for good.

    Trades the first instrument given to the strategy.
    """

    name = "grid"
    lower: float | None = Param(None, min=0.0, doc="lowest grid price (absolute)")
    upper: float | None = Param(None, min=0.0, doc="highest grid price (absolute)")
    width_pct: float = Param(
        5.0, min=0.01, max=99.0, step=0.5, doc="without lower/upper: range ± this % of the start"
    )
    levels: int = Param(11, min=2, max=1000, step=1, doc="number of grid prices, ends included")
    spacing: str = Param("arithmetic", choices=("arithmetic", "geometric"), doc="level spacing")
    order_size: float = Param(0.01, min=0.0, doc="quantity of each order, instrument units")
    stop_loss: float | None = Param(None, min=0.0, doc="close below/at this: cancel all, flatten")
    take_profit: float | None = Param(None, min=0.0, doc="close above/at this: cancel all, flatten")

    def on_start(self) -> None:
        if (self.lower is None) != (self.upper is None):
            raise ConfigError(f"strategy {self.id!r}: give both lower and upper, or neither")
        if self.lower is not None and self.upper is not None and not 0.0 < self.lower < self.upper:
            raise ConfigError(f"strategy {self.id!r}: need 0 < lower < upper")
        self.grid: list[float] = []  # the level prices, ascending; empty until the first bar
        self._level_of: dict[str, int] = {}  # client order id -> level index
        self.stopped = False
        self.subscribe_bars(self.bar_type())

    def level_prices(self, start_price: float) -> list[float]:
        """The grid for a start price, rounded to the tick (ascending)."""
        lo, hi = self.lower, self.upper
        if lo is None or hi is None:
            lo = start_price * (1.0 - self.width_pct / 100.0)
            hi = start_price * (1.0 + self.width_pct / 100.0)
        n = self.levels - 1
        inst = self.cache.instrument(self.instrument)
        if self.spacing == "geometric":
            raw = [lo * (hi / lo) ** (k / n) for k in range(n + 1)]
        else:
            raw = [lo + (hi - lo) * k / n for k in range(n + 1)]
        return [inst.round_price(p) for p in raw]

    def _place(self, side: OrderSide, level: int, quantity: float) -> None:
        order = self.order(side, quantity, price=self.grid[level])
        self._level_of[order.client_order_id] = level
        self.submit(order)

    def on_bar(self, bar: Bar) -> None:
        if self.stopped:
            return
        hit_stop = self.stop_loss is not None and bar.close <= self.stop_loss
        hit_target = self.take_profit is not None and bar.close >= self.take_profit
        if hit_stop or hit_target:
            self.stopped = True
            self.cancel_all()
            self.close_position(reason="stop_loss" if hit_stop else "take_profit")
        elif not self.grid:
            self.grid = self.level_prices(bar.close)
            for k, price in enumerate(self.grid):
                if price < bar.close and price > 0.0:
                    self._place(OrderSide.BUY, k, self.order_size)

    def on_fill(self, fill: OrderFilled) -> None:
        level = self._level_of.get(fill.client_order_id)
        if self.stopped or level is None:
            return
        if fill.side is OrderSide.BUY and level + 1 < len(self.grid):
            self._place(OrderSide.SELL, level + 1, fill.last_qty)
        elif fill.side is OrderSide.SELL and level > 0:
            self._place(OrderSide.BUY, level - 1, fill.last_qty)
