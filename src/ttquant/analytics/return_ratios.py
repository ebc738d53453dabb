"""Risk and return ratios of a series of daily simple returns.

The formulas follow empyrical / quantstats so that numbers can be compared with those libraries;
the module docstring of :mod:`ttquant.analytics.statistics` states them for users.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ttquant.analytics._numeric import compound, is_noise, percent, ratio, sample_std
from ttquant.risk.metrics import sample_excess_kurtosis, sample_skewness

RETURN_KEYS = (
    "annual_return_pct",
    "annual_volatility_pct",
    "sharpe",
    "sortino",
    "omega",
    "alpha",
    "beta",
    "winning_days",
    "losing_days",
    "daily_win_rate_pct",
    "best_day_pct",
    "worst_day_pct",
    "skew",
    "kurtosis",
    "tail_ratio",
)


def return_statistics(
    returns: NDArray[np.float64] | None,
    benchmark_returns: NDArray[np.float64] | None,
    risk_free_rate: float,
    periods_per_year: int,
) -> dict[str, float | int | None]:
    """Statistics keyed by :data:`RETURN_KEYS`; all None when the returns are undefined."""
    stats: dict[str, float | int | None] = dict.fromkeys(RETURN_KEYS)
    if returns is None:
        return stats
    n = returns.size
    rf_per_period = (1.0 + risk_free_rate) ** (1.0 / periods_per_year) - 1.0
    excess = returns - rf_per_period
    annualizer = math.sqrt(periods_per_year)
    std = sample_std(returns)
    winning = int(np.count_nonzero(returns > 0.0))
    losing = int(np.count_nonzero(returns < 0.0))
    p95, p5 = np.percentile(returns, [95.0, 5.0])
    stats.update(
        annual_return_pct=percent(compound(float(np.prod(1.0 + returns)), periods_per_year / n)),
        annual_volatility_pct=None if std is None else std * annualizer * 100.0,
        sharpe=_annualized_ratio(float(excess.mean()), std, annualizer),
        sortino=_sortino(excess, annualizer),
        omega=ratio(float(returns[returns > 0.0].sum()), -float(returns[returns < 0.0].sum())),
        winning_days=winning,
        losing_days=losing,
        daily_win_rate_pct=percent(ratio(winning, winning + losing)),
        best_day_pct=float(returns.max()) * 100.0,
        worst_day_pct=float(returns.min()) * 100.0,
        skew=_skew(returns),
        kurtosis=_excess_kurtosis(returns),
        tail_ratio=ratio(abs(float(p95)), abs(float(p5))),
    )
    if benchmark_returns is not None:
        stats.update(_alpha_beta(excess, benchmark_returns - rf_per_period, periods_per_year))
    return stats


def _annualized_ratio(mean: float, spread: float | None, annualizer: float) -> float | None:
    if not spread:  # None (too few values) or zero (flat curve): the ratio is undefined
        return None
    return mean / spread * annualizer


def _sortino(excess: NDArray[np.float64], annualizer: float) -> float | None:
    """Mean excess return over empyrical's downside deviation (RMS of shortfalls, all periods)."""
    if excess.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if is_noise(downside, excess):
        return None
    return _annualized_ratio(float(excess.mean()), downside, annualizer)


def _varies(values: NDArray[np.float64]) -> bool:
    """Whether the values spread by more than rounding noise (else higher moments are noise)."""
    deviations = values - values.mean()
    return not is_noise(math.sqrt(float(np.mean(deviations**2))), values)


def _skew(values: NDArray[np.float64]) -> float | None:
    """Bias-corrected sample skewness (pandas / scipy ``bias=False``); None without spread."""
    if values.size < 3 or not _varies(values):
        return None
    return sample_skewness(values)


def _excess_kurtosis(values: NDArray[np.float64]) -> float | None:
    """Bias-corrected sample excess kurtosis (pandas / scipy ``bias=False``); None without
    spread."""
    if values.size < 4 or not _varies(values):
        return None
    return sample_excess_kurtosis(values)


def _alpha_beta(
    excess: NDArray[np.float64], benchmark_excess: NDArray[np.float64], periods_per_year: int
) -> dict[str, float | None]:
    """CAPM beta of the excess returns and empyrical's annualized alpha."""
    centered = benchmark_excess - benchmark_excess.mean()
    variance = float(np.mean(centered**2))
    if excess.size < 2 or is_noise(math.sqrt(variance), benchmark_excess):
        return {"alpha": None, "beta": None}
    beta = float(np.mean(centered * (excess - excess.mean()))) / variance
    daily_alpha = float(np.mean(excess - beta * benchmark_excess))
    return {"alpha": compound(1.0 + daily_alpha, periods_per_year), "beta": beta}
