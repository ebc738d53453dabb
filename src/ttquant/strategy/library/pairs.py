"""Pairs trading: trade the z-score of the spread between two co-moving instruments."""

from __future__ import annotations

from collections import deque

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.model.data import Bar
from ttquant.model.events import OrderDenied, OrderEvent, OrderRejected
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Pairs(Strategy):
    """Mean reversion of the spread ``A - beta * B`` (A, B: the first two instruments).

    Signal, computed when both instruments have closed a bar with the same open time (a bar
    that has no partner is ignored), over the last ``lookback`` such pairs of closes, the
    current one included:

    - ``beta``, ``alpha``: ordinary least squares of A's closes on B's closes (with intercept);
    - residuals ``e = A - alpha - beta * B``; ``z = e_now / std(e)`` (population std; 0 when the
      residuals are all zero). Since OLS residuals average zero, this is the z-score of the
      spread ``A - beta * B`` within the window.

    Rules, with the spread position ``s`` (+1 long A / short B, -1 short A / long B, 0 flat):

    - ``abs(z) < exit_z``: go flat (``s = 0``), both legs closed.
    - else ``z > entry_z`` and ``s != -1``: A is rich: short ``size`` of A and buy
      ``beta * size`` of B (``s = -1``); ``z < -entry_z`` and ``s != +1``: the mirror image.
      A position on the other side is reversed in the same orders.
    - otherwise nothing changes. Leg sizes are fixed at entry (``beta`` of the entry bar, the B
      quantity rounded down to its size increment), not rebalanced while the trade is open.

    Orders are market orders (filled by default at the next bar's open). Needs an account
    that can short (margin). If the venue rejects a leg, both legs are closed and the spread
    position is flat again (a single leg is a naked bet, not a spread).
    """

    name = "pairs"
    lookback: int = Param(100, min=3, max=10_000, step=10, doc="bars in the rolling OLS and z")
    entry_z: float = Param(2.0, min=0.0, max=10.0, step=0.25, doc="enter when abs(z) exceeds")
    exit_z: float = Param(0.5, min=0.0, max=10.0, step=0.25, doc="exit when abs(z) falls below")
    size: float = Param(1.0, min=0.0, doc="quantity of the first instrument (A) per trade")

    def on_start(self) -> None:
        if len(self.instruments) < 2:
            raise ConfigError(f"strategy {self.id!r} needs two instruments, got {self.instruments}")
        if self.exit_z > self.entry_z:
            raise ConfigError(f"strategy {self.id!r}: exit_z must not exceed entry_z")
        self.a, self.b = self.instruments[0], self.instruments[1]
        self._last: dict[str, Bar] = {}
        self._xa: deque[float] = deque(maxlen=self.lookback)
        self._xb: deque[float] = deque(maxlen=self.lookback)
        self.z = float("nan")
        self.beta = float("nan")
        self.side = 0
        self.subscribe_bars(self.bar_type(self.a))
        self.subscribe_bars(self.bar_type(self.b))

    def on_bar(self, bar: Bar) -> None:
        self._last[bar.bar_type.instrument_id] = bar
        bar_a, bar_b = self._last.get(self.a), self._last.get(self.b)
        if bar_a is None or bar_b is None or bar_a.ts_event != bar_b.ts_event:
            return  # wait for the partner bar
        del self._last[bar.bar_type.instrument_id]  # each pair is used once
        self._xa.append(bar_a.close)
        self._xb.append(bar_b.close)
        if len(self._xa) < self.lookback:
            return
        self.beta, self.z = spread_zscore(np.array(self._xa), np.array(self._xb))
        if abs(self.z) < self.exit_z:
            self._target(0)
        elif self.z > self.entry_z and self.side != -1:
            self._target(-1)
        elif self.z < -self.entry_z and self.side != 1:
            self._target(1)

    def on_order(self, event: OrderEvent) -> None:
        if isinstance(event, OrderRejected | OrderDenied) and self.side != 0:
            # a leg the venue refused leaves the other one naked: flatten both, start again
            self.side = 0
            self.close_position(self.a)
            self.close_position(self.b)

    def _target(self, side: int) -> None:
        if side == self.side:
            return
        self.side = side
        if side == 0:
            self.close_position(self.a)
            self.close_position(self.b)
            return
        qty_b = self.cache.instrument(self.b).round_quantity(abs(self.beta) * self.size)
        self.order_target_quantity(side * self.size, self.a)
        self.order_target_quantity(-side * qty_b if self.beta > 0 else side * qty_b, self.b)


def spread_zscore(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """OLS slope of ``a`` on ``b`` and the z-score of the last residual (population std)."""
    db = b - b.mean()
    beta = float(np.dot(db, a - a.mean()) / np.dot(db, db)) if db.any() else 0.0
    resid = a - a.mean() - beta * db
    std = float(resid.std())
    return beta, float(resid[-1] / std) if std > 0.0 else 0.0
