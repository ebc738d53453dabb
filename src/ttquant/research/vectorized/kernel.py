"""The general portfolio kernel: several assets sharing cash, stops, many portfolios at once.

Each column is one portfolio (one parameter combination) over the same bars of one or more
assets sharing its cash. Columns run in parallel (``numba.prange``); nothing in a column's
loop creates a Python object. The kernel reproduces what the event-driven engine does with a
strategy that trades market orders on bar closes:

* orders decided at bar ``i``'s close fill at bar ``i + 1``'s open (plus slippage) as taker;
  assets are matched in order, each checked for funds at its fill price as the simulated venue
  checks a market order (:func:`.fills.fill_market_order`);
* a fill that opens or flips a position attaches its stop-loss / take-profit (levels fixed
  from the signal bar's close, on the tick) and, from that bar's close on, its trailing stop;
  they are matched along each bar's path by :func:`intrabar.bar_exit`; any signal that
  reduces, closes or flips the position cancels them when it is decided;
* round trips are booked as :class:`ttquant.model.position.Position` books them (average
  entry, pro-rata fee of a flipping fill), so trades equal the event engine's;
* the equity is sampled at each bar's close; what is kept of it is enough for every statistic
  (:mod:`.samples`).

Orders come from one of three sources (``mode``): entry/exit signal flags, target positions
(quantity, value or fraction of equity), or a moving-average cross computed in the loop itself
(the fused form of :class:`ttquant.strategy.library.ma_cross.MACross`, :mod:`.signals`).
A single asset without stops runs the same rules through :mod:`.lean`, which skips what such
a portfolio never needs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ttquant.research.vectorized.fills import (
    book_fill,
    fill_market_order,
    order_quantity,
    slipped,
)
from ttquant.research.vectorized.intrabar import NO_EXIT, TAKE_PROFIT, bar_exit, trailing_level
from ttquant.research.vectorized.layout import (
    A_MAKER,
    A_MULT,
    A_PRICE_INC,
    A_PRICE_SCALE,
    A_PRICE_UNITS,
    A_TAKER,
    C_DIRECTION,
    C_SIZE,
    C_STOP_LOSS,
    C_TAKE_PROFIT,
    C_TRAIL_PCT,
    M_FAST,
    M_KIND,
    M_SLOW,
    MODE_MA_CROSS,
    MODE_SIGNALS,
    MODE_TARGETS,
    N_BOOK_FIELDS,
    N_EXIT_FIELDS,
    O_AVG_PX,
    O_ENTRY_BAR,
    O_QTY,
    P_AVG,
    P_ENTRY_BAR,
    P_QTY,
    S_FILLS,
    S_FINAL_EQUITY,
    S_IN_MARKET,
    S_REJECTED,
    S_SAMPLES,
    S_TRADES,
    X_ARM_TRAILING,
    X_EXTREME,
    X_NEXT_SL,
    X_NEXT_TP,
    X_SL,
    X_TP,
    X_TRAILING,
    X_TRIGGER,
)
from ttquant.research.vectorized.rounding import round_price
from ttquant.research.vectorized.samples import keep_sample, quiet_sample
from ttquant.research.vectorized.signals import ma_cross_flags, ma_step, target_position


@njit(cache=True, inline="always")
def _clear_exits(exits: np.ndarray, a: int) -> None:
    exits[a, X_SL] = math.nan
    exits[a, X_TP] = math.nan
    exits[a, X_TRAILING] = 0.0
    exits[a, X_ARM_TRAILING] = 0.0


@njit(cache=True)
def simulate_column(
    col: int,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    day_end: np.ndarray,
    spec: np.ndarray,
    cash: float,
    leverage: float,
    cash_account: bool,
    slip_ticks: float,
    slip_bps: float,
    mode: int,
    size_kind: int,
    signals: np.ndarray,
    targets: np.ndarray,
    ma_spec: np.ndarray,
    columns: np.ndarray,
    trade_offsets: np.ndarray,
    trades: np.ndarray,
    sample_offsets: np.ndarray,
    curve_idx: np.ndarray,
    curve_eq: np.ndarray,
    full_curve: bool,
    summary: np.ndarray,
    open_positions: np.ndarray,
) -> None:
    """Column ``col`` of :func:`simulate`."""
    n_bars, n_assets = close.shape
    size = columns[col, C_SIZE]
    direction = int(columns[col, C_DIRECTION])
    sl_frac = columns[col, C_STOP_LOSS]
    tp_frac = columns[col, C_TAKE_PROFIT]
    trail_pct = columns[col, C_TRAIL_PCT]
    ma_kind = ma_spec[col, M_KIND]
    fast_n = ma_spec[col, M_FAST]
    slow_n = ma_spec[col, M_SLOW]
    book = np.zeros((n_assets, N_BOOK_FIELDS))
    exits = np.zeros((n_assets, N_EXIT_FIELDS))
    for a in range(n_assets):
        _clear_exits(exits, a)
        exits[a, X_NEXT_SL] = math.nan
        exits[a, X_NEXT_TP] = math.nan
    pending = np.zeros(n_assets)
    last = np.full(n_assets, math.nan)
    kept_idx = curve_idx[sample_offsets[col] : sample_offsets[col + 1]]
    kept_eq = curve_eq[sample_offsets[col] : sample_offsets[col + 1]]
    kept, peak, underwater, low_i, low_eq = 0, 0.0, False, -1, 0.0
    prev_equity = cash
    row = trade_offsets[col]
    end = trade_offsets[col + 1]
    n_trades = 0
    fills = 0
    rejected = 0
    in_market = 0
    acct = cash
    equity = cash
    fast_acc, fast_left, slow_acc, slow_left = 0.0, fast_n, 0.0, slow_n
    prev_diff = math.nan
    for i in range(n_bars):
        for a in range(n_assets):
            c = close[i, a]
            if book[a, P_QTY] == 0.0 and pending[a] == 0.0:
                last[a] = c
                continue
            o = open_[i, a]
            h = high[i, a]
            lo = low[i, a]
            mult = spec[a, A_MULT]
            inc = spec[a, A_PRICE_INC]
            units = spec[a, A_PRICE_UNITS]
            scale = spec[a, A_PRICE_SCALE]
            for stage in range(3):
                # 0: resting exits at the open; 1: the market order; 2: exits on the path
                if stage == 1:
                    dq = pending[a]
                    if dq == 0.0:
                        continue
                    pending[a] = 0.0
                    was = book[a, P_QTY]
                    filled, acct, closed = fill_market_order(
                        a, i, dq, o, acct, book, pending, last, spec, leverage,
                        cash_account, slip_ticks, slip_bps, trades, row + n_trades, end,
                    )  # fmt: skip
                    if not filled:
                        rejected += 1
                        continue
                    fills += 1
                    n_trades += closed
                    now = book[a, P_QTY]
                    if now == 0.0:
                        _clear_exits(exits, a)
                    elif was == 0.0 or (was > 0) != (now > 0):
                        exits[a, X_SL] = exits[a, X_NEXT_SL]
                        exits[a, X_TP] = exits[a, X_NEXT_TP]
                        exits[a, X_TRAILING] = 0.0
                        exits[a, X_ARM_TRAILING] = 1.0 if trail_pct > 0 else 0.0
                    continue
                q = book[a, P_QTY]
                if q == 0.0 or (
                    math.isnan(exits[a, X_SL])
                    and math.isnan(exits[a, X_TP])
                    and exits[a, X_TRAILING] == 0.0
                ):
                    continue
                long = q > 0
                kind, fill_px, trigger, extreme = bar_exit(
                    o,
                    h,
                    lo,
                    c,
                    0 if stage == 0 else 3,
                    long,
                    exits[a, X_SL],
                    exits[a, X_TP],
                    exits[a, X_TRAILING] != 0.0,
                    exits[a, X_TRIGGER],
                    exits[a, X_EXTREME],
                    trail_pct,
                    inc,
                    units,
                    scale,
                )
                exits[a, X_TRIGGER] = trigger
                exits[a, X_EXTREME] = extreme
                if kind == NO_EXIT:
                    continue
                dq = -q
                if kind == TAKE_PROFIT:  # a resting limit: maker, no slippage
                    px = fill_px
                    fee = abs(dq) * mult * px * spec[a, A_MAKER]
                else:
                    px = slipped(fill_px, 1.0 if dq > 0 else -1.0, slip_ticks, slip_bps, inc)
                    fee = abs(dq) * mult * px * spec[a, A_TAKER]
                acct, closed = book_fill(
                    book, a, dq, px, fee, i, kind, mult, acct, trades, row + n_trades, end
                )
                fills += 1
                n_trades += closed
                _clear_exits(exits, a)
            last[a] = c
        equity = acct
        holding = False
        for a in range(n_assets):
            q = book[a, P_QTY]
            if q != 0.0:
                holding = True
                equity += q * spec[a, A_MULT] * close[i, a]
                if exits[a, X_ARM_TRAILING] != 0.0:  # placed once the entry has filled
                    exits[a, X_ARM_TRAILING] = 0.0
                    exits[a, X_TRAILING] = 1.0
                    exits[a, X_EXTREME] = close[i, a]
                    exits[a, X_TRIGGER] = trailing_level(
                        close[i, a],
                        q > 0,
                        trail_pct,
                        spec[a, A_PRICE_INC],
                        spec[a, A_PRICE_UNITS],
                        spec[a, A_PRICE_SCALE],
                    )
        if holding:
            in_market += 1
        last_bar = i == n_bars - 1
        closes_day = day_end[i] or last_bar
        quiet, peak, low_i, low_eq = quiet_sample(
            full_curve, i, equity, closes_day, peak, underwater, low_i, low_eq
        )
        if not quiet:
            kept, peak, underwater, low_i, low_eq = keep_sample(
                kept_idx, kept_eq, full_curve, i, equity, prev_equity, closes_day, kept,
                peak, underwater, low_i, low_eq,
            )  # fmt: skip
        prev_equity = equity
        if last_bar:
            break
        for a in range(n_assets):
            c = close[i, a]
            q = book[a, P_QTY]
            flags = 0
            wanted = math.nan
            if mode == MODE_SIGNALS:
                flags = int(signals[col, i, a])
            elif mode == MODE_TARGETS:
                wanted = targets[col, i, a]
            elif mode == MODE_MA_CROSS:
                fast, fast_acc, fast_left = ma_step(
                    close, i, a, ma_kind, fast_n, fast_acc, fast_left
                )
                slow, slow_acc, slow_left = ma_step(
                    close, i, a, ma_kind, slow_n, slow_acc, slow_left
                )
                flags, prev_diff = ma_cross_flags(prev_diff, fast, slow)
            target = target_position(
                mode, size_kind, flags, wanted, direction, size, q, equity, c, spec, a
            )
            if math.isnan(target):
                continue
            dq = order_quantity(target, q, c, spec, a)
            if dq == 0.0:
                continue
            if math.isnan(dq):
                rejected += 1
                continue
            pending[a] = dq
            if q != 0.0 and ((target > 0) != (q > 0) or abs(target) < abs(q)):
                _clear_exits(exits, a)
            long = target > 0
            inc = spec[a, A_PRICE_INC]
            units = spec[a, A_PRICE_UNITS]
            scale = spec[a, A_PRICE_SCALE]
            exits[a, X_NEXT_SL] = (
                round_price(c * (1.0 - sl_frac if long else 1.0 + sl_frac), inc, units, scale)
                if sl_frac > 0
                else math.nan
            )
            exits[a, X_NEXT_TP] = (
                round_price(c * (1.0 + tp_frac if long else 1.0 - tp_frac), inc, units, scale)
                if tp_frac > 0
                else math.nan
            )
    summary[col, S_TRADES] = n_trades
    summary[col, S_FILLS] = fills
    summary[col, S_REJECTED] = rejected
    summary[col, S_IN_MARKET] = in_market
    summary[col, S_SAMPLES] = kept
    summary[col, S_FINAL_EQUITY] = equity
    for a in range(n_assets):
        open_positions[col, a, O_QTY] = book[a, P_QTY]
        open_positions[col, a, O_AVG_PX] = book[a, P_AVG]
        open_positions[col, a, O_ENTRY_BAR] = book[a, P_ENTRY_BAR]


@njit(cache=True, parallel=True)
def simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    day_end: np.ndarray,
    spec: np.ndarray,
    cash: float,
    leverage: float,
    cash_account: bool,
    slip_ticks: float,
    slip_bps: float,
    mode: int,
    size_kind: int,
    signals: np.ndarray,
    targets: np.ndarray,
    ma_spec: np.ndarray,
    columns: np.ndarray,
    trade_offsets: np.ndarray,
    trades: np.ndarray,
    sample_offsets: np.ndarray,
    curve_idx: np.ndarray,
    curve_eq: np.ndarray,
    full_curve: bool,
    summary: np.ndarray,
    open_positions: np.ndarray,
) -> None:
    """Simulate every column; results go into the output arrays (see the module docstring).

    Prices are ``(bars, assets)``; ``signals`` (uint8 flags) and ``targets`` (NaN = no order)
    are ``(columns, bars, assets)`` when used; ``ma_spec`` holds each column's moving-average
    kind and (fast, slow) windows. A column's trades go to rows ``trade_offsets[c]`` to
    ``trade_offsets[c + 1]`` of ``trades``, its kept equity samples (bar index, equity) to
    ``sample_offsets[c]`` to ``sample_offsets[c + 1]`` of ``curve_idx`` / ``curve_eq``. When
    either is too short, ``summary[c, S_TRADES]`` says exactly how many trades there are and
    ``summary[c, S_SAMPLES]`` exceeds the room, and the caller reruns with more.
    """
    for col in prange(columns.shape[0]):
        simulate_column(
            col, open_, high, low, close, day_end, spec, cash, leverage, cash_account,
            slip_ticks, slip_bps, mode, size_kind, signals, targets, ma_spec, columns,
            trade_offsets, trades, sample_offsets, curve_idx, curve_eq, full_curve, summary,
            open_positions,
        )  # fmt: skip
