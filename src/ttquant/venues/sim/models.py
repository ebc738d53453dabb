"""Pluggable reality models of the simulated venue: fill, fee and slippage.

Each is a small class with one job; subclass and pass an instance to the venue to change how
the simulation treats your orders. The defaults are conservative (see docs/backtesting.md).
"""

from __future__ import annotations

from ttquant.core.errors import ConfigError
from ttquant.model.data import Bar
from ttquant.model.enums import LiquiditySide, OrderSide
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order


class FillModel:
    """Where in a bar orders are matched, and how much of a bar's volume they may take.

    ``market_fill``: ``"next_open"`` (default) fills a market order at the open of the next bar
    after it was placed; ``"close"`` fills it at once at the close of the bar being processed
    (the signal bar), as if the order were sent just before the close.

    ``volume_limit``: when set, the fraction of each bar's volume (or each trade tick's size)
    that our orders may take; the rest of an order carries over to the next bar.
    """

    def __init__(self, market_fill: str = "next_open", volume_limit: float | None = None) -> None:
        if market_fill not in ("next_open", "close"):
            raise ConfigError(f"market_fill must be 'next_open' or 'close', got {market_fill!r}")
        if volume_limit is not None and not 0.0 < volume_limit <= 1.0:
            raise ConfigError(f"volume_limit must be in (0, 1], got {volume_limit}")
        self.market_fill = market_fill
        self.volume_limit = volume_limit

    def bar_path(self, bar: Bar) -> tuple[float, float, float, float]:
        """The price path assumed inside a bar: open, the nearer extreme, the other, close.

        Visiting the extreme nearer the open first is the usual conservative choice; when
        both are equally near, the low comes first (adverse for longs, which most strategies are).
        """
        o, h, lo = bar.open, bar.high, bar.low
        if h - o < o - lo:
            return (o, h, lo, bar.close)
        return (o, lo, h, bar.close)

    def capacity(self, volume: float) -> float:
        """How much our orders may fill against ``volume``; unlimited without a volume limit."""
        if self.volume_limit is None or volume <= 0.0:
            return float("inf") if self.volume_limit is None else 0.0
        return volume * self.volume_limit


class FeeModel:
    """Commission per fill: the instrument's maker/taker rate on notional, unless overridden."""

    def __init__(self, maker: float | None = None, taker: float | None = None) -> None:
        self.maker = maker
        self.taker = taker

    def commission(
        self,
        order: Order,
        instrument: Instrument,
        quantity: float,
        price: float,
        liquidity: LiquiditySide,
    ) -> float:
        if liquidity is LiquiditySide.MAKER:
            rate = instrument.maker_fee if self.maker is None else self.maker
        else:
            rate = instrument.taker_fee if self.taker is None else self.taker
        return instrument.notional(quantity, price) * rate


class SlippageModel:
    """No slippage: taker fills at the price the fill model chose."""

    def adjust(self, price: float, side: OrderSide, instrument: Instrument) -> float:
        return price


class FixedTickSlippage(SlippageModel):
    """Taker fills move ``ticks`` price increments against the order."""

    def __init__(self, ticks: int = 1) -> None:
        if ticks < 0:
            raise ConfigError(f"slippage ticks must be >= 0, got {ticks}")
        self.ticks = ticks

    def adjust(self, price: float, side: OrderSide, instrument: Instrument) -> float:
        return price + side.sign * self.ticks * instrument.price_increment


class BpsSlippage(SlippageModel):
    """Taker fills move ``bps`` basis points against the order (not rounded to the tick)."""

    def __init__(self, bps: float) -> None:
        if bps < 0:
            raise ConfigError(f"slippage bps must be >= 0, got {bps}")
        self.bps = bps

    def adjust(self, price: float, side: OrderSide, instrument: Instrument) -> float:
        return price * (1.0 + side.sign * self.bps * 1e-4)
