"""Performance statistics of an equity curve and its closed trades.

One function serves every engine (event-driven backtests, the vectorized research engine, live
reports): it takes plain numpy arrays, so no engine object leaks into analytics. The result is a
flat dict of JSON-friendly values (Python ``float``/``int``/``str``/``None``) whose keys and order
are those of :data:`STATISTICS`; it goes unchanged into ``results.json``.

Conventions
-----------
Units
    Keys ending in ``_pct`` are percentages (``12.5`` == 12.5 %). ``alpha`` and
    ``kelly_criterion`` are fractions. Money values are in the account currency. Durations are
    seconds (float). ``start`` and ``end`` are ISO-8601 UTC strings ending in ``Z``.
Undefined values
    A statistic that is undefined or would be infinite is ``None``, never NaN or inf and never a
    warning: no trades (``win_rate_pct`` is None), no losing trade (``profit_factor``,
    ``payoff_ratio`` and ``kelly_criterion`` are None), a flat curve (volatility 0, so
    ``sharpe`` is None), no drawdown (``calmar`` is None), fewer than two daily returns (volatility,
    Sharpe, Sortino, alpha, beta are None). Counts are ``0`` when there is nothing to count,
    except the daily counts, which are None when the daily returns are undefined (see below).
    A standard deviation below 1e-12 of the data's largest magnitude is rounding noise and
    counts as zero (a curve compounding at a constant rate has no Sharpe ratio, not 1e15).
Daily returns
    Every return-based ratio uses daily simple returns: the equity is resampled to UTC calendar
    days, taking the last equity of each day; the first day's return is measured from the first
    equity sample. Days without any sample produce no return. The benchmark is resampled the same
    way. If an equity (or benchmark) base value is not positive, the returns are undefined and so
    are all return-based statistics.
Annualization
    ``periods_per_year`` when given; otherwise 365 when the data trades on weekends (more than
    60 % of the expected 2/7 share of the sampled days are Saturdays or Sundays, backtesting.py's
    rule), else 252.
Sharpe
    ``mean(r - rf_d) / std(r, ddof=1) * sqrt(ppy)`` with the daily risk-free rate
    ``rf_d = (1 + risk_free_rate) ** (1 / ppy) - 1`` (empyrical / quantstats).
Sortino
    ``mean(r - rf_d) / DD * sqrt(ppy)`` with empyrical's downside deviation
    ``DD = sqrt(mean(min(r - rf_d, 0) ** 2))`` over all periods.
Annual return and volatility
    ``annual_return_pct`` is geometric: ``prod(1 + r) ** (ppy / n) - 1``;
    ``annual_volatility_pct`` is ``std(r, ddof=1) * sqrt(ppy)``.
CAGR
    ``(equity_final / equity_start) ** (1 / years) - 1`` with years of 365.25 days between the
    first and the last timestamp; -100 % when the final equity is not positive.
Calmar
    ``CAGR / |max drawdown|``.
Omega
    Threshold 0: ``sum(r[r > 0]) / -sum(r[r < 0])``.
Alpha and beta (only with a benchmark)
    ``beta = cov(r - rf_d, b - rf_d) / var(b - rf_d)`` and the annualized
    ``alpha = (1 + mean((r - rf_d) - beta * (b - rf_d))) ** ppy - 1`` (empyrical), where ``b``
    are the benchmark's daily returns. ``buy_hold_return_pct`` is the benchmark's total return.
Daily statistics
    ``daily_win_rate_pct = winning_days / (winning_days + losing_days)``: flat days are ignored
    (quantstats). ``skew`` and ``kurtosis`` are the bias-corrected sample skewness and excess
    kurtosis of daily returns (pandas, scipy ``bias=False``). ``tail_ratio = |p95| / |p5|``
    (linear percentiles, empyrical).
Drawdown
    Measured from the running peak of the full-resolution equity curve (every sample, not daily
    closes). An episode lasts from the last sample on the peak to the first sample that regains
    it, or to the end of the curve if it never recovers. ``avg_drawdown_pct`` and
    ``avg_drawdown_duration`` average the episodes' depths and durations (0 without episodes).
    A fall below zero equity counts as a 100 % drawdown.
Exposure
    Share of equity samples with ``in_market`` true; None when ``in_market`` is not given.
Trades
    A trade wins when ``pnl > 0`` and loses when ``pnl < 0``; a zero-pnl trade is neither.
    ``avg_win``/``avg_loss`` (negative) and ``largest_win``/``largest_loss`` are money;
    ``best/worst/avg_trade_pct`` use ``return_pct`` (arithmetic mean).
    ``payoff_ratio = avg_win / |avg_loss|``, ``profit_factor = gross profit / |gross loss|``,
    ``expectancy = mean(pnl)``, ``sqn = sqrt(n) * mean(pnl) / std(pnl, ddof=1)`` (Van Tharp),
    ``kelly_criterion = win_rate - (1 - win_rate) / payoff_ratio`` (win rate as a fraction).
    Streaks follow exit times. Trade durations are ``exit_ns - entry_ns``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ttquant.analytics._numeric import compound, percent, ratio
from ttquant.analytics.daily import (
    DAY_NS,
    NS_PER_SECOND,
    infer_periods_per_year,
    last_sample_of_each_day,
    simple_returns,
)
from ttquant.analytics.drawdown import summarize_drawdowns
from ttquant.analytics.return_ratios import return_statistics
from ttquant.analytics.statistic_catalog import (
    STATISTICS,
    StatisticKind,
    StatisticSpec,
    StatisticValue,
    format_statistic,
)
from ttquant.analytics.trade_statistics import TradeArrays, trade_statistics
from ttquant.core.errors import ConfigError, DataError

__all__ = [
    "STATISTICS",
    "StatisticKind",
    "StatisticSpec",
    "StatisticValue",
    "TradeArrays",
    "compute_statistics",
    "format_statistic",
]

_DAYS_PER_YEAR = 365.25
_ISO_UNITS: tuple[tuple[Literal["s", "ms", "us", "ns"], int], ...] = (
    ("s", NS_PER_SECOND),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
)


def compute_statistics(
    equity_ns: ArrayLike,
    equity: ArrayLike,
    trades: TradeArrays,
    *,
    in_market: ArrayLike | None = None,
    benchmark: ArrayLike | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: int | None = None,
) -> dict[str, StatisticValue]:
    """All statistics of :data:`STATISTICS`, in that order (conventions: module docstring).

    ``equity_ns`` are strictly increasing int64 UTC nanoseconds; ``equity``, ``in_market`` (a
    position was open) and ``benchmark`` (a price for buy & hold) are aligned with them. Raises
    :class:`DataError` for malformed arrays and :class:`ConfigError` for a bad rate or period.
    """
    ts, values = _validated_curve(equity_ns, equity)
    _check_parameters(risk_free_rate, periods_per_year)
    days, last = last_sample_of_each_day(ts)
    ppy = periods_per_year if periods_per_year is not None else infer_periods_per_year(days)
    bench = None if benchmark is None else _validated_aligned(benchmark, ts.size, "benchmark")
    drawdowns = summarize_drawdowns(ts, values)
    equity_start, equity_final = float(values[0]), float(values[-1])
    growth = equity_final / equity_start if equity_start > 0.0 else None
    span_ns = int(ts[-1] - ts[0])
    years = span_ns / (DAY_NS * _DAYS_PER_YEAR)
    cagr = None if growth is None or years == 0 else compound(growth, 1.0 / years)

    stats: dict[str, StatisticValue] = {
        "start": _iso_utc(int(ts[0])),
        "end": _iso_utc(int(ts[-1])),
        "duration": span_ns / NS_PER_SECOND,
        "exposure_time_pct": _exposure_pct(in_market, ts.size),
        "equity_start": equity_start,
        "equity_final": equity_final,
        "equity_peak": float(values.max()),
        "total_return_pct": None if growth is None else (growth - 1.0) * 100.0,
        "buy_hold_return_pct": None if bench is None else _buy_hold_pct(bench),
        "cagr_pct": percent(cagr),
        "calmar": None if cagr is None else ratio(cagr, drawdowns.max_depth),
        "max_drawdown_pct": drawdowns.max_depth * 100.0,
        "avg_drawdown_pct": drawdowns.avg_depth * 100.0,
        "max_drawdown_duration": drawdowns.max_duration_s,
        "avg_drawdown_duration": drawdowns.avg_duration_s,
    }
    bench_returns = None if bench is None else simple_returns(bench, last)
    returns = simple_returns(values, last)
    stats.update(return_statistics(returns, bench_returns, risk_free_rate, ppy))
    stats.update(trade_statistics(trades))
    return {spec.key: stats[spec.key] for spec in STATISTICS}


def _validated_curve(
    equity_ns: ArrayLike, equity: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    ts = np.asarray(equity_ns)
    if ts.ndim != 1 or ts.size == 0 or not np.issubdtype(ts.dtype, np.integer):
        raise DataError(
            f"equity_ns: expected a non-empty 1-D integer array of UTC nanoseconds, "
            f"got dtype {ts.dtype} and shape {ts.shape}"
        )
    ts = ts.astype(np.int64, copy=False)
    steps = np.diff(ts)
    if np.any(steps <= 0):
        bad = int(np.argmax(steps <= 0)) + 1
        raise DataError(f"equity_ns: timestamps must strictly increase, sample {bad} does not")
    return ts, _validated_aligned(equity, ts.size, "equity")


def _validated_aligned(values: ArrayLike, size: int, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (size,):
        raise DataError(f"{name}: expected {size} values aligned with equity_ns, got {array.shape}")
    finite = np.isfinite(array)
    if not finite.all():
        raise DataError(f"{name}: sample {int(np.argmin(finite))} is not a finite number")
    return array


def _check_parameters(risk_free_rate: float, periods_per_year: int | None) -> None:
    if not (math.isfinite(risk_free_rate) and risk_free_rate > -1.0):
        raise ConfigError(
            f"risk_free_rate: must be a finite annual rate above -1, got {risk_free_rate}"
        )
    if periods_per_year is not None and periods_per_year < 1:
        raise ConfigError(f"periods_per_year: must be a positive integer, got {periods_per_year}")


def _exposure_pct(in_market: ArrayLike | None, size: int) -> float | None:
    if in_market is None:
        return None
    flags = np.asarray(in_market, dtype=bool)
    if flags.shape != (size,):
        raise DataError(
            f"in_market: expected {size} flags aligned with equity_ns, got {flags.shape}"
        )
    return int(np.count_nonzero(flags)) / size * 100.0


def _buy_hold_pct(bench: NDArray[np.float64]) -> float | None:
    first = float(bench[0])
    return None if first <= 0.0 else (float(bench[-1]) / first - 1.0) * 100.0


def _iso_utc(ns: int) -> str:
    """ISO-8601 UTC with the shortest unit that keeps every non-zero digit (at least seconds)."""
    fraction = ns % NS_PER_SECOND
    unit = next(u for u, step in _ISO_UNITS if fraction % step == 0)
    return str(np.datetime_as_string(np.datetime64(ns, "ns"), unit=unit, timezone="UTC"))
