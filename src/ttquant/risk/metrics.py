"""Risk metrics over plain arrays: value at risk, expected shortfall, rolling ratios, drawdown,
exposure and leverage.

The same functions serve a finished backtest (``results.json`` → ``risk``, ``risk.csv``) and a
live node, which calls them on the returns and positions it has so far. Numpy and the standard
library only.

Conventions
-----------
Returns are simple returns as fractions. VaR and expected shortfall (CVaR) are *losses*,
positive fractions of value: ``value_at_risk(r, 0.99) == 0.031`` reads "on 1 % of periods the
loss exceeds 3.1 %" (a negative value means even that tail is a gain).

historical
    ``VaR = -q`` with ``q`` the ``1 - confidence`` quantile of the returns, linearly
    interpolated (numpy's default, Hyndman-Fan type 7); ``CVaR = -mean(r[r <= q])``.
gaussian
    ``VaR = -(mu + sigma * z)`` with ``z = Phi^-1(1 - confidence)``, ``mu`` the mean and
    ``sigma`` the sample standard deviation (ddof=1); ``CVaR = -(mu - sigma * phi(z) / (1 -
    confidence))``.
cornish_fisher
    The Gaussian quantile corrected for the bias-corrected sample skewness ``S`` and excess
    kurtosis ``K`` (scipy ``bias=False``): ``z_cf = z + (z^2 - 1) S / 6 + (z^3 - 3z) K / 24 -
    (2z^3 - 5z) S^2 / 36``, ``VaR = -(mu + sigma * z_cf)``. CVaR is the expected shortfall of
    that same quantile function, integrated in closed form over the tail ``u < 1 - c``:
    ``CVaR = -mu + sigma * phi(z) / (1 - c) * (1 + z S / 6 + (z^2 - 1) K / 24 - (2z^2 - 1)
    S^2 / 36)``.

Rolling Sharpe and Sortino follow the statistics' definitions over each window of ``window``
returns (Sortino's downside deviation is the root mean square of the shortfalls), annualized by
``sqrt(periods_per_year)``; the first ``window - 1`` values, and windows without spread, are NaN.
Drawdown is ``equity / running peak - 1`` (0 at a peak, -0.25 a quarter below it). Gross
exposure is ``sum |q * multiplier * price|`` over instruments, net exposure the signed sum,
leverage gross exposure over equity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ttquant.core.errors import ConfigError, DataError
from ttquant.model.enums import OrderSide
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import Instrument

VarMethod = Literal["historical", "gaussian", "cornish_fisher"]
VAR_METHODS: tuple[VarMethod, ...] = ("historical", "gaussian", "cornish_fisher")
CONFIDENCES = (0.95, 0.99)
_MIN_RETURNS: dict[str, int] = {"historical": 1, "gaussian": 2, "cornish_fisher": 4}
_STANDARD = NormalDist()

FloatArray = NDArray[np.float64]


# -- distribution ---------------------------------------------------------------------------------
def sample_skewness(values: ArrayLike) -> float:
    """Bias-corrected sample skewness (scipy ``skew(bias=False)``); NaN without spread."""
    x = _returns(values, 3, "skewness")
    return _skew(x.size, *_central_moments(x))


def sample_excess_kurtosis(values: ArrayLike) -> float:
    """Bias-corrected sample excess kurtosis (scipy ``kurtosis(bias=False)``); NaN without
    spread."""
    x = _returns(values, 4, "kurtosis")
    return _kurtosis(x.size, *_central_moments(x))


def _central_moments(x: FloatArray) -> tuple[float, float, float]:
    """Second, third and fourth central moments (biased), in one pass over the squares."""
    d = x - x.mean()
    d2 = d * d
    return float(d2.mean()), float(np.dot(d2, d)) / x.size, float(np.dot(d2, d2)) / x.size


def _skew(n: int, m2: float, m3: float, m4: float) -> float:
    if m2 == 0.0:
        return math.nan
    return m3 / math.pow(m2, 1.5) * math.sqrt(n * (n - 1)) / (n - 2)


def _kurtosis(n: int, m2: float, m3: float, m4: float) -> float:
    if m2 == 0.0:
        return math.nan
    g2 = m4 / m2**2 - 3.0
    return ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))


def annualized_volatility(returns: ArrayLike, periods_per_year: float) -> float:
    """``std(r, ddof=1) * sqrt(periods_per_year)`` (the input of volatility targeting)."""
    _check_periods(periods_per_year)
    x = _returns(returns, 2, "volatility")
    return float(np.std(x, ddof=1)) * math.sqrt(periods_per_year)


# -- value at risk --------------------------------------------------------------------------------
def value_at_risk(
    returns: ArrayLike, confidence: float = 0.95, method: VarMethod = "historical"
) -> float:
    """The loss not exceeded with probability ``confidence`` (module docstring)."""
    x, tail = _var_inputs(returns, confidence, method)
    if method == "historical":
        return -float(np.quantile(x, tail))
    mu, sigma = float(x.mean()), float(np.std(x, ddof=1))
    z = _STANDARD.inv_cdf(tail)
    if method == "cornish_fisher":
        s, k = _shape(x)
        z = (
            z
            + (z * z - 1.0) * s / 6.0
            + (z**3 - 3.0 * z) * k / 24.0
            - (2 * z**3 - 5 * z) * s * s / 36.0
        )
    return -(mu + sigma * z)


def expected_shortfall(
    returns: ArrayLike, confidence: float = 0.95, method: VarMethod = "historical"
) -> float:
    """CVaR: the mean loss in the worst ``1 - confidence`` of periods (module docstring)."""
    x, tail = _var_inputs(returns, confidence, method)
    if method == "historical":
        q = np.quantile(x, tail)
        return -float(x[x <= q].mean())
    mu, sigma = float(x.mean()), float(np.std(x, ddof=1))
    z = _STANDARD.inv_cdf(tail)
    correction = 1.0
    if method == "cornish_fisher":
        s, k = _shape(x)
        correction += z * s / 6.0 + (z * z - 1.0) * k / 24.0 - (2.0 * z * z - 1.0) * s * s / 36.0
    return -mu + sigma * _STANDARD.pdf(z) / tail * correction


def var_table(
    returns: ArrayLike, confidences: Sequence[float] = CONFIDENCES
) -> dict[str, float | None]:
    """VaR and CVaR for every method and confidence, keyed ``var_95_historical`` and
    ``cvar_99_cornish_fisher``; None where there are too few returns or no spread."""
    x = np.asarray(returns, dtype=np.float64)
    table: dict[str, float | None] = {}
    for confidence in confidences:
        tag = f"{round(confidence * 100):d}"
        for method in VAR_METHODS:
            for key, measure in (("var", value_at_risk), ("cvar", expected_shortfall)):
                try:
                    value = measure(x, confidence, method)
                except DataError:
                    value = math.nan
                table[f"{key}_{tag}_{method}"] = value if math.isfinite(value) else None
    return table


# -- rolling ratios -------------------------------------------------------------------------------
def rolling_sharpe(
    returns: ArrayLike,
    window: int,
    periods_per_year: float,
    risk_free_rate: float = 0.0,
) -> FloatArray:
    """Annualized Sharpe ratio of each trailing window (aligned with ``returns``)."""
    excess, w = _rolling_inputs(returns, window, periods_per_year, risk_free_rate)
    shift = float(excess.mean()) if excess.size else 0.0
    centred = excess - shift  # sums of centred values lose less to cancellation
    total = _window_sums(centred, w)
    squares = _window_sums(centred * centred, w)
    mean = total / w
    variance = np.maximum(squares - total * mean, 0.0) / (w - 1)
    return _annualized(mean + shift, np.sqrt(variance), excess, w, periods_per_year)


def rolling_sortino(
    returns: ArrayLike,
    window: int,
    periods_per_year: float,
    risk_free_rate: float = 0.0,
) -> FloatArray:
    """Annualized Sortino ratio of each trailing window (aligned with ``returns``)."""
    excess, w = _rolling_inputs(returns, window, periods_per_year, risk_free_rate)
    mean = _window_sums(excess, w) / w
    shortfall = np.minimum(excess, 0.0)
    downside = np.sqrt(_window_sums(shortfall * shortfall, w) / w)
    return _annualized(mean, downside, excess, w, periods_per_year)


# -- curves ---------------------------------------------------------------------------------------
def drawdown_series(equity: ArrayLike) -> FloatArray:
    """``equity / running peak - 1`` at every sample (a fall below zero counts as -100 %)."""
    values = _finite_1d(equity, "equity")
    peak = np.maximum.accumulate(values)
    relative = np.divide(values, peak, out=np.ones_like(values), where=peak > 0.0)
    result: FloatArray = np.clip(relative, 0.0, None) - 1.0
    return result


def positions_from_fills(
    ts: ArrayLike, fills: Sequence[OrderFilled], instrument_ids: Sequence[str]
) -> dict[str, FloatArray]:
    """Signed position of every instrument at each time in ``ts``, from the fills known then
    (a fill is known at its ``ts_init``), netted over every strategy."""
    times = np.asarray(ts, dtype=np.int64)
    known_at = np.array([f.ts_init for f in fills], dtype=np.int64)
    last = np.searchsorted(known_at, times, side="right") - 1
    positions: dict[str, FloatArray] = {}
    for iid in instrument_ids:
        signed = np.array(
            [
                (f.last_qty if f.side is OrderSide.BUY else -f.last_qty)
                if f.instrument_id == iid
                else 0.0
                for f in fills
            ],
            dtype=np.float64,
        )
        held = np.cumsum(signed)
        positions[iid] = np.where(last >= 0, held[np.maximum(last, 0)] if fills else 0.0, 0.0)
    return positions


def exposure_series(
    positions: Mapping[str, ArrayLike],
    marks: Mapping[str, ArrayLike],
    instruments: Mapping[str, Instrument],
) -> tuple[FloatArray, FloatArray]:
    """Gross and net exposure (settlement currency) at each sample; an unknown price counts 0."""
    gross: FloatArray | None = None
    net: FloatArray | None = None
    for iid, quantity in positions.items():
        inst = instruments[iid]
        q = np.asarray(quantity, dtype=np.float64)
        price = np.asarray(marks[iid], dtype=np.float64)
        if q.shape != price.shape:
            raise DataError(f"{iid}: {q.size} positions but {price.size} prices")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = q * inst.multiplier / price if inst.is_inverse else q * inst.multiplier * price
        value = np.where(np.isfinite(value), value, 0.0)
        gross = np.abs(value) if gross is None else gross + np.abs(value)
        net = value if net is None else net + value
    if gross is None or net is None:
        raise DataError("exposure needs the positions of at least one instrument")
    return gross, net


def leverage_series(gross_exposure: ArrayLike, equity: ArrayLike) -> FloatArray:
    """Gross exposure over equity; NaN where equity is not positive."""
    gross = _finite_1d(gross_exposure, "gross exposure")
    values = _finite_1d(equity, "equity")
    if gross.shape != values.shape:
        raise DataError(f"{gross.size} exposures but {values.size} equity samples")
    result: FloatArray = np.divide(
        gross, values, out=np.full_like(values, np.nan), where=values > 0.0
    )
    return result


# -- a finished run -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RiskReport:
    """What a backtest's results carry: ``summary`` for ``results.json``, ``samples`` aligned
    with the equity curve, ``daily`` aligned with the daily returns."""

    summary: dict[str, float | None]
    samples: dict[str, FloatArray]
    daily: dict[str, FloatArray]


def risk_report(
    equity: ArrayLike,
    positions: Mapping[str, ArrayLike],
    marks: Mapping[str, ArrayLike],
    instruments: Mapping[str, Instrument],
    daily_returns: ArrayLike | None,
    periods_per_year: float,
    *,
    window: int = 30,
    risk_free_rate: float = 0.0,
) -> RiskReport:
    """Every metric of this module for one run (``daily_returns`` None: undefined returns)."""
    values = _finite_1d(equity, "equity")
    if positions:
        gross, net = exposure_series(positions, marks, instruments)
    else:
        gross = net = np.zeros_like(values)
    leverage = leverage_series(gross, values)
    returns = np.empty(0) if daily_returns is None else np.asarray(daily_returns, np.float64)
    finite_leverage = leverage[np.isfinite(leverage)]
    summary: dict[str, float | None] = {
        "max_leverage": float(finite_leverage.max()) if finite_leverage.size else None,
        "avg_leverage": float(finite_leverage.mean()) if finite_leverage.size else None,
        "max_gross_exposure": float(gross.max()) if gross.size else None,
        **var_table(returns),
    }
    daily = {
        f"rolling_sharpe_{window}": rolling_sharpe(
            returns, window, periods_per_year, risk_free_rate
        ),
        f"rolling_sortino_{window}": rolling_sortino(
            returns, window, periods_per_year, risk_free_rate
        ),
    }
    samples = {
        "gross_exposure": gross,
        "net_exposure": net,
        "leverage": leverage,
        "drawdown_pct": drawdown_series(values) * 100.0,
    }
    return RiskReport(summary, samples, daily)


# -- helpers --------------------------------------------------------------------------------------
def _finite_1d(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(f"{name}: value {int(np.argmax(bad))} is not a finite number")
    return array


def _returns(values: ArrayLike, minimum: int, what: str) -> FloatArray:
    x = _finite_1d(values, "returns")
    if x.size < minimum:
        raise DataError(f"{what} needs at least {minimum} returns, got {x.size}")
    return x


def _var_inputs(returns: ArrayLike, confidence: float, method: str) -> tuple[FloatArray, float]:
    if method not in _MIN_RETURNS:
        raise ConfigError(f"VaR method must be one of {', '.join(VAR_METHODS)}, got {method!r}")
    if not (math.isfinite(confidence) and 0.5 <= confidence < 1.0):
        raise ConfigError(f"confidence must be in [0.5, 1), got {confidence}")
    return _returns(returns, _MIN_RETURNS[method], f"{method} VaR"), 1.0 - confidence


def _shape(x: FloatArray) -> tuple[float, float]:
    """Skewness and excess kurtosis, or a DataError when the returns have no spread."""
    moments = _central_moments(x)
    s, k = _skew(x.size, *moments), _kurtosis(x.size, *moments)
    if math.isnan(s) or math.isnan(k):
        raise DataError("Cornish-Fisher VaR needs returns that vary")
    return s, k


def _check_periods(periods_per_year: float) -> None:
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ConfigError(f"periods_per_year must be positive, got {periods_per_year}")


def _rolling_inputs(
    returns: ArrayLike, window: int, periods_per_year: float, risk_free_rate: float
) -> tuple[FloatArray, int]:
    _check_periods(periods_per_year)
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ConfigError(f"window must be an integer of at least 2 periods, got {window!r}")
    if not (math.isfinite(risk_free_rate) and risk_free_rate > -1.0):
        raise ConfigError(
            f"risk_free_rate must be a finite annual rate above -1, got {risk_free_rate}"
        )
    x = _finite_1d(returns, "returns")
    per_period = (1.0 + risk_free_rate) ** (1.0 / periods_per_year) - 1.0
    return x - per_period, window


def _window_sums(values: FloatArray, window: int) -> FloatArray:
    """Sum of each trailing window, NaN before the first full one."""
    out = np.full(values.size, np.nan)
    if values.size >= window:
        cumulative = np.concatenate(([0.0], np.cumsum(values)))
        out[window - 1 :] = cumulative[window:] - cumulative[:-window]
    return out


def _annualized(
    mean: FloatArray, spread: FloatArray, x: FloatArray, window: int, periods_per_year: float
) -> FloatArray:
    scale = float(np.max(np.abs(x))) if x.size else 0.0
    valid = np.isfinite(spread) & (spread > 1e-12 * scale)
    out = np.full(x.size, np.nan)
    np.divide(mean, spread, out=out, where=valid)
    result: FloatArray = out * math.sqrt(periods_per_year)
    return result
