"""Orders to fills to round trips, per asset, as the simulated venue and ``Position`` do them.

Both portfolio kernels (:mod:`.kernel`, :mod:`.lean`) call these per order or per fill; they
hold the arithmetic whose every operation and order must match the event-driven engine's for
trades to be equal bit for bit, so each rule is written once, here. They are inlined into the
kernels: as calls, numba would reference-count their array arguments on every fill, which
costs more than the fill's arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ttquant.research.vectorized.layout import (
    A_CHECK_FEE,
    A_MIN_NOTIONAL,
    A_MIN_QTY,
    A_MULT,
    A_PRICE_INC,
    A_SIZE_INC,
    A_SIZE_SCALE,
    A_SIZE_UNITS,
    A_TAKER,
    P_AVG,
    P_CLOSE_NOTIONAL,
    P_CLOSED,
    P_ENTRY_BAR,
    P_LONG,
    P_OPEN_NOTIONAL,
    P_OPENED,
    P_QTY,
    P_TRIP_FEES,
    P_TRIP_PNL,
    REASON_SIGNAL,
    T_ASSET,
    T_ENTRY_BAR,
    T_ENTRY_PX,
    T_EXIT_BAR,
    T_EXIT_PX,
    T_FEES,
    T_LONG,
    T_PNL,
    T_QTY,
    T_REASON,
)
from ttquant.research.vectorized.rounding import round_quantity

_EPS = 1e-12  # Position's flat tolerance
_FUNDS_TOLERANCE = 1e-12
_MIN_TOLERANCE = 1e-9  # minimum quantity / notional checks


@njit(cache=True, inline="always")
def _open(book: np.ndarray, a: int, signed: float, px: float, fee: float, bar: int) -> None:
    if abs(book[a, P_QTY]) <= _EPS:
        book[a, P_ENTRY_BAR] = bar
        book[a, P_LONG] = 1.0 if signed > 0 else 0.0
        book[a, P_AVG] = px
        book[a, P_QTY] = signed
    else:
        total = book[a, P_QTY] + signed
        book[a, P_AVG] = (book[a, P_AVG] * book[a, P_QTY] + px * signed) / total
        book[a, P_QTY] = total
    book[a, P_OPENED] += abs(signed)
    book[a, P_OPEN_NOTIONAL] += abs(signed) * px
    book[a, P_TRIP_FEES] += fee


@njit(cache=True, inline="always")
def _book_fill(
    book: np.ndarray,
    a: int,
    signed: float,
    px: float,
    fee: float,
    bar: int,
    reason: int,
    mult: float,
    trades: np.ndarray,
    row: int,
    end: int,
) -> int:
    """Apply a fill to the asset's round-trip book; returns the number of trades closed.

    A closed trade is written to ``trades[row]`` when ``row < end`` and counted either way.
    """
    q = book[a, P_QTY]
    if abs(q) <= _EPS or (q > 0) == (signed > 0):
        _open(book, a, signed, px, fee, bar)
        return 0
    closing = min(abs(signed), abs(q))
    share = closing / abs(signed)
    pnl = math.copysign(closing, q) * (mult * (px - book[a, P_AVG]))
    book[a, P_TRIP_PNL] += pnl
    book[a, P_TRIP_FEES] += fee * share
    book[a, P_CLOSED] += closing
    book[a, P_CLOSE_NOTIONAL] += closing * px
    q += math.copysign(closing, signed)
    book[a, P_QTY] = q
    written = 0
    if abs(q) <= _EPS * max(1.0, book[a, P_OPENED]):
        book[a, P_QTY] = 0.0
        opened = book[a, P_OPENED] if book[a, P_OPENED] != 0.0 else book[a, P_CLOSED]
        if row < end:
            t = trades[row]
            t[T_ASSET] = a
            t[T_LONG] = book[a, P_LONG]
            t[T_QTY] = opened
            t[T_ENTRY_BAR] = book[a, P_ENTRY_BAR]
            t[T_EXIT_BAR] = bar
            t[T_ENTRY_PX] = book[a, P_OPEN_NOTIONAL] / opened if opened else 0.0
            closed = book[a, P_CLOSED]
            t[T_EXIT_PX] = book[a, P_CLOSE_NOTIONAL] / closed if closed else 0.0
            t[T_PNL] = book[a, P_TRIP_PNL] - book[a, P_TRIP_FEES]
            t[T_FEES] = book[a, P_TRIP_FEES]
            t[T_REASON] = reason
        written = 1
        for f in range(P_OPENED, P_TRIP_FEES + 1):
            book[a, f] = 0.0
        book[a, P_AVG] = 0.0
    remainder = abs(signed) - closing
    if remainder > _EPS:
        _open(book, a, math.copysign(remainder, signed), px, fee * (1.0 - share), bar)
    return written


@njit(cache=True, inline="always")
def slipped(px: float, sign: float, ticks: float, bps: float, increment: float) -> float:
    """A taker's fill price: ``FixedTickSlippage`` or ``BpsSlippage`` (one of them is 0)."""
    if ticks != 0.0:
        return px + sign * ticks * increment
    if bps != 0.0:
        return px * (1.0 + sign * bps * 1e-4)
    return px


