"""Risk metrics against scipy, pandas and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats
from tests.conftest import SHARED_DATA

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.bars import load_ohlcv
from ttquant.model.enums import LiquiditySide, OrderSide
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import perpetual, spot
from ttquant.risk.metrics import (
    VAR_METHODS,
    annualized_volatility,
    drawdown_series,
    expected_shortfall,
    exposure_series,
    leverage_series,
    positions_from_fills,
    risk_report,
    rolling_sharpe,
    rolling_sortino,
    sample_excess_kurtosis,
    sample_skewness,
    value_at_risk,
    var_table,
)

TEN = np.array([-0.05, -0.02, 0.01, 0.03, -0.01, 0.02, 0.00, -0.03, 0.04, 0.01])
BTC_1D = SHARED_DATA / "bars_1h_1d" / "binance_spot_BTCUSDT_1d_until2024.csv.gz"


@pytest.fixture(scope="module")
def btc_daily_returns() -> np.ndarray:
    close = load_ohlcv(BTC_1D).close
    returns: np.ndarray = close[1:] / close[:-1] - 1.0
    return returns


# -- historical -------------------------------------------------------------------------------
def test_historical_var_and_cvar_by_hand() -> None:
    # sorted: -0.05 -0.03 -0.02 -0.01 0 0.01 0.01 0.02 0.03 0.04; the 5 % quantile sits at
    # position 0.05 * 9 = 0.45 between -0.05 and -0.03: -0.05 + 0.45 * 0.02 = -0.041
    assert value_at_risk(TEN, 0.95) == pytest.approx(0.041)
    assert expected_shortfall(TEN, 0.95) == pytest.approx(0.05)  # only -0.05 lies below
    # 10 % quantile at 0.9: -0.05 + 0.9 * 0.02 = -0.032 → tail {-0.05}
    assert value_at_risk(TEN, 0.90) == pytest.approx(0.032)
    # 20 % quantile at 1.8: -0.03 + 0.8 * 0.01 = -0.022 → tail {-0.05, -0.03}
    assert value_at_risk(TEN, 0.80) == pytest.approx(0.022)
    assert expected_shortfall(TEN, 0.80) == pytest.approx(0.04)


# -- gaussian ---------------------------------------------------------------------------------
@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_gaussian_matches_scipy(btc_daily_returns: np.ndarray, confidence: float) -> None:
    r = btc_daily_returns
    mu, sigma = r.mean(), r.std(ddof=1)
    z = stats.norm.ppf(1 - confidence)
    assert value_at_risk(r, confidence, "gaussian") == pytest.approx(-(mu + sigma * z), rel=1e-12)
    # expected shortfall of the fitted normal, by scipy's own tail expectation
    tail_mean = stats.norm(mu, sigma).expect(lambda x: x, ub=mu + sigma * z, conditional=True)
    assert expected_shortfall(r, confidence, "gaussian") == pytest.approx(-tail_mean, rel=1e-8)


# -- Cornish-Fisher ---------------------------------------------------------------------------
def test_shape_statistics_match_scipy(btc_daily_returns: np.ndarray) -> None:
    r = btc_daily_returns
    assert sample_skewness(r) == pytest.approx(stats.skew(r, bias=False), rel=1e-12)
    assert sample_excess_kurtosis(r) == pytest.approx(stats.kurtosis(r, bias=False), rel=1e-12)


def cf_quantile(u: float, r: np.ndarray) -> float:
    """The Cornish-Fisher return quantile at probability ``u``, built from scipy's pieces."""
    s, k = stats.skew(r, bias=False), stats.kurtosis(r, bias=False)
    z = stats.norm.ppf(u)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    return float(r.mean() + r.std(ddof=1) * zcf)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_cornish_fisher_matches_scipy_and_numeric_integration(
    btc_daily_returns: np.ndarray, confidence: float
) -> None:
    r = btc_daily_returns
    tail = 1 - confidence
    assert value_at_risk(r, confidence, "cornish_fisher") == pytest.approx(
        -cf_quantile(tail, r), rel=1e-12
    )
    # expected shortfall = mean of the quantile function over the tail, integrated numerically
    integral, _ = integrate.quad(cf_quantile, 0.0, tail, args=(r,), limit=200)
    assert expected_shortfall(r, confidence, "cornish_fisher") == pytest.approx(
        -integral / tail, rel=1e-7
    )


