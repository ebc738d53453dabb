"""The deflated Sharpe ratio against the paper's worked example, scipy and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats  # type: ignore[import-untyped]

from ttquant.core.errors import ConfigError
from ttquant.research.deflated_sharpe import (
    EULER_GAMMA,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    return_moments,
)
from ttquant.research.walkforward import trials_deflated_sharpe

DAY = 86_400 * 10**9


def test_the_papers_worked_example() -> None:
    """Bailey & López de Prado (2014), section 'A numerical example': an annualized Sharpe of
    2.5 over 5 years of daily returns (T = 1250), the best of N = 100 trials whose annualized
    Sharpe ratios vary with variance 1/2, returns with skewness -3 and kurtosis 10: the
    expected maximum Sharpe ratio is 0.1132 per day and the DSR is 0.9004."""
    sr = 2.5 / math.sqrt(250)
    result = deflated_sharpe(sr, 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert result.benchmark == pytest.approx(0.1132, abs=5e-5)
    assert result.probability == pytest.approx(0.9004, abs=5e-5)


def test_the_formula_against_scipy() -> None:
    """SR0 and the PSR recomputed term by term with scipy's normal distribution."""
    n, variance = 37, 0.0031
    expected = math.sqrt(variance) * (
        (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / n)
        + EULER_GAMMA * stats.norm.ppf(1 - 1 / (n * math.e))
    )
    assert expected_max_sharpe(n, variance) == pytest.approx(expected, rel=1e-12)
    sr, sr0, t, g3, g4 = 0.09, 0.04, 500, -0.7, 6.5
    z = (sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe(sr, sr0, t, g3, g4) == pytest.approx(stats.norm.cdf(z), rel=1e-12)


@pytest.mark.parametrize(("n", "tolerance"), [(10, 0.025), (100, 0.01), (1000, 0.005)])
def test_expected_maximum_approximates_the_exact_expectation(n: int, tolerance: float) -> None:
    """SR0 approximates E[max of N independent N(0, V) draws], here integrated exactly:
    E[max] = ∫ x · N · φ(x) · Φ(x)^(N-1) dx, scaled by sqrt(V). The approximation is the
    paper's; it tightens as N grows."""
    exact, _ = integrate.quad(
        lambda x: x * n * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n - 1), -10, 10
    )
    assert expected_max_sharpe(n, 2.0) == pytest.approx(exact * math.sqrt(2.0), rel=tolerance)


def test_one_trial_is_not_deflated() -> None:
    assert expected_max_sharpe(1, 0.5) == 0.0
    result = deflated_sharpe(0.1, 250, 0.0, 3.0, 1, 0.5)
    assert result.probability == pytest.approx(
        stats.norm.cdf(0.1 * math.sqrt(249) / math.sqrt(1 + 0.5 * 0.01))
    )


def test_moments_match_scipy() -> None:
    rng = np.random.default_rng(3)
    r = rng.standard_t(4, 400) * 0.01 + 0.0005
    sharpe, skew, kurtosis = return_moments(r)
    assert sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    assert skew == pytest.approx(stats.skew(r))
    assert kurtosis == pytest.approx(stats.kurtosis(r, fisher=False))


def test_more_trials_deflate_more() -> None:
    values = [deflated_sharpe(0.1, 750, 0.0, 3.0, n, 0.002).probability for n in (1, 10, 1000)]
    assert values[0] > values[1] > values[2]


def test_deflated_sharpe_of_a_curve() -> None:
    """From an equity curve's daily returns, with the trials' annual Sharpes (365-day year)."""
    rng = np.random.default_rng(11)
    days = 400
    returns = rng.normal(0.001, 0.01, days)
    equity = 1000.0 * np.cumprod(np.concatenate(([1.0], 1 + returns))).astype(np.float64)
    # the first sample opens day 0, then one sample closes each day: one return per day
    ts = np.concatenate(([19_000 * DAY], (np.arange(days) + 19_000) * DAY + DAY - 1))
    trial_sharpes = [0.5, 1.0, 1.5, 2.0, -0.5]
    result = trials_deflated_sharpe(ts, equity, trial_sharpes, 50)
    assert result is not None
    sr, skew, kurt = return_moments(returns)
    variance = np.var(np.array(trial_sharpes) / math.sqrt(365), ddof=1)
    expected = deflated_sharpe(sr, days, skew, kurt, 50, float(variance))
    assert result.probability == pytest.approx(expected.probability, rel=1e-9)
    flat = trials_deflated_sharpe(ts, np.full(days + 1, 1000.0), trial_sharpes, 50)
    assert flat is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_max_sharpe(0, 1.0), "number of trials must be >= 1"),
        (lambda: expected_max_sharpe(5, -1.0), "variance of trial Sharpe ratios"),
        (lambda: probabilistic_sharpe(0.1, 0.0, 1, 0.0, 3.0), "needs at least 2 returns"),
        (lambda: probabilistic_sharpe(1.0, 0.0, 100, 5.0, 3.0), "leave no defined variance"),
        (lambda: return_moments([0.01, 0.01, 0.01]), "returns do not vary"),
    ],
)
def test_undefined_cases_are_clear_errors(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()  # type: ignore[operator]
