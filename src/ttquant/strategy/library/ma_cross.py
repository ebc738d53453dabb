"""Moving-average crossover, the "hello world" of trading strategies."""

from __future__ import annotations

import math

from ttquant.core.errors import ConfigError
from ttquant.indicators.moving_averages import EMA, SMA
from ttquant.model.data import Bar
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy

_TIE = 1e-12


class MACross(Strategy):
    """Go long when the fast moving average crosses above the slow one.

    Rules, evaluated when each bar closes, with ``fast``/``slow``-bar moving averages (simple or
    exponential, per ``ma``) of the close:

    - *cross up*: fast was strictly below slow on the previous bar and is strictly above it now;
      *cross down* is the mirror image. A touch without crossing is no signal (backtesting.py's
      ``crossover`` definition). Averages within 1e-12 of each other (relative) count as equal:
      two means of the same prices computed over different windows differ in their last bits,
      and that rounding noise must not decide a trade.
    - cross up: target a position of ``+size`` (closing a short first).
    - cross down: target ``0`` when ``long_only``, else ``-size``.

    Orders are market orders, filled by the venue's fill model (by default at the next bar's
    open). Trades on the first instrument given to the strategy.
    """

    name = "ma_cross"
    fast: int = Param(10, min=1, max=1000, step=1, doc="fast moving-average window (bars)")
    slow: int = Param(30, min=2, max=5000, step=1, doc="slow moving-average window (bars)")
    ma: str = Param("sma", choices=("sma", "ema"), doc="moving-average kind")
    long_only: bool = Param(True, doc="never hold a short position")
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    def on_start(self) -> None:
        if self.fast >= self.slow:
            raise ConfigError(
                f"strategy {self.id!r}: fast ({self.fast}) must be shorter than slow ({self.slow})"
            )
        kind = SMA if self.ma == "sma" else EMA
        self._fast = kind(self.fast)
        self._slow = kind(self.slow)
        self._prev_diff = math.nan
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        slow = self._slow.update(bar.close)
        diff = self._fast.update(bar.close) - slow
        tie = _TIE * abs(slow)
        prev = self._prev_diff  # fast - slow on the previous bar; NaN in warm-up compares false
        self._prev_diff = 0.0 if -tie <= diff <= tie else diff
        if prev < 0.0 and diff > tie:
            self.order_target_quantity(self.size)
        elif prev > 0.0 and diff < -tie:
            self.order_target_quantity(0.0 if self.long_only else -self.size)


class SMACross(MACross):
    """MA cross with simple moving averages (see :class:`MACross`)."""

    name = "sma_cross"
    ma: str = Param("sma", choices=("sma", "ema"), doc="moving-average kind")


class EMACross(MACross):
    """MA cross with exponential moving averages (see :class:`MACross`)."""

    name = "ema_cross"
    ma: str = Param("ema", choices=("sma", "ema"), doc="moving-average kind")