def test_fat_tails_raise_the_cornish_fisher_var_above_the_gaussian(
    btc_daily_returns: np.ndarray,
) -> None:
    r = btc_daily_returns
    assert sample_excess_kurtosis(r) > 3.0  # crypto daily returns are fat-tailed
    assert value_at_risk(r, 0.99, "cornish_fisher") > value_at_risk(r, 0.99, "gaussian")


def test_var_table_has_every_method_and_level(btc_daily_returns: np.ndarray) -> None:
    table = var_table(btc_daily_returns)
    assert len(table) == 2 * 2 * len(VAR_METHODS)
    for level in (95, 99):
        for method in VAR_METHODS:
            var, cvar = table[f"var_{level}_{method}"], table[f"cvar_{level}_{method}"]
            assert var is not None and cvar is not None
            assert cvar >= var > 0.0
        assert table[f"var_99_{method}"] > table[f"var_95_{method}"]  # type: ignore[operator]
    # too few returns: undefined, not an error
    short = var_table([0.01, -0.02, 0.005])
    assert short["var_95_historical"] is not None
    assert short["var_95_cornish_fisher"] is None


@given(
    st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=4, max_size=200),
    st.sampled_from([0.9, 0.95, 0.99]),
)
def test_the_shortfall_is_never_below_the_var(returns: list[float], confidence: float) -> None:
    for method in ("historical", "gaussian"):
        var = value_at_risk(returns, confidence, method)
        assert expected_shortfall(returns, confidence, method) >= var - 1e-12


# -- rolling ratios ---------------------------------------------------------------------------
def test_rolling_ratios_match_pandas(btc_daily_returns: np.ndarray) -> None:
    r = pd.Series(btc_daily_returns)
    rf = 0.04
    rf_d = (1 + rf) ** (1 / 365) - 1
    x = r - rf_d
    expected_sharpe = x.rolling(30).mean() / x.rolling(30).std() * math.sqrt(365)
    expected_sortino = x.rolling(30).apply(
        lambda w: w.mean() / math.sqrt((np.minimum(w, 0) ** 2).mean())
    ) * math.sqrt(365)
    sharpe = rolling_sharpe(btc_daily_returns, 30, 365, rf)
    sortino = rolling_sortino(btc_daily_returns, 30, 365, rf)
    assert np.isnan(sharpe[:29]).all() and np.isnan(sortino[:29]).all()
    np.testing.assert_allclose(sharpe[29:], expected_sharpe[29:], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sortino[29:], expected_sortino[29:], rtol=1e-9, atol=1e-9)


def test_rolling_ratio_of_a_flat_window_is_undefined() -> None:
    r = np.array([0.01, 0.01, 0.01, 0.02, -0.01])
    sharpe = rolling_sharpe(r, 3, 252)
    assert np.isnan(sharpe[2])  # three equal returns: no spread
    last = np.array([0.01, 0.02, -0.01])
    assert sharpe[4] == pytest.approx(last.mean() / last.std(ddof=1) * math.sqrt(252))
    assert np.isnan(rolling_sortino(r, 3, 252)[3])  # no losing period in the window


def test_annualized_volatility() -> None:
    assert annualized_volatility(TEN, 365) == pytest.approx(np.std(TEN, ddof=1) * math.sqrt(365))


# -- curves -----------------------------------------------------------------------------------
def test_drawdown_by_hand() -> None:
    dd = drawdown_series([100.0, 110.0, 99.0, 121.0, 60.5, -10.0])
    np.testing.assert_allclose(dd, [0.0, 0.0, -0.1, 0.0, -0.5, -1.0])


