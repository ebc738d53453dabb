"""MACD: trade the signal-line cross, or divergences between price swings and the MACD line."""

from __future__ import annotations

import math
from collections import deque

from ttquant.core.errors import ConfigError
from ttquant.indicators.oscillators import MACD
from ttquant.model.data import Bar
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class MACDCross(Strategy):
    """Go long on a bullish MACD signal, flat (or short) on a bearish one.

    The MACD (TA-Lib's: ``fast``/``slow`` EMAs of the close, ``signal`` EMA of their difference)
    is updated when each bar closes. ``mode`` picks the signal:

    - ``"cross"``: bullish when the MACD line crosses above its signal line (histogram strictly
      negative on the previous bar, strictly positive now), bearish on the mirror cross. A
      histogram of exactly 0 is a touch, not a cross.
    - ``"divergence"``: swings are pivots of ``swing`` bars on each side: bar ``i`` is a swing
      low when its low is strictly below the lows of the ``swing`` bars before and after it
      (mirror: swing high on the highs), so a swing is known ``swing`` bars after it, at the
      close of bar ``i + swing`` (no look-ahead). Each newly confirmed swing low is compared
      with the previous swing low: a lower low in price with a higher MACD line value (the
      line at the two pivot bars, both defined) is bullish. Mirror: a higher swing high with a
      lower MACD value is bearish. Both on the same bar (an outside bar): no signal.

    Bullish: target ``+size``. Bearish: target ``0`` when ``long_only``, else ``-size``. Orders
    are market orders filled by the venue's fill model (by default at the next bar's open); no
    order rests. Trades the first instrument given to the strategy.
    """

    name = "macd_cross"
    fast: int = Param(12, min=2, max=500, step=1, doc="fast EMA window (bars)")
    slow: int = Param(26, min=3, max=1000, step=1, doc="slow EMA window (bars)")
    signal: int = Param(9, min=1, max=500, step=1, doc="signal-line EMA window (bars)")
    mode: str = Param("cross", choices=("cross", "divergence"), doc="signal cross or divergence")
    swing: int = Param(5, min=1, max=100, step=1, doc="divergence: bars each side of a pivot")
    long_only: bool = Param(True, doc="never hold a short position")
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    def on_start(self) -> None:
        if self.fast >= self.slow:
            raise ConfigError(
                f"strategy {self.id!r}: fast ({self.fast}) must be shorter than slow ({self.slow})"
            )
        self._macd = MACD(self.fast, self.slow, self.signal)
        self._prev_hist = math.nan
        window = 2 * self.swing + 1  # (low, high, macd line) of the bars around a pivot
        self._window: deque[tuple[float, float, float]] = deque(maxlen=window)
        self._last_low: tuple[float, float] | None = None  # (price, macd) of the last swing low
        self._last_high: tuple[float, float] | None = None
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        macd = self._macd
        macd.update(bar.close)
        signal = self._cross(macd.hist) if self.mode == "cross" else self._divergence(bar)
        if signal > 0:
            self.order_target_quantity(self.size)
        elif signal < 0:
            self.order_target_quantity(0.0 if self.long_only else -self.size)

    def _cross(self, hist: float) -> int:
        prev, self._prev_hist = self._prev_hist, hist  # NaN in warm-up compares false
        return 1 if prev < 0.0 < hist else -1 if prev > 0.0 > hist else 0

    def _divergence(self, bar: Bar) -> int:
        window = self._window
        window.append((bar.low, bar.high, self._macd.macd))
        if len(window) < 2 * self.swing + 1:
            return 0
        low, high, line = window[self.swing]
        others = [w for i, w in enumerate(window) if i != self.swing]
        signal = 0
        if low < min(w[0] for w in others):
            prev, self._last_low = self._last_low, (low, line)
            if prev is not None and low < prev[0] and line > prev[1]:  # NaN compares false
                signal = 1
        if high > max(w[1] for w in others):
            prev, self._last_high = self._last_high, (high, line)
            if prev is not None and high > prev[0] and line < prev[1]:
                signal = -1 if signal == 0 else 0  # both at once: no signal
        return signal
