"""Stop-loss, take-profit and trailing-stop exits inside one bar, as the simulated venue fills them.

The rules are those of :mod:`ttquant.venues.sim.matching` (and ``docs/backtesting.md``), for a
position protected by a bracket (stop-loss = a stop-market order, take-profit = a limit order,
one cancels the other) and a trailing stop placed after the entry filled:

* the price travels open → nearer extreme → other extreme → close; the open is a jump, so an
  exit already through its level at the open fills at the open (a take-profit there as a maker,
  at the open; a stop as a taker, at the open plus slippage);
* between points the price moves continuously: a stop fills at its trigger, a take-profit at
  its limit; when several exits are reached on one move, the level met first on the way fills
  (at the open: stops before limits, then the order they were placed in: stop-loss,
  take-profit, trailing stop);
* a trailing stop follows the path point by point, never backwards (its level is rounded to the
  tick), and fills when a point reaches it;
* a take-profit reached inside a bar in which the stop-loss was also reached fills the
  stop-loss instead (the conservative assumption), at its trigger.

Only the first exit matters: it closes the whole position.
"""

from __future__ import annotations

import math

from numba import njit

from ttquant.research.vectorized.rounding import round_price

NO_EXIT = 0
STOP_LOSS = 1
TAKE_PROFIT = 2
TRAILING_STOP = 3


@njit(cache=True)
def trailing_level(
    px: float, long: bool, percent: float, increment: float, units: float, scale: float
) -> float:
    """The trailing stop ``percent`` % behind ``px`` (``percent`` 1.0 == 1 %), on the tick."""
    offset = px * percent / 100.0
    return round_price(px - offset if long else px + offset, increment, units, scale)


@njit(cache=True)
def bar_exit(
    o: float,
    h: float,
    lo: float,
    c: float,
    last_point: int,
    long: bool,
    stop_loss: float,
    take_profit: float,
    trailing: bool,
    trigger: float,
    extreme: float,
    percent: float,
    increment: float,
    units: float,
    scale: float,
) -> tuple[int, float, float, float]:
    """The first exit of a position along the bar's path, from the open to ``last_point``.

    Points are numbered 0 (the open) to 3 (the close).
    ``stop_loss``/``take_profit`` are price levels (NaN: none); the trailing stop (when
    ``trailing``) has level ``trigger`` and best price seen ``extreme``. Returns ``(exit kind,
    fill price before slippage, trailing trigger, trailing extreme)``.
    """
    if h - o < o - lo:
        p1, p2 = h, lo
    else:
        p1, p2 = lo, h
    has_sl = not math.isnan(stop_loss)
    has_tp = not math.isnan(take_profit)
    prev = o
    for k in range(last_point + 1):
        px = o if k == 0 else (p1 if k == 1 else (p2 if k == 2 else c))
        jump = k == 0
        up = px >= prev
        best_kind = NO_EXIT
        best_key = math.inf
        best_rank = 2
        best_px = math.nan
        if has_sl and (px <= stop_loss if long else px >= stop_loss):
            fill = px if jump else stop_loss
            best_kind, best_px, best_rank = STOP_LOSS, fill, 0
            best_key = 0.0 if jump else (fill if up else -fill)
        if has_tp and (px >= take_profit if long else px <= take_profit):
            fill = (max(px, take_profit) if long else min(px, take_profit)) if jump else take_profit
            key = 0.0 if jump else (fill if up else -fill)
            if key < best_key or (key == best_key and best_rank > 1):
                best_kind, best_px, best_key, best_rank = TAKE_PROFIT, fill, key, 1
        if trailing:
            if px <= trigger if long else px >= trigger:
                fill = px if jump else trigger
                key = 0.0 if jump else (fill if up else -fill)
                if key < best_key or (key == best_key and best_rank > 0):
                    best_kind, best_px, best_key, best_rank = TRAILING_STOP, fill, key, 0
            elif px > extreme if long else px < extreme:
                extreme = px
                level = trailing_level(px, long, percent, increment, units, scale)
                trigger = max(trigger, level) if long else min(trigger, level)
        if (
            best_kind == TAKE_PROFIT
            and not jump
            and has_sl
            and (lo <= stop_loss if long else h >= stop_loss)
        ):
            gapped = o <= stop_loss if long else o >= stop_loss
            return STOP_LOSS, o if gapped else stop_loss, trigger, extreme
        if best_kind != NO_EXIT:
            return best_kind, best_px, trigger, extreme
        prev = px
    return NO_EXIT, math.nan, trigger, extreme
