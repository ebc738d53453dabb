"""The portfolio kernel of the common case: one asset, no stop orders, many columns at once.

It applies :mod:`.kernel`'s rules through the same helpers (:mod:`.fills`, :mod:`.signals`,
:mod:`.samples`) and gives the same results, but a bar of such a portfolio needs only the fill
of the order decided at the previous close, the equity at the close, the kept samples and
this close's decision, with the position kept in a register rather than re-read from the
book. :func:`ttquant.research.vectorized.portfolio.run_signals` and friends choose it
whenever it applies.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ttquant.research.vectorized.fills import fill_market_order, order_quantity
from ttquant.research.vectorized.layout import (
    A_MULT,
    C_DIRECTION,
    C_SIZE,
    M_FAST,
    M_KIND,
    M_SLOW,
    MODE_MA_CROSS,
    MODE_SIGNALS,
    MODE_TARGETS,
    N_BOOK_FIELDS,
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
)
from ttquant.research.vectorized.samples import keep_sample, quiet_sample
from ttquant.research.vectorized.signals import ma_cross_flags, ma_step, target_position


@njit(cache=True)
def lean_column(
    col: int,
    open_: np.ndarray,
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
    """Column ``col`` of :func:`simulate_lean`."""
    n_bars = close.shape[0]
    mult = spec[0, A_MULT]
    size = columns[col, C_SIZE]
    direction = int(columns[col, C_DIRECTION])
    ma_kind = ma_spec[col, M_KIND]
    fast_n = ma_spec[col, M_FAST]
    slow_n = ma_spec[col, M_SLOW]
    book = np.zeros((1, N_BOOK_FIELDS))
    no_orders = np.zeros(1)  # nothing else pending when an order fills
    last = np.zeros(1)
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
    q = 0.0  # the position, as book[0, P_QTY]
    order = 0.0  # decided at the previous close
    fast_acc, fast_left, slow_acc, slow_left = 0.0, fast_n, 0.0, slow_n
    prev_diff = math.nan
    for i in range(n_bars):
        c = close[i, 0]
        if order != 0.0:
            last[0] = close[i - 1, 0]
            filled, acct, closed = fill_market_order(
                0, i, order, open_[i, 0], acct, book, no_orders, last, spec, leverage,
                cash_account, slip_ticks, slip_bps, trades, row + n_trades, end,
            )  # fmt: skip
            order = 0.0
            if filled:
                fills += 1
                n_trades += closed
                q = book[0, P_QTY]
            else:
                rejected += 1
        equity = acct
        if q != 0.0:
            equity += q * mult * c
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
        flags = 0
        wanted = math.nan
        if mode == MODE_SIGNALS:
            flags = int(signals[col, i, 0])
        elif mode == MODE_TARGETS:
            wanted = targets[col, i, 0]
        elif mode == MODE_MA_CROSS:
            fast, fast_acc, fast_left = ma_step(close, i, 0, ma_kind, fast_n, fast_acc, fast_left)
            slow, slow_acc, slow_left = ma_step(close, i, 0, ma_kind, slow_n, slow_acc, slow_left)
            flags, prev_diff = ma_cross_flags(prev_diff, fast, slow)
        target = target_position(
            mode, size_kind, flags, wanted, direction, size, q, equity, c, spec, 0
        )
        if math.isnan(target):
            continue
        order = order_quantity(target, q, c, spec, 0)
        if math.isnan(order):
            order = 0.0
            rejected += 1
    summary[col, S_TRADES] = n_trades
    summary[col, S_FILLS] = fills
    summary[col, S_REJECTED] = rejected
    summary[col, S_IN_MARKET] = in_market
    summary[col, S_SAMPLES] = kept
    summary[col, S_FINAL_EQUITY] = equity
    open_positions[col, 0, O_QTY] = book[0, P_QTY]
    open_positions[col, 0, O_AVG_PX] = book[0, P_AVG]
    open_positions[col, 0, O_ENTRY_BAR] = book[0, P_ENTRY_BAR]


@njit(cache=True, parallel=True)
def simulate_lean(
    open_: np.ndarray,
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
    """:func:`.kernel.simulate` for one asset (prices ``(bars, 1)``) and columns without stops;
    the same arguments and outputs, less the highs, lows and stop settings it does not use."""
    for col in prange(columns.shape[0]):
        lean_column(
            col, open_, close, day_end, spec, cash, leverage, cash_account, slip_ticks,
            slip_bps, mode, size_kind, signals, targets, ma_spec, columns, trade_offsets,
            trades, sample_offsets, curve_idx, curve_eq, full_curve, summary, open_positions,
        )  # fmt: skip
