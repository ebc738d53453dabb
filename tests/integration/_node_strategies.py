"""Strategies the node tests load by path (``_node_strategies.py:Name``)."""

from __future__ import annotations

from typing import Any, ClassVar

from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderSide
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Raiser(Strategy):
    """Rests one buy far below the market, then raises on the ``fail_after``-th quote."""

    fail_after: int = Param(30, min=1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = 0

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        self.seen += 1
        if self.seen == 1:
            inst = self.cache.instrument(self.instrument)
            self.buy(0.001, price=inst.round_price(quote.bid_price * 0.9))
        if self.seen >= self.fail_after:
            raise ZeroDivisionError("a bug in the strategy")


class Counter(Strategy):
    """Counts quotes; ``step`` is reloadable, ``label`` is not."""

    step: int = Param(1, min=1)
    label: str = Param("a", reloadable=False)
    state_vars: ClassVar[tuple[str, ...]] = ("count",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0
        self.changes: list[dict[str, Any]] = []

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        self.count += self.step

    def on_params_changed(self, changed: dict[str, Any]) -> None:
        self.changes.append(changed)


class Buyer(Strategy):
    """Buys ``size`` at market once, on its first quote."""

    size: float = Param(0.01, min=0.0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.done = False

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        if not self.done:
            self.done = True
            self.submit(self.order(OrderSide.BUY, self.size))
