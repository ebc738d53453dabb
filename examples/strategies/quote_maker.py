"""A small market maker for paper runs and tests: quotes both sides of the touch on live quotes.

Every ``every`` quotes it places a buy at the bid and a sell at the ask, while it has fewer
than ``max_open`` orders working, and cancels orders that rested for more than ``refresh``
quotes. The replayed trades of the local test venue fill such orders within seconds, so it
exercises resting orders, fills, cancels and (after a restart) recovery. ``quotes_seen`` and
``orders_sent`` are declared state: a restarted node resumes them.
"""

from __future__ import annotations

from typing import ClassVar

from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderSide
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class QuoteMaker(Strategy):
    size: float = Param(0.001, min=0.0, doc="quantity of each order")
    every: int = Param(20, min=1, doc="quotes between two placements")
    max_open: int = Param(4, min=1, doc="orders working at most")
    refresh: int = Param(200, min=1, doc="quotes an order may rest before it is canceled")

    state_vars: ClassVar[tuple[str, ...]] = ("quotes_seen", "orders_sent")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.quotes_seen = 0
        self.orders_sent = 0
        self._placed_at: dict[str, int] = {}

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        self.quotes_seen += 1
        for order in self.open_orders():
            placed = self._placed_at.setdefault(order.client_order_id, self.quotes_seen)
            if self.quotes_seen - placed > self.refresh and not order.is_inflight:
                self.cancel(order)
        if self.quotes_seen % self.every or len(self.open_orders()) >= self.max_open:
            return
        inst = self.cache.instrument(self.instrument)
        for side, price in ((OrderSide.BUY, quote.bid_price), (OrderSide.SELL, quote.ask_price)):
            order = self.order(side, self.size, price=inst.round_price(price))
            self._placed_at[order.client_order_id] = self.quotes_seen
            self.submit(order)
            self.orders_sent += 1