def fill(iid: str, side: OrderSide, qty: float, ts: int) -> OrderFilled:
    return OrderFilled(
        client_order_id=f"o{ts}", strategy_id="s", instrument_id=iid, ts_event=ts - 1,
        ts_init=ts, trade_id=f"t{ts}", side=side, last_qty=qty, last_px=1.0, commission=0.0,
        commission_currency="USDT", liquidity_side=LiquiditySide.TAKER,
    )  # fmt: skip


def test_positions_exposure_and_leverage_by_hand() -> None:
    btc, eth = spot("BTC/USDT"), perpetual("ETH/USDT:USDT", multiplier=0.1)
    fills = [
        fill(btc.id, OrderSide.BUY, 2.0, 20),
        fill(eth.id, OrderSide.SELL, 10.0, 30),
        fill(btc.id, OrderSide.SELL, 0.5, 40),
    ]
    ts = np.array([10, 20, 30, 35, 40])
    positions = positions_from_fills(ts, fills, [btc.id, eth.id])
    np.testing.assert_array_equal(positions[btc.id], [0.0, 2.0, 2.0, 2.0, 1.5])
    np.testing.assert_array_equal(positions[eth.id], [0.0, 0.0, -10.0, -10.0, -10.0])
    marks = {btc.id: np.array([100.0, 100.0, 110.0, 120.0, 120.0]), eth.id: np.full(5, 50.0)}
    gross, net = exposure_series(positions, marks, {btc.id: btc, eth.id: eth})
    # ETH: 10 contracts x 0.1 x 50 = 50 short
    np.testing.assert_allclose(gross, [0.0, 200.0, 270.0, 290.0, 230.0])
    np.testing.assert_allclose(net, [0.0, 200.0, 170.0, 190.0, 130.0])
    leverage = leverage_series(gross, [1000.0, 1000.0, 900.0, 0.0, 1150.0])
    np.testing.assert_allclose(leverage, [0.0, 0.2, 0.3, np.nan, 0.2])


def test_risk_report_of_a_run(btc_daily_returns: np.ndarray) -> None:
    btc = spot("BTC/USDT")
    equity = np.array([1000.0, 1100.0, 990.0])
    positions = {btc.id: np.array([0.0, 1.0, 1.0])}
    marks = {btc.id: np.array([100.0, 200.0, 90.0])}
    report = risk_report(equity, positions, marks, {btc.id: btc}, btc_daily_returns, 365)
    assert report.summary["max_leverage"] == pytest.approx(200.0 / 1100.0)
    assert report.summary["max_gross_exposure"] == 200.0
    assert report.summary["var_99_historical"] == value_at_risk(btc_daily_returns, 0.99)
    np.testing.assert_allclose(report.samples["drawdown_pct"], [0.0, 0.0, -10.0])
    np.testing.assert_allclose(
        report.daily["rolling_sharpe_30"], rolling_sharpe(btc_daily_returns, 30, 365)
    )


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: value_at_risk(TEN, 1.0), ConfigError, "confidence"),
        (lambda: value_at_risk(TEN, 0.95, "monte_carlo"), ConfigError, "VaR method"),  # type: ignore[arg-type]
        (lambda: value_at_risk([], 0.95), DataError, "at least 1"),
        (lambda: value_at_risk([0.01, math.nan], 0.95), DataError, "not a finite"),
        (
            lambda: expected_shortfall([0.01, 0.02, 0.03], 0.95, "cornish_fisher"),
            DataError,
            "at least 4",
        ),
        (lambda: value_at_risk([0.01] * 5, 0.95, "cornish_fisher"), DataError, "vary"),
        (lambda: rolling_sharpe(TEN, 1, 252), ConfigError, "window"),
        (lambda: rolling_sortino(TEN, 5, 0), ConfigError, "periods_per_year"),
        (lambda: drawdown_series([[1.0, 2.0]]), DataError, "1-D"),
        (lambda: leverage_series([1.0], [1.0, 2.0]), DataError, "equity samples"),
    ],
)
def test_bad_input_is_named(call: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]
