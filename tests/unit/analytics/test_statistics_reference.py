"""compute_statistics against independent libraries on real market data.

References: empyrical-reloaded (return ratios, drawdown, alpha/beta), scipy.stats (skew and
kurtosis), backtesting.py's own statistics (CAGR, drawdown episodes, trade statistics). The daily
returns fed to the references are built with pandas ``resample``, independently of ttquant's
numpy resampling, following the documented convention (last equity of each UTC day, the first
day's return measured from the first sample).
"""

from __future__ import annotations

from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from backtesting._stats import compute_stats as backtesting_compute_stats

from ttquant.analytics.statistics import TradeArrays, compute_statistics

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
MS = 1_000_000


def _read_bars(relative: str) -> pd.DataFrame:
    path = DATA / relative
    if not path.exists():
        pytest.fail(f"real market data missing: {path} (CI always has /work/shared/data)")
    bars = pd.read_csv(path, usecols=["ts", "close"], engine="pyarrow")
    bars["ts_ns"] = bars["ts"].to_numpy(np.int64) * MS
    return bars


def _reference_daily_returns(ts_ns: np.ndarray, values: np.ndarray) -> pd.Series:
    series = pd.Series(values, index=pd.to_datetime(ts_ns, unit="ns", utc=True))
    closes = series.resample("D").last().dropna()
    returns = closes.pct_change()
    returns.iloc[0] = closes.iloc[0] / series.iloc[0] - 1.0
    return returns


@pytest.fixture(scope="module")
def btc_minutes() -> pd.DataFrame:
    # Buy & hold of BTC, one equity sample per 1-minute bar (1.58 M samples, 2022-2024).
    return _read_bars("bars_1m/binance_spot_BTCUSDT_1m_2022-2024.csv.gz")


def test_btc_buy_and_hold_against_empyrical(btc_minutes: pd.DataFrame) -> None:
    ts = btc_minutes["ts_ns"].to_numpy()
    equity = 10_000.0 * btc_minutes["close"].to_numpy() / btc_minutes["close"].iloc[0]
    stats = compute_statistics(ts, equity, TradeArrays.empty(), risk_free_rate=0.04)
    daily = _reference_daily_returns(ts, equity)
    ppy = 365  # crypto trades every day
    rf_daily = 1.04 ** (1 / ppy) - 1
    assert len(daily) == 1096
    assert stats["sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(daily, risk_free=rf_daily, annualization=ppy), rel=1e-9
    )
    assert stats["sortino"] == pytest.approx(
        empyrical.sortino_ratio(daily, required_return=rf_daily, annualization=ppy), rel=1e-9
    )
    assert stats["annual_return_pct"] == pytest.approx(
        empyrical.annual_return(daily, annualization=ppy) * 100, rel=1e-9
    )
    assert stats["annual_volatility_pct"] == pytest.approx(
        empyrical.annual_volatility(daily, annualization=ppy) * 100, rel=1e-9
    )
    assert stats["omega"] == pytest.approx(empyrical.omega_ratio(daily, annualization=ppy))
    assert stats["tail_ratio"] == pytest.approx(empyrical.tail_ratio(daily), rel=1e-9)
    # Drawdown at full resolution: empyrical on the 1-minute returns.
    minute_returns = pd.Series(equity).pct_change().fillna(0.0)
    max_dd = -empyrical.max_drawdown(minute_returns)
    assert stats["max_drawdown_pct"] == pytest.approx(max_dd * 100, rel=1e-9)
    assert stats["max_drawdown_pct"] > 60  # 2022: from ~48k (March) to ~15.5k (November)
    years = (pd.Timestamp(ts[-1]) - pd.Timestamp(ts[0])) / pd.Timedelta(days=365.25)
    cagr = (equity[-1] / equity[0]) ** (1 / years) - 1
    assert stats["cagr_pct"] == pytest.approx(cagr * 100, rel=1e-9)
    assert stats["calmar"] == pytest.approx(cagr / max_dd, rel=1e-9)
    assert stats["skew"] == pytest.approx(scipy.stats.skew(daily, bias=False), rel=1e-9)
    assert stats["kurtosis"] == pytest.approx(scipy.stats.kurtosis(daily, bias=False), rel=1e-9)
    assert stats["best_day_pct"] == pytest.approx(daily.max() * 100)
    assert stats["winning_days"] == int((daily > 0).sum())


