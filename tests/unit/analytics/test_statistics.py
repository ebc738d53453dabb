"""compute_statistics on small cases whose every number is worked out by hand below."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ttquant.analytics.statistics import STATISTICS, TradeArrays, compute_statistics
from ttquant.core.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("error")  # a division-by-zero warning fails the test

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
MON_2024_01_01 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z, a Monday


def _ts(*day_hour: tuple[int, int]) -> np.ndarray:
    return np.array([MON_2024_01_01 + d * DAY + h * HOUR for d, h in day_hour], dtype=np.int64)


def _trades(pnl: list[float], hours: list[int] | None = None) -> TradeArrays:
    n = len(pnl)
    entry = MON_2024_01_01 + np.arange(n, dtype=np.int64) * DAY
    held = np.array(hours if hours is not None else [1] * n, dtype=np.int64) * HOUR
    values = np.array(pnl, dtype=np.float64)
    return TradeArrays(entry, entry + held, values, values / 1000.0, np.zeros(n))


# --- equity curve ------------------------------------------------------------------------------
# Daily closes 110, 104.5, 114.95, 109.2025 after a start of 100: daily returns
# r = [+10 %, -5 %, +10 %, -5 %] (each close over the previous one, the first over sample 0).
CURVE_TS = _ts((0, 0), (0, 12), (1, 6), (1, 20), (2, 8), (3, 10), (3, 22))
CURVE_EQ = np.array([100.0, 110.0, 99.0, 104.5, 114.95, 91.96, 109.2025])
# Benchmark closes 105, 99.75, 104.7375, 99.500625 from 100: b = [+5 %, -5 %, +5 %, -5 %].
CURVE_BENCH = np.array([100.0, 105.0, 101.0, 99.75, 104.7375, 100.0, 99.500625])
R = np.array([0.10, -0.05, 0.10, -0.05])


@pytest.fixture(scope="module")
def curve_stats() -> dict[str, float | int | str | None]:
    in_market = np.array([False, True, True, True, False, True, True])
    return compute_statistics(
        CURVE_TS, CURVE_EQ, TradeArrays.empty(), in_market=in_market, benchmark=CURVE_BENCH
    )


def test_curve_period_and_equity(curve_stats: dict[str, float | int | str | None]) -> None:
    assert curve_stats["start"] == "2024-01-01T00:00:00Z"
    assert curve_stats["end"] == "2024-01-04T22:00:00Z"
    assert curve_stats["duration"] == 3 * 86_400 + 22 * 3_600
    assert curve_stats["exposure_time_pct"] == pytest.approx(5 / 7 * 100)
    assert curve_stats["equity_start"] == 100.0
    assert curve_stats["equity_final"] == 109.2025
    assert curve_stats["equity_peak"] == 114.95
    assert curve_stats["total_return_pct"] == pytest.approx(9.2025)
    assert curve_stats["buy_hold_return_pct"] == pytest.approx(-0.499375)


def test_curve_annualized_returns(curve_stats: dict[str, float | int | str | None]) -> None:
    # Mon..Thu only: no weekend, so 252 periods a year.
    growth = 1.1 * 0.95 * 1.1 * 0.95  # 1.092025
    years = (3 + 22 / 24) / 365.25
    cagr = growth ** (1 / years) - 1
    assert curve_stats["cagr_pct"] == pytest.approx(cagr * 100)
    assert curve_stats["annual_return_pct"] == pytest.approx((growth ** (252 / 4) - 1) * 100)
    # mean 0.025, deviations +-0.075: sample variance 4 * 0.075**2 / 3 = 0.0075
    std = math.sqrt(0.0075)
    assert curve_stats["annual_volatility_pct"] == pytest.approx(std * math.sqrt(252) * 100)
    assert curve_stats["sharpe"] == pytest.approx(0.025 / std * math.sqrt(252))
    # downside deviation sqrt((0 + 0.05**2 + 0 + 0.05**2) / 4)
    downside = math.sqrt(2 * 0.05**2 / 4)
    assert curve_stats["sortino"] == pytest.approx(0.025 / downside * math.sqrt(252))
    assert curve_stats["omega"] == pytest.approx((0.10 + 0.10) / (0.05 + 0.05))
    assert curve_stats["calmar"] == pytest.approx(cagr / 0.20)


def test_curve_drawdowns(curve_stats: dict[str, float | int | str | None]) -> None:
    # Episode 1: peak 110 at day 0 12:00, low 99 (-10 %), regained by 114.95 at day 2 08:00.
    # Episode 2: peak 114.95 at day 2 08:00, low 91.96 (-20 %), not regained by day 3 22:00.
    first = 1 * 86_400 + 20 * 3_600
    second = 1 * 86_400 + 14 * 3_600
    assert curve_stats["max_drawdown_pct"] == pytest.approx(20.0)
    assert curve_stats["avg_drawdown_pct"] == pytest.approx(15.0)
    assert curve_stats["max_drawdown_duration"] == first
    assert curve_stats["avg_drawdown_duration"] == (first + second) / 2


def test_curve_daily_distribution(curve_stats: dict[str, float | int | str | None]) -> None:
    assert curve_stats["winning_days"] == 2
    assert curve_stats["losing_days"] == 2
    assert curve_stats["daily_win_rate_pct"] == 50.0
    assert curve_stats["best_day_pct"] == pytest.approx(10.0)
    assert curve_stats["worst_day_pct"] == pytest.approx(-5.0)
    # Two symmetric values: skew 0. m2 = 0.075**2, m4 = 0.075**4 so g2 = 1 - 3 = -2, and the
    # bias correction ((n+1) g2 + 6)(n-1) / ((n-2)(n-3)) = (5 * -2 + 6) * 3 / 2 = -6.
    assert curve_stats["skew"] == pytest.approx(0.0, abs=1e-12)
    assert curve_stats["kurtosis"] == pytest.approx(-6.0)
    # Sorted [-.05, -.05, .1, .1]: p95 at rank 2.85 -> 0.1, p5 at rank 0.15 -> -0.05.
    assert curve_stats["tail_ratio"] == pytest.approx(2.0)


def test_curve_alpha_beta(curve_stats: dict[str, float | int | str | None]) -> None:
    # Strategy deviations +-0.075 move with benchmark deviations +-0.05: beta = 0.00375 / 0.0025.
    assert curve_stats["beta"] == pytest.approx(1.5)
    # Daily alpha: mean(r - 1.5 b) = 0.025 - 1.5 * 0 = 0.025, compounded over 252 periods.
    assert curve_stats["alpha"] == pytest.approx(1.025**252 - 1)


def test_risk_free_rate_enters_as_a_compounded_daily_rate() -> None:
    stats = compute_statistics(CURVE_TS, CURVE_EQ, TradeArrays.empty(), risk_free_rate=0.05)
    rf_daily = 1.05 ** (1 / 252) - 1
    excess = R - rf_daily
    downside = math.sqrt(np.sum(np.minimum(excess, 0.0) ** 2) / 4)
    assert stats["sharpe"] == pytest.approx(excess.mean() / math.sqrt(0.0075) * math.sqrt(252))
    assert stats["sortino"] == pytest.approx(excess.mean() / downside * math.sqrt(252))


# --- trades ------------------------------------------------------------------------------------
# In exit order: +100, +30, 0, +60, -50, -20, -10, +40 (a zero trade breaks the winning streak).
TRADE_PNL = [100.0, 30.0, 0.0, 60.0, -50.0, -20.0, -10.0, 40.0]
TRADE_RET = [0.02, 0.006, 0.0, 0.012, -0.01, -0.004, -0.002, 0.008]
TRADE_HOURS = [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.fixture(scope="module")
def trade_stats() -> dict[str, float | int | str | None]:
    exit_ns = MON_2024_01_01 + np.arange(1, 9, dtype=np.int64) * DAY
    entry_ns = exit_ns - np.array(TRADE_HOURS, dtype=np.int64) * HOUR
    shuffle = np.array([3, 0, 7, 5, 1, 6, 2, 4])  # handed over out of exit order
    trades = TradeArrays(
        entry_ns[shuffle],
        exit_ns[shuffle],
        np.array(TRADE_PNL)[shuffle],
        np.array(TRADE_RET)[shuffle],
        np.arange(1, 9, dtype=np.float64)[shuffle] * 0.5,
    )
    return compute_statistics(CURVE_TS, CURVE_EQ, trades)


def test_trade_counts_and_extremes(trade_stats: dict[str, float | int | str | None]) -> None:
    assert trade_stats["n_trades"] == 8
    assert trade_stats["win_rate_pct"] == 50.0  # 4 wins of 8, the zero trade is not a win
    assert trade_stats["best_trade_pct"] == pytest.approx(2.0)
    assert trade_stats["worst_trade_pct"] == pytest.approx(-1.0)
    assert trade_stats["avg_trade_pct"] == pytest.approx(0.03 / 8 * 100)
    assert trade_stats["largest_win"] == 100.0
    assert trade_stats["largest_loss"] == -50.0
    assert trade_stats["max_consecutive_wins"] == 2  # +100, +30 then the zero trade
    assert trade_stats["max_consecutive_losses"] == 3
    assert trade_stats["total_fees"] == pytest.approx(0.5 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8))
    assert trade_stats["max_trade_duration"] == 8 * 3_600
    assert trade_stats["avg_trade_duration"] == 4.5 * 3_600


def test_trade_ratios(trade_stats: dict[str, float | int | str | None]) -> None:
    avg_win = (100 + 30 + 60 + 40) / 4  # 57.5
    avg_loss = (-50 - 20 - 10) / 3  # -26.67
    payoff = avg_win / -avg_loss
    assert trade_stats["avg_win"] == pytest.approx(avg_win)
    assert trade_stats["avg_loss"] == pytest.approx(avg_loss)
    assert trade_stats["payoff_ratio"] == pytest.approx(payoff)
    assert trade_stats["profit_factor"] == pytest.approx(230 / 80)
    assert trade_stats["expectancy"] == pytest.approx(150 / 8)
    assert trade_stats["kelly_criterion"] == pytest.approx(0.5 - 0.5 / payoff)
    deviations = [81.25, 11.25, -18.75, 41.25, -68.75, -38.75, -28.75, 21.25]  # pnl - 18.75
    std = math.sqrt(sum(d * d for d in deviations) / 7)
    assert trade_stats["sqn"] == pytest.approx(math.sqrt(8) * 18.75 / std)


# --- edge cases --------------------------------------------------------------------------------
def test_no_trades_leaves_trade_ratios_undefined() -> None:
    stats = compute_statistics(CURVE_TS, CURVE_EQ, TradeArrays.empty())
    assert stats["n_trades"] == 0
    assert stats["max_consecutive_wins"] == 0
    assert stats["max_consecutive_losses"] == 0
    assert stats["total_fees"] == 0.0
    for key in (
        "win_rate_pct",
        "best_trade_pct",
        "avg_trade_pct",
        "avg_win",
        "avg_loss",
        "largest_win",
        "payoff_ratio",
        "profit_factor",
        "expectancy",
        "sqn",
        "kelly_criterion",
        "max_trade_duration",
    ):
        assert stats[key] is None, key


def test_one_winning_trade() -> None:
    stats = compute_statistics(CURVE_TS, CURVE_EQ, _trades([25.0], hours=[3]))
    assert stats["n_trades"] == 1
    assert stats["win_rate_pct"] == 100.0
    assert stats["expectancy"] == 25.0
    assert stats["avg_trade_duration"] == stats["max_trade_duration"] == 3 * 3_600
    assert stats["sqn"] is None  # a standard deviation needs two trades
    assert stats["avg_loss"] is None
    assert stats["profit_factor"] is None


def test_one_losing_trade_has_zero_profit_factor() -> None:
    stats = compute_statistics(CURVE_TS, CURVE_EQ, _trades([-25.0]))
    assert stats["win_rate_pct"] == 0.0
    assert stats["profit_factor"] == 0.0
    assert stats["max_consecutive_losses"] == 1
    assert stats["payoff_ratio"] is None
    assert stats["kelly_criterion"] is None


def test_all_wins_report_none_for_unbounded_ratios() -> None:
    stats = compute_statistics(CURVE_TS, CURVE_EQ, _trades([10.0, 20.0, 30.0]))
    assert stats["win_rate_pct"] == 100.0
    assert stats["max_consecutive_wins"] == 3
    assert stats["profit_factor"] is None
    assert stats["payoff_ratio"] is None
    assert stats["kelly_criterion"] is None
    assert stats["sqn"] == pytest.approx(math.sqrt(3) * 20 / 10)  # std of 10, 20, 30 is 10


def test_equal_trades_have_no_sqn() -> None:
    stats = compute_statistics(CURVE_TS, CURVE_EQ, _trades([0.1, 0.1, 0.1]))
    assert stats["sqn"] is None


def test_flat_equity_has_no_risk_ratios() -> None:
    ts = _ts(*[(d, 12) for d in range(10)])
    stats = compute_statistics(ts, np.full(10, 1_000.0), TradeArrays.empty(), benchmark=np.ones(10))
    assert stats["total_return_pct"] == 0.0
    assert stats["cagr_pct"] == 0.0
    assert stats["annual_volatility_pct"] == 0.0
    assert stats["max_drawdown_pct"] == 0.0
    assert stats["max_drawdown_duration"] == 0.0
    assert stats["winning_days"] == stats["losing_days"] == 0
    for key in (
        "sharpe",
        "sortino",
        "calmar",
        "omega",
        "daily_win_rate_pct",
        "skew",
        "kurtosis",
        "tail_ratio",
        "alpha",
        "beta",
    ):
        assert stats[key] is None, key


def test_flat_equity_with_risk_free_rate_has_a_sortino_of_minus_sqrt_ppy() -> None:
    # Every excess return is -rf_daily: mean / RMS of shortfalls = -1.
    ts = _ts(*[(d, 12) for d in range(10)])
    stats = compute_statistics(ts, np.full(10, 1_000.0), TradeArrays.empty(), risk_free_rate=0.03)
    assert stats["sharpe"] is None
    assert stats["sortino"] == pytest.approx(-math.sqrt(365))  # 10 consecutive days: 365


def test_constant_growth_has_no_sharpe() -> None:
    # 1 % every day: zero volatility up to rounding noise, which must not give a Sharpe of 1e15.
    ts = _ts((0, 0), *[(d, 23) for d in range(30)])
    stats = compute_statistics(ts, 100.0 * 1.01 ** np.arange(31), TradeArrays.empty())
    assert stats["annual_volatility_pct"] == 0.0
    assert stats["sharpe"] is None
    assert stats["sortino"] is None


def test_single_sample() -> None:
    stats = compute_statistics(_ts((0, 5)), np.array([500.0]), TradeArrays.empty())
    assert stats["start"] == stats["end"] == "2024-01-01T05:00:00Z"
    assert stats["duration"] == 0.0
    assert stats["equity_final"] == 500.0
    assert stats["total_return_pct"] == 0.0
    assert stats["max_drawdown_pct"] == 0.0
    assert stats["cagr_pct"] is None  # no elapsed time
    assert stats["sharpe"] is None
    assert stats["annual_volatility_pct"] is None


def test_wiped_out_account() -> None:
    ts = _ts((0, 0), (1, 0), (2, 0))
    stats = compute_statistics(ts, np.array([100.0, 0.0, -10.0]), TradeArrays.empty())
    assert stats["max_drawdown_pct"] == 100.0  # capped: a loss beyond the account is still 100 %
    assert stats["total_return_pct"] == pytest.approx(-110.0)
    assert stats["cagr_pct"] == -100.0
    assert stats["sharpe"] is None  # no simple return after equity reached zero
    assert stats["winning_days"] is None


def test_short_strong_run_does_not_overflow_cagr() -> None:
    stats = compute_statistics(_ts((0, 0), (0, 1)), np.array([100.0, 200.0]), TradeArrays.empty())
    assert stats["cagr_pct"] is None  # doubling every hour: 2 ** 8766 overflows a float


# --- annualization -----------------------------------------------------------------------------
def _sharpe_periods(ts: np.ndarray, **kwargs: int) -> float:
    """Periods per year used, recovered from Sharpe / (mean / std of the daily returns)."""
    equity = 100.0 * np.cumprod(1.0 + np.resize([0.01, -0.005, 0.02], ts.size))
    stats = compute_statistics(ts, equity, TradeArrays.empty(), **kwargs)
    returns = equity / np.concatenate(([100.0], equity[:-1])) - 1.0
    returns[0] = 0.0  # one sample a day: the first day's return is from the first sample
    sharpe = stats["sharpe"]
    assert isinstance(sharpe, float)
    return float((sharpe / (returns.mean() / returns.std(ddof=1))) ** 2)


def test_weekday_data_uses_252_periods() -> None:
    weekdays = [(week * 7 + d, 16) for week in range(4) for d in range(5)]
    assert _sharpe_periods(_ts(*weekdays)) == pytest.approx(252)


def test_a_stray_weekend_sample_does_not_make_a_market_24_7() -> None:
    # 1 Saturday among 6 days: 1/6 < 60 % of 2/7.
    assert _sharpe_periods(_ts(*[(d, 9) for d in range(6)])) == pytest.approx(252)


def test_crypto_data_uses_365_periods() -> None:
    assert _sharpe_periods(_ts(*[(d, 9) for d in range(21)])) == pytest.approx(365)


def test_explicit_periods_per_year_wins() -> None:
    ts = _ts(*[(d, 9) for d in range(21)])
    assert _sharpe_periods(ts, periods_per_year=52) == pytest.approx(52)


# --- output shape ------------------------------------------------------------------------------
def test_keys_follow_the_catalogue_and_values_are_plain_json(
    trade_stats: dict[str, float | int | str | None],
) -> None:
    keys = [spec.key for spec in STATISTICS]
    assert len(keys) >= 35
    assert len(set(keys)) == len(keys)
    assert list(trade_stats) == keys
    assert {type(v) for v in trade_stats.values()} <= {float, int, str, type(None)}
    json.dumps(trade_stats, allow_nan=False)


def test_timestamps_keep_sub_second_digits() -> None:
    ts = np.array([MON_2024_01_01 + 123_000_000, MON_2024_01_01 + DAY + 1], dtype=np.int64)
    stats = compute_statistics(ts, np.array([1.0, 1.0]), TradeArrays.empty())
    assert stats["start"] == "2024-01-01T00:00:00.123Z"
    assert stats["end"] == "2024-01-02T00:00:00.000000001Z"


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ts", "equity", "message"),
    [
        (np.array([], dtype=np.int64), np.array([]), "non-empty"),
        (np.array([1.0, 2.0]), np.array([1.0, 1.0]), "integer"),
        (np.array([5, 5], dtype=np.int64), np.array([1.0, 1.0]), "sample 1"),
        (np.array([1, 2], dtype=np.int64), np.array([1.0]), "expected 2 values"),
        (np.array([1, 2], dtype=np.int64), np.array([1.0, np.nan]), "sample 1 is not a finite"),
    ],
)
def test_malformed_curve_is_a_data_error(ts: np.ndarray, equity: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        compute_statistics(ts, equity, TradeArrays.empty())


def test_misaligned_optional_arrays_are_data_errors() -> None:
    with pytest.raises(DataError, match="in_market"):
        compute_statistics(CURVE_TS, CURVE_EQ, TradeArrays.empty(), in_market=np.ones(3, bool))
    with pytest.raises(DataError, match="benchmark"):
        compute_statistics(CURVE_TS, CURVE_EQ, TradeArrays.empty(), benchmark=np.ones(3))


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="risk_free_rate"):
        compute_statistics(CURVE_TS, CURVE_EQ, TradeArrays.empty(), risk_free_rate=-1.0)
    with pytest.raises(ConfigError, match="periods_per_year"):
        compute_statistics(CURVE_TS, CURVE_EQ, TradeArrays.empty(), periods_per_year=0)


def test_malformed_trades_are_data_errors() -> None:
    ok = np.zeros(2)
    with pytest.raises(DataError, match="equal length"):
        TradeArrays(np.zeros(2, np.int64), np.zeros(3, np.int64), ok, ok, ok)
    with pytest.raises(DataError, match="trade 1 exits before it enters"):
        TradeArrays(np.array([0, 5]), np.array([1, 4]), ok, ok, ok)
    with pytest.raises(DataError, match="fees of trade 1 is not a finite number"):
        TradeArrays(np.array([0, 5]), np.array([1, 6]), ok, ok, np.array([0.0, np.nan]))
