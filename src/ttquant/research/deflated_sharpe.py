"""The deflated Sharpe ratio: how likely a Sharpe ratio is real after trying many strategies.

Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5).

Selecting the best of N trials inflates its Sharpe ratio even when no trial has any skill. The
expected maximum of N Sharpe ratios drawn around zero with variance V is

    SR0 = sqrt(V) * ((1 - γ) * Φ⁻¹(1 - 1/N) + γ * Φ⁻¹(1 - 1/(N e)))     (γ: Euler-Mascheroni)

and the deflated Sharpe ratio is the probabilistic Sharpe ratio of the observed ``SR`` against
that benchmark, which also corrects for the returns' skewness γ3 and (Pearson) kurtosis γ4 over
T observations:

    DSR = Φ((SR - SR0) * sqrt(T - 1) / sqrt(1 - γ3 * SR + (γ4 - 1) / 4 * SR²))

Every Sharpe ratio here is per period (not annualized) and in the same period as the returns.
A DSR above 0.95 says the strategy's Sharpe ratio beats the best of N skill-less trials with 95 %
confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

from ttquant.core.errors import ConfigError

__all__ = [
    "EULER_GAMMA",
    "DeflatedSharpe",
    "deflated_sharpe",
    "expected_max_sharpe",
    "probabilistic_sharpe",
    "return_moments",
]

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    sharpe: float  # per period
    benchmark: float  # SR0, per period
    n_obs: int
    n_trials: int
    skew: float
    kurtosis: float  # Pearson (3 for normal returns)
    probability: float  # the DSR itself, in [0, 1]

    def as_dict(self) -> dict[str, float | int]:
        """For summary files: the DSR and what it was computed from."""
        return {
            "probability": self.probability,
            "sharpe_per_period": self.sharpe,
            "expected_max_sharpe_per_period": self.benchmark,
            "n_obs": self.n_obs,
            "n_trials": self.n_trials,
            "skew": self.skew,
            "kurtosis": self.kurtosis,
        }


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0: the expected best Sharpe ratio of ``n_trials`` skill-less trials (0 for one trial)."""
    if n_trials < 1:
        raise ConfigError(f"deflated Sharpe: the number of trials must be >= 1, got {n_trials}")
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0):
        raise ConfigError(f"deflated Sharpe: the variance of trial Sharpe ratios {sharpe_variance}")
    if n_trials == 1:
        return 0.0
    n = float(n_trials)
    spread = (1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / n) + EULER_GAMMA * _NORMAL.inv_cdf(
        1 - 1 / (n * math.e)
    )
    return math.sqrt(sharpe_variance) * spread


def probabilistic_sharpe(
    sharpe: float, benchmark: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """PSR: the probability that the true Sharpe ratio exceeds ``benchmark``."""
    if n_obs < 2:
        raise ConfigError(f"deflated Sharpe: needs at least 2 returns, got {n_obs}")
    denominator = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not denominator > 0:
        raise ConfigError(
            "deflated Sharpe: the returns' skew and kurtosis leave no defined variance "
            f"(1 - γ3·SR + (γ4 - 1)/4·SR² = {denominator:.4g})"
        )
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denominator)
    return _NORMAL.cdf(z)


def deflated_sharpe(
    sharpe: float, n_obs: int, skew: float, kurtosis: float, n_trials: int, sharpe_variance: float
) -> DeflatedSharpe:
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    probability = probabilistic_sharpe(sharpe, benchmark, n_obs, skew, kurtosis)
    return DeflatedSharpe(sharpe, benchmark, n_obs, n_trials, skew, kurtosis, probability)


def return_moments(returns: ArrayLike) -> tuple[float, float, float]:
    """Per-period Sharpe ratio (ddof=1), skewness and Pearson kurtosis (moment estimators).

    The moment (biased) estimators of skewness and kurtosis are the ones the paper's worked
    examples use; ``scipy.stats.skew`` and ``kurtosis(fisher=False)`` compute the same.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2:
        raise ConfigError(f"deflated Sharpe: needs at least 2 returns, got {r.size}")
    centred = r - r.mean()
    m2 = float(np.mean(centred**2))
    std = float(r.std(ddof=1))
    if m2 <= 0 or std <= 0:
        raise ConfigError("deflated Sharpe: the returns do not vary")
    skew = float(np.mean(centred**3)) / m2**1.5
    kurtosis = float(np.mean(centred**4)) / m2**2
    return float(r.mean()) / std, skew, kurtosis
