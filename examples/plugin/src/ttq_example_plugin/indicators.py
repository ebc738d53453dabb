"""``ribbon_width``: how far apart a ribbon of EMAs is, and which way it is stacked.

An indicator plugin publishes a ``(vectorized function, streaming class)`` pair under the
``ttquant.indicators`` entry-point group (:data:`RIBBON_WIDTH` here). The function takes numpy
arrays and returns a float64 array with NaN during warm-up; the streaming class subclasses
:class:`ttquant.indicators.Indicator` and gives the same numbers one bar at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.indicators import EMA, BarLike, Indicator, ema

DEFAULT_PERIODS = (8, 14, 20, 26)


def _check_periods(periods: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(p) for p in periods)
    if len(out) < 2 or any(p < 2 for p in out) or list(out) != sorted(set(out)):
        raise ConfigError(
            f"ribbon_width: periods must be at least two increasing integers >= 2, got {periods!r}"
        )
    return out


def ribbon_width(close: Any, periods: Sequence[int] = DEFAULT_PERIODS) -> np.ndarray:
    """Spread between the highest and lowest EMA of ``close``, in percent of the close.

    NaN until the slowest EMA is defined (index ``max(periods) - 1``).
    """
    periods = _check_periods(periods)
    prices = np.asarray(close, dtype=np.float64)
    lines = np.vstack([ema(prices, p) for p in periods])
    result: np.ndarray = (lines.max(axis=0) - lines.min(axis=0)) / prices * 100.0
    return result


class RibbonWidth(Indicator):
    """Streaming :func:`ribbon_width`.

    ``value`` is the ribbon's width (percent of the close); ``trend`` is +1.0 when every EMA is
    above the next slower one (an up-trend), -1.0 when every EMA is below it, 0.0 when the
    ribbon is tangled, and NaN during warm-up like ``value``.
    """

    __slots__ = ("_emas", "periods", "trend")

    def __init__(self, periods: Sequence[int] = DEFAULT_PERIODS) -> None:
        self.periods = _check_periods(periods)
        self._emas = [EMA(p) for p in self.periods]
        self.reset()

    def reset(self) -> None:
        for line in self._emas:
            line.reset()
        self.value = math.nan
        self.trend = math.nan
        self.ready = False

    def update(self, close: float) -> float:
        lines = [line.update(close) for line in self._emas]
        if not self._emas[-1].ready:  # the slowest EMA is the last to be defined
            return self.value
        self.value = (max(lines) - min(lines)) / close * 100.0
        self.ready = True
        pairs = list(pairwise(lines))
        if all(fast > slow for fast, slow in pairs):
            self.trend = 1.0
        elif all(fast < slow for fast, slow in pairs):
            self.trend = -1.0
        else:
            self.trend = 0.0
        return self.value

    def handle_bar(self, bar: BarLike) -> float:
        return self.update(bar.close)


# The object the entry point names: (vectorized function, streaming class).
RIBBON_WIDTH = (ribbon_width, RibbonWidth)