@njit(cache=True, inline="always")
def _affordable(
    a: int,
    dq: float,
    px: float,
    cash: float,
    book: np.ndarray,
    pending: np.ndarray,
    last: np.ndarray,
    spec: np.ndarray,
    leverage: float,
    cash_account: bool,
) -> bool:
    """The simulated venue's funds check of a market order filling ``dq`` at ``px``.

    ``last`` holds each asset's last known close, ``pending`` the orders not yet matched.
    """
    mult = spec[a, A_MULT]
    q = book[a, P_QTY]
    fee = abs(dq) * mult * px * spec[a, A_CHECK_FEE]
    n_assets = book.shape[0]
    if cash_account:
        if dq > 0:
            locked = 0.0
            for b in range(a + 1, n_assets):
                if pending[b] > 0:
                    locked += pending[b] * spec[b, A_MULT] * last[b]
            need = abs(dq) * mult * px + fee
            free = cash - locked
        else:
            need = abs(dq) * mult
            free = max(q, 0.0) * mult
        return bool(need <= free * (1.0 + _FUNDS_TOLERANCE) + _FUNDS_TOLERANCE)
    reducing = abs(q) if q != 0.0 and (q > 0) != (dq > 0) else 0.0
    opening = max(abs(dq) - reducing, 0.0)
    if opening <= 0.0:
        return True
    need = opening * mult * px / leverage + fee
    equity = cash
    used = 0.0
    locked = 0.0
    for b in range(n_assets):
        held = book[b, P_QTY]
        if held != 0.0:
            value = held * spec[b, A_MULT] * last[b]
            equity += value
            used += abs(value) / leverage
        if b > a and pending[b] != 0.0:
            locked += abs(pending[b]) * spec[b, A_MULT] * last[b] / leverage
    free = equity - used - locked
    return bool(need <= free * (1.0 + _FUNDS_TOLERANCE) + _FUNDS_TOLERANCE)


@njit(cache=True, inline="always")
def book_fill(
    book: np.ndarray,
    a: int,
    dq: float,
    px: float,
    fee: float,
    bar: int,
    reason: int,
    mult: float,
    cash: float,
    trades: np.ndarray,
    row: int,
    end: int,
) -> tuple[float, int]:
    """Settle a fill of ``dq`` at ``px`` paying ``fee``: ``(the new cash, trades closed)``."""
    cash -= dq * mult * px + fee
    return cash, _book_fill(book, a, dq, px, fee, bar, reason, mult, trades, row, end)


@njit(cache=True, inline="always")
def fill_market_order(
    a: int,
    bar: int,
    dq: float,
    open_px: float,
    cash: float,
    book: np.ndarray,
    pending: np.ndarray,
    last: np.ndarray,
    spec: np.ndarray,
    leverage: float,
    cash_account: bool,
    slip_ticks: float,
    slip_bps: float,
    trades: np.ndarray,
    row: int,
    end: int,
) -> tuple[bool, float, int]:
    """Match a market order of ``dq`` at the bar's open as a taker, if the funds allow it.

    Returns ``(filled, the new cash, trades closed)``; the order must already be removed from
    ``pending`` (it reserves nothing against itself).
    """
    mult = spec[a, A_MULT]
    px = slipped(open_px, 1.0 if dq > 0 else -1.0, slip_ticks, slip_bps, spec[a, A_PRICE_INC])
    if not _affordable(a, dq, px, cash, book, pending, last, spec, leverage, cash_account):
        return False, cash, 0
    fee = abs(dq) * mult * px * spec[a, A_TAKER]
    cash, closed = book_fill(book, a, dq, px, fee, bar, REASON_SIGNAL, mult, cash, trades, row, end)
    return True, cash, closed


@njit(cache=True, inline="always")
def order_quantity(target: float, q: float, close: float, spec: np.ndarray, a: int) -> float:
    """The signed order moving position ``q`` to ``target``: 0 for none, NaN if refused.

    The gap is rounded down to the size increment (``Instrument.round_quantity``); an order
    under the instrument's minimum quantity or notional is refused, as the venue refuses it.
    """
    gap = round_quantity(abs(target - q), spec[a, A_SIZE_INC], spec[a, A_SIZE_UNITS],
                         spec[a, A_SIZE_SCALE])  # fmt: skip
    if gap == 0.0:
        return 0.0
    floor = 1.0 - _MIN_TOLERANCE
    if gap < spec[a, A_MIN_QTY] * floor or gap * spec[a, A_MULT] * close < (
        spec[a, A_MIN_NOTIONAL] * floor
    ):
        return math.nan
    return gap if target > q else -gap
