"""Pairs strategy: every entry, reversal and exit happens exactly when the spread's z-score,
computed independently (pandas rolling covariance/variance), crosses the thresholds.

Real data: Binance BTC/USDT and ETH/USDT 1h bars of 2023. Hand-made bars pin the pairing of bars
when one instrument misses a bar.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ttquant.core.errors import ConfigError
from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.enums import OrderSide, OrderType
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import spot
from ttquant.strategy.library.pairs import Pairs, spread_zscore
from ttquant.strategy.registry import builtin_strategies

DATA = Path("bars_1h_1d")
START = 1_672_531_200 * 10**9  # 2023-01-01
END = 1_704_067_200 * 10**9  # 2024-01-01
LOT = 1e-5
LOOKBACK, ENTRY, EXIT, SIZE = 100, 2.0, 0.5, 0.5
BTC, ETH = "BTC/USDT@BINANCE", "ETH/USDT@BINANCE"


@pytest.fixture(scope="module")
def btc_eth(shared_data: Path) -> tuple[OHLCV, OHLCV]:
    a = load_ohlcv(shared_data / DATA / "binance_spot_BTCUSDT_1h_until2024.csv.gz")
    b = load_ohlcv(shared_data / DATA / "binance_spot_ETHUSDT_1h_until2024.csv.gz")
    a, b = a.slice_time(START, END), b.slice_time(START, END)
    assert np.array_equal(a.ts, b.ts)  # the same hours (one missing in both)
    return a, b


def _run(a: OHLCV, b: OHLCV, step: str = "1h", **params: object) -> list[OrderFilled]:
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0})
    for symbol, bars in (("BTC/USDT", a), ("ETH/USDT", b)):
        inst = spot(symbol, "BINANCE", price_increment=0.01, size_increment=LOT)
        engine.add_instrument(inst)
        engine.add_ohlcv(BarType.time(inst.id, step), bars)
    engine.add_strategy(Pairs(instruments=[BTC, ETH], **params))
    engine.run()
    assert all(o.order_type is OrderType.MARKET for o in engine.cache.orders.values())
    return list(engine.execution.fills)


def _independent_z(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling OLS of a on b with pandas' rolling moments; z of the last residual."""
    sa, sb = pd.Series(a), pd.Series(b)
    cov = sa.rolling(n).cov(sb)  # ddof=1 throughout: the ratio is the OLS slope
    var_b, var_a = sb.rolling(n).var(), sa.rolling(n).var()
    beta = cov / var_b
    resid_now = (sa - sa.rolling(n).mean()) - beta * (sb - sb.rolling(n).mean())
    resid_std = np.sqrt((var_a - beta * cov) * (n - 1) / n)  # population std of the residuals
    return beta.to_numpy(), (resid_now / resid_std).to_numpy()


def test_registered_and_validated() -> None:
    assert builtin_strategies()["pairs"] is Pairs
    with pytest.raises(ConfigError, match="must be >= 3"):
        Pairs(lookback=2)


def test_zscore_helper_matches_numpy_polyfit() -> None:
    rng = np.random.default_rng(7)
    b = 100 + rng.normal(size=50).cumsum()
    a = 3.0 * b + rng.normal(size=50)
    beta, z = spread_zscore(a, b)
    slope, intercept = np.polyfit(b, a, 1)
    resid = a - intercept - slope * b
    assert beta == pytest.approx(slope, rel=1e-10)
    assert z == pytest.approx(resid[-1] / resid.std(), rel=1e-9)


def test_trades_exactly_when_the_z_score_crosses_the_thresholds(
    btc_eth: tuple[OHLCV, OHLCV],
) -> None:
    a, b = btc_eth
    fills = _run(a, b, lookback=LOOKBACK, entry_z=ENTRY, exit_z=EXIT, size=SIZE)
    beta, z = _independent_z(a.close, b.close, LOOKBACK)
    ready = ~np.isnan(z)
    assert np.count_nonzero(ready) == len(a) - LOOKBACK + 1
    # no z lies so close to a threshold that rounding could decide the signal
    for level in (ENTRY, EXIT):
        assert np.min(np.abs(np.abs(z[ready]) - level)) > 1e-6
    # the rules, replayed on the independent z: side s, fixed leg quantities while in a trade
    expected: list[tuple[int, str, OrderSide, float, float]] = []
    s, qa, qb = 0, 0.0, 0.0
    for i in np.flatnonzero(ready[:-1]):  # a signal on the last bar cannot fill
        if abs(z[i]) < EXIT:
            new = 0
        elif z[i] > ENTRY:
            new = -1
        elif z[i] < -ENTRY:
            new = 1
        else:
            new = s
        if new == s:
            continue
        ta = new * SIZE
        lots_b = math.floor(abs(beta[i]) * SIZE / LOT + 1e-9) * LOT
        tb = -new * math.copysign(lots_b, beta[i]) if new else 0.0
        for iid, bars, held, target in ((BTC, a, qa, ta), (ETH, b, qb, tb)):
            side = OrderSide.BUY if target > held else OrderSide.SELL
            expected.append((int(bars.ts[i + 1]), iid, side, abs(target - held), bars.open[i + 1]))
        s, qa, qb = new, ta, tb
    got = [(f.ts_event, f.instrument_id, f.side, f.last_qty, f.last_px) for f in fills]
    assert len(expected) >= 40  # a real test: many entries, exits and reversals
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g[:3] == e[:3]
        assert g[3] == pytest.approx(e[3], abs=1.5 * LOT)  # the beta of two methods may differ
        assert g[4] == e[4]  # in the last digit, and with it one lot of the B leg's rounding
    # both directions and both exits were exercised
    sides = {(g[1], g[2]) for g in got}
    assert len(sides) == 4


def test_bars_are_paired_by_open_time() -> None:
    """A bar without a partner (ETH misses minute 3) is left out of the window."""
    t0 = 1_704_067_200 * 10**9
    minute = 60 * 10**9
    n = 8
    close_a = np.array([100.0, 101.0, 102.0, 103.0, 104.0, 110.0, 104.0, 105.0])
    close_b = np.array([50.0, 50.6, 51.0, 51.4, 52.1, 52.0, 52.2, 52.4])
    keep = np.arange(n) != 3
    ts = t0 + np.arange(n, dtype=np.int64) * minute

    def bars(close: np.ndarray, mask: np.ndarray) -> OHLCV:
        c = close[mask]
        return OHLCV(ts[mask], c, c + 0.5, c - 0.5, c, np.full(len(c), 1e3), "hand-made")

    fills = _run(
        bars(close_a, np.ones(n, bool)),
        bars(close_b, keep),
        step="1m",
        lookback=5,
        entry_z=1.5,
        exit_z=0.1,
        size=1.0,
    )
    # the window at minute 5 holds minutes 0, 1, 2, 4, 5: z is computed on those pairs only
    beta, z = spread_zscore(close_a[keep][:5], close_b[keep][:5])
    assert z > 1.5
    got = [(f.ts_event, f.instrument_id, f.side, f.last_qty) for f in fills]
    lots_b = math.floor(beta / LOT + 1e-9) * LOT
    assert got[:2] == [
        (int(ts[6]), BTC, OrderSide.SELL, 1.0),
        (int(ts[6]), ETH, OrderSide.BUY, pytest.approx(lots_b, abs=LOT)),
    ]
