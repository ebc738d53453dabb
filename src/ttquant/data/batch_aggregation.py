"""Batch aggregation: whole columns of trades or bars into bars, as Polars frames.

Gives the same bars as the streaming aggregators of :mod:`ttquant.data.aggregation`, bit for bit:
window starts come from the same :class:`~ttquant.data.windows.TimeWindows`, and the reductions
run in numba loops that add volumes left to right from zero and compare prices exactly as the
streaming code does. (A Polars ``group_by().sum()`` adds in blocks, which changes the last bits of
a float sum; the window keys and the frames are Polars and numpy, the one pass over the rows is
compiled.)

Input frames are sorted by ``ts_event`` as the catalog stores them; the output has the catalog's
bar columns (:data:`ttquant.data.schema.BAR_SCHEMA`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.aggregation import MEASURES
from ttquant.data.schema import BAR_SCHEMA
from ttquant.data.windows import TimeWindows
from ttquant.model.data import BarType
from ttquant.model.enums import BarAggregation

__all__ = ["aggregate_trades", "resample_bars"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(func: _F) -> _F:
    """``numba.njit``, compiled on first call: importing numba costs most of a second, which
    commands that never aggregate (``ttq data list``) should not pay."""

    @functools.wraps(func)
    def first_call(*args: Any) -> Any:
        import numba

        compiled = numba.njit(cache=True, nogil=True)(func)
        globals()[func.__name__] = compiled
        return compiled(*args)

    return cast(_F, first_call)


def aggregate_trades(
    trades: pl.DataFrame,
    bar_type: BarType,
    *,
    timezone: str = "UTC",
    day_offset: int = 0,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> pl.DataFrame:
    """Bars of ``bar_type`` from trades (``ts_event``, ``price``, ``size`` in arrival order).

    ``start_ns``/``end_ns``: the trades are known from/until these times; a time window reaching
    outside them is incomplete, as is a last tick/volume/value bar that never reached its size.
    """
    ts = _column(trades, "ts_event", np.int64)
    price = _column(trades, "price", np.float64)
    size = _column(trades, "size", np.float64)
    if bar_type.aggregation is BarAggregation.TIME:
        windows = TimeWindows(bar_type.step, timezone, day_offset)
        starts = windows.starts(np.maximum.accumulate(ts)) if len(ts) else ts
        none = np.zeros((len(ts), 0), dtype=np.int64)
        rows, o, h, lo, c, v, _ = _reduce(starts, price, price, price, price, size, none)
        bar_start = starts[rows]
        bar_end = windows.ends(bar_start)
        complete = np.ones(len(rows), dtype=np.bool_)
        if len(rows):
            complete[-1] = end_ns is not None and end_ns >= bar_end[-1]
            if start_ns is not None and start_ns > bar_start[0]:
                complete[0] = False
        return _frame(bar_start, bar_end, o, h, lo, c, v, complete)
    if timezone != "UTC" or day_offset or start_ns is not None:
        raise ConfigError(f"{bar_type}: a time zone, day offset or start applies to time bars")
    measure = MEASURES[bar_type.aggregation]
    if bar_type.step <= 0:
        raise ConfigError(f"{bar_type}: the bar size must be positive")
    filled = np.ones_like(price) if measure == 0 else (size if measure == 1 else price * size)
    first, last, o, h, lo, c, v, complete = _threshold_bars(
        price, size, filled, float(bar_type.step)
    )
    return _frame(ts[first], ts[last], o, h, lo, c, v, complete)


def resample_bars(
    bars: pl.DataFrame,
    step_ns: int,
    *,
    timezone: str = "UTC",
    day_offset: int = 0,
) -> pl.DataFrame:
    """Bars of ``step_ns`` from shorter bars (the catalog's bar columns), like the streaming
    :class:`~ttquant.data.aggregation.TimeBarAggregator` followed by its ``flush``.

    A first window that the data enters late is dropped; a window with missing lower bars, with
    an incomplete lower bar, or cut by the end of the data is kept and marked incomplete.
    """
    windows = TimeWindows(step_ns, timezone, day_offset)
    ts = _column(bars, "ts_event", np.int64)
    if len(ts) and np.any(np.diff(ts) <= 0):
        raise DataError("bars to resample must have strictly increasing ts_event (deduplicated)")
    ts_init = _column(bars, "ts_init", np.int64)
    lengths = ts_init - ts
    if len(ts) and (lengths.min() <= 0 or step_ns % int(lengths.min()) or lengths.max() >= step_ns):
        raise ConfigError(
            f"cannot resample bars of {int(lengths.max())} ns into {step_ns} ns bars: the target "
            "step must be a multiple of the source step"
        )
    starts = windows.starts(ts)
    if len(ts) and ts[0] != starts[0]:  # the data starts inside its first window: skip it
        keep = starts != starts[0]
        ts, starts, lengths = ts[keep], starts[keep], lengths[keep]
        bars = bars.filter(pl.Series(keep))
    complete_in = _column(bars, "complete", np.bool_).astype(np.int64)
    rows, o, h, lo, c, v, covered = _reduce(
        starts,
        _column(bars, "open", np.float64),
        _column(bars, "high", np.float64),
        _column(bars, "low", np.float64),
        _column(bars, "close", np.float64),
        _column(bars, "volume", np.float64),
        np.stack([lengths, complete_in - 1]).T.copy(),
    )
    bar_start = starts[rows]
    bar_end = windows.ends(bar_start)
    complete = (covered[:, 0] == bar_end - bar_start) & (covered[:, 1] == 0)
    return _frame(bar_start, bar_end, o, h, lo, c, v, complete)


def _column(frame: pl.DataFrame, name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
    if name not in frame.columns:
        raise DataError(f"missing column {name!r} (columns: {', '.join(frame.columns)})")
    return np.ascontiguousarray(frame[name].to_numpy(), dtype=dtype)


def _frame(
    start: I64,
    end: I64,
    o: F64,
    h: F64,
    lo: F64,
    c: F64,
    v: F64,
    complete: npt.NDArray[np.bool_],
) -> pl.DataFrame:
    columns = (start, end, o, h, lo, c, v, complete)
    return pl.DataFrame(dict(zip(BAR_SCHEMA, columns, strict=True)), schema=BAR_SCHEMA)


@_jit
def _reduce(
    keys: I64, o: F64, h: F64, lo: F64, c: F64, v: F64, extra: npt.NDArray[np.int64]
) -> tuple[I64, F64, F64, F64, F64, F64, npt.NDArray[np.int64]]:
    """One bar per run of equal ``keys``: first open, highest high, lowest low, last close,
    volume added left to right from zero, and the columns of ``extra`` (integers) summed."""
    n = keys.shape[0]
    rows = np.empty(n, dtype=np.int64)
    oo, hh, ll, cc, vv = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    ex = np.zeros((n, extra.shape[1]), dtype=np.int64)
    b = -1
    for i in range(n):
        if b < 0 or keys[i] != keys[rows[b]]:
            b += 1
            rows[b] = i
            oo[b], hh[b], ll[b] = o[i], h[i], lo[i]
            vv[b] = 0.0
        else:
            hh[b] = max(hh[b], h[i])
            ll[b] = min(ll[b], lo[i])
        cc[b] = c[i]
        vv[b] += v[i]
        for j in range(extra.shape[1]):
            ex[b, j] += extra[i, j]
    m = b + 1
    return rows[:m], oo[:m], hh[:m], ll[:m], cc[:m], vv[:m], ex[:m]


@_jit
def _threshold_bars(
    price: F64, size: F64, filled: F64, threshold: float
) -> tuple[I64, I64, F64, F64, F64, F64, F64, npt.NDArray[np.bool_]]:
    """Tick/volume/value bars: a bar closes with the tick that brings ``filled`` to the
    threshold; the last bar, if it never got there, is incomplete."""
    n = price.shape[0]
    first, last = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    oo, hh, ll, cc, vv = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    complete = np.zeros(n, dtype=np.bool_)
    b = -1
    acc = 0.0
    open_bar = False
    for i in range(n):
        p = price[i]
        if not open_bar:
            b += 1
            first[b] = i
            oo[b] = hh[b] = ll[b] = p
            vv[b] = 0.0
            acc = 0.0
            open_bar = True
        elif p > hh[b]:
            hh[b] = p
        elif p < ll[b]:
            ll[b] = p
        cc[b] = p
        vv[b] += size[i]
        last[b] = i
        acc += filled[i]
        if acc >= threshold:
            complete[b] = True
            open_bar = False
    m = b + 1
    return first[:m], last[:m], oo[:m], hh[:m], ll[:m], cc[:m], vv[:m], complete[:m]