def test_eth_against_btc_alpha_beta_against_empyrical() -> None:
    eth = _read_bars("bars_1h_1d/binance_spot_ETHUSDT_1h_until2024.csv.gz")
    btc = _read_bars("bars_1h_1d/binance_spot_BTCUSDT_1h_until2024.csv.gz")
    both = eth.merge(btc, on="ts_ns", suffixes=("_eth", "_btc"))
    ts = both["ts_ns"].to_numpy()
    equity = both["close_eth"].to_numpy()
    benchmark = both["close_btc"].to_numpy()
    stats = compute_statistics(
        ts, equity, TradeArrays.empty(), benchmark=benchmark, risk_free_rate=0.02
    )
    ppy = 365
    rf_daily = 1.02 ** (1 / ppy) - 1
    returns = _reference_daily_returns(ts, equity)
    bench_returns = _reference_daily_returns(ts, benchmark)
    alpha, beta = empyrical.alpha_beta(
        returns, bench_returns, risk_free=rf_daily, annualization=ppy
    )
    assert stats["beta"] == pytest.approx(beta, rel=1e-9)
    assert stats["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert 0.5 < beta < 2  # ETH moves with BTC
    assert stats["buy_hold_return_pct"] == pytest.approx(
        (benchmark[-1] / benchmark[0] - 1) * 100, rel=1e-12
    )


@pytest.mark.filterwarnings("ignore:DatetimeIndex.dayofweek is deprecated")  # in backtesting.py
def test_drawdowns_and_trades_against_backtesting_py() -> None:
    # BTC hourly closes through the May 2022 LUNA crash as an equity curve, and synthetic trades.
    hours = _read_bars("bars_1h_1d/binance_spot_BTCUSDT_1h_until2024.csv.gz")
    month = hours[(hours["ts"] >= 1_651_363_200_000) & (hours["ts"] < 1_654_041_600_000)]
    ts = month["ts_ns"].to_numpy()
    equity = 1_000.0 * month["close"].to_numpy() / month["close"].iloc[0]
    index = pd.to_datetime(ts, unit="ns")
    rng = np.random.default_rng(3)
    entry_bar = np.sort(rng.choice(len(ts) - 30, 40, replace=False))
    exit_bar = entry_bar + rng.integers(1, 30, 40)
    pnl = np.round(rng.normal(2.0, 20.0, 40), 2)
    returns = pnl / 1_000.0
    trades = TradeArrays(ts[entry_bar], ts[exit_bar], pnl, returns, np.full(40, 0.5))
    in_market = np.zeros(len(ts), dtype=bool)
    for first, last in zip(entry_bar, exit_bar, strict=True):
        in_market[first : last + 1] = True
    ohlc = pd.DataFrame({"Close": month["close"].to_numpy()}, index=index)
    trades_df = pd.DataFrame(
        {
            "EntryBar": entry_bar,
            "ExitBar": exit_bar,
            "PnL": pnl,
            "ReturnPct": returns,
            "Duration": index[exit_bar] - index[entry_bar],
        }
    )
    ref = backtesting_compute_stats(trades_df, equity, ohlc, None)
    stats = compute_statistics(
        ts, equity, trades, in_market=in_market, benchmark=month["close"].to_numpy()
    )
    assert stats["max_drawdown_pct"] == pytest.approx(-ref["Max. Drawdown [%]"], rel=1e-9)
    assert stats["avg_drawdown_pct"] == pytest.approx(-ref["Avg. Drawdown [%]"], rel=1e-9)
    assert stats["max_drawdown_duration"] == ref["Max. Drawdown Duration"].total_seconds()
    assert stats["avg_drawdown_duration"] == pytest.approx(
        ref["Avg. Drawdown Duration"].total_seconds(),
        abs=3_600,  # backtesting.py rounds up to 1 h
    )
    assert stats["cagr_pct"] == pytest.approx(ref["CAGR [%]"], rel=1e-9)
    assert stats["total_return_pct"] == pytest.approx(ref["Return [%]"], rel=1e-9)
    assert stats["buy_hold_return_pct"] == pytest.approx(ref["Buy & Hold Return [%]"], rel=1e-9)
    assert stats["equity_peak"] == ref["Equity Peak [$]"]
    assert stats["exposure_time_pct"] == pytest.approx(ref["Exposure Time [%]"])
    assert stats["n_trades"] == ref["# Trades"]
    assert stats["win_rate_pct"] == pytest.approx(ref["Win Rate [%]"])
    assert stats["best_trade_pct"] == pytest.approx(ref["Best Trade [%]"])
    assert stats["worst_trade_pct"] == pytest.approx(ref["Worst Trade [%]"])
    assert stats["sqn"] == pytest.approx(ref["SQN"], rel=1e-9)
    assert stats["kelly_criterion"] == pytest.approx(ref["Kelly Criterion"], rel=1e-9)
    assert stats["max_trade_duration"] == ref["Max. Trade Duration"].total_seconds()
    assert stats["avg_trade_pct"] == pytest.approx(ref["Expectancy [%]"])  # arithmetic mean
