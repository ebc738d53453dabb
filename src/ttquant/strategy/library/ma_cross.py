"""Moving-average crossover, the "hello world" of trading strategies."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.indicators.moving_averages import EMA, SMA, ema, sma
from ttquant.model.data import Bar
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy

if TYPE_CHECKING:
    from ttquant.data.bars import OHLCV

TIE = 1e-12  # relative: averages this close count as equal (see the class docstring)


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

    The strategy also has a vectorized form (:meth:`vectorized_signals`) that the research
    engine runs over whole arrays, with the same trades.
    """

    name = "ma_cross"
    fast: int = Param(10, min=1, max=1000, step=1, doc="fast moving-average window (bars)")
    slow: int = Param(30, min=2, max=5000, step=1, doc="slow moving-average window (bars)")
    ma: str = Param("sma", choices=("sma", "ema"), doc="moving-average kind")
    long_only: bool = Param(True, doc="never hold a short position")
    size: float = Param(1.0, min=0.0, doc="position size in instrument units")

    @classmethod
    def check_params(cls, params: Mapping[str, Any], owner: str = "") -> None:
        """Refuse parameters no run can use (a search skips such combinations)."""
        if params["fast"] >= params["slow"]:
            raise ConfigError(
                f"strategy {owner or cls.name!r}: fast ({params['fast']}) must be shorter than "
                f"slow ({params['slow']})"
            )

    @classmethod
    def moving_average(
        cls, close: np.ndarray, kind: str, window: int, cache: MutableMapping[Any, Any]
    ) -> np.ndarray:
        """The vectorized average, equal bit for bit to the streaming one ``on_bar`` uses;
        ``cache`` keeps each (kind, window) computed once across many parameter sets."""
        key = (kind, window)
        if key not in cache:
            cache[key] = (sma if kind == "sma" else ema)(close, window)
        average: np.ndarray = cache[key]
        return average

    @classmethod
    def vectorized_signals(
        cls, bars: OHLCV, params: Mapping[str, Any], cache: MutableMapping[Any, Any]
    ) -> dict[str, Any]:
        """The rules of :meth:`on_bar` over whole arrays, for the research engine.

        Returns boolean arrays (one element per bar, read at the bar's close)
        ``long_entries``, ``long_exits``, ``short_entries``, ``short_exits`` and the order
        ``size`` in instrument units.
        """
        cls.check_params(params)
        fast = cls.moving_average(bars.close, params["ma"], params["fast"], cache)
        slow = cls.moving_average(bars.close, params["ma"], params["slow"], cache)
        diff = fast - slow
        tie = TIE * np.abs(slow)
        flat = (diff >= -tie) & (diff <= tie)
        prev = np.empty_like(diff)
        prev[0] = math.nan
        prev[1:] = np.where(flat, 0.0, diff)[:-1]
        up = (prev < 0.0) & (diff > tie)
        down = (prev > 0.0) & (diff < -tie)
        shorts = not params["long_only"]
        return {
            "long_entries": up,
            "long_exits": down,
            "short_entries": down if shorts else np.zeros_like(down),
            "short_exits": up if shorts else np.zeros_like(up),
            "size": float(params["size"]),
        }

    def on_start(self) -> None:
        self.check_params(self.params, self.id)
        kind = SMA if self.ma == "sma" else EMA
        self._fast = kind(self.fast)
        self._slow = kind(self.slow)
        self._prev_diff = math.nan
        self.subscribe_bars(self.bar_type())

    def on_bar(self, bar: Bar) -> None:
        slow = self._slow.update(bar.close)
        diff = self._fast.update(bar.close) - slow
        tie = TIE * abs(slow)
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
