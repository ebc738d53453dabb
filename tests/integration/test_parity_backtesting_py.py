"""Acceptance: the event-driven engine reproduces backtesting.py trade for trade.

SMA(10/30) long-only crossover, 1 unit, market orders filled at the next bar's open, on one
year (2022) of real Binance BTC/USDT 1-minute bars. backtesting.py is the independent
reference: its own SMA (pandas rolling mean), its own ``crossover`` and broker.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from tests.conftest import BTC_1M

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.instruments import spot
from ttquant.strategy.library.ma_cross import SMACross
from ttquant.venues.sim.models import FeeModel

CASH = 1_000_000.0
START_2022 = 1_640_995_200 * 10**9
END_2022 = 1_672_531_200 * 10**9


@pytest.fixture(scope="module")
def year_2022(shared_data: object) -> OHLCV:
    return load_ohlcv(BTC_1M).slice_time(START_2022, END_2022)


def _backtesting_py(bars: OHLCV, commission: float) -> tuple[pd.DataFrame, float]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            close = self.data.Close
            self.fast = self.I(lambda x: pd.Series(x).rolling(10).mean(), close)
            self.slow = self.I(lambda x: pd.Series(x).rolling(30).mean(), close)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                if not self.position:
                    self.buy(size=1)
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.ts, utc=True),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(
            frame, SmaCross, cash=CASH, commission=commission, finalize_trades=False
        ).run()
    return stats._trades, float(stats["Equity Final [$]"])


def _ttquant(bars: OHLCV, commission: float) -> tuple[BacktestEngine, float]:
    engine = BacktestEngine()
    engine.add_venue(
        "BINANCE",
        base_currency="USDT",
        starting_balances={"USDT": CASH},
        fee_model=FeeModel(maker=commission, taker=commission),
    )
    instrument = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(instrument)
    engine.add_ohlcv(BarType.time(instrument.id, "1m"), bars)
    engine.add_strategy(SMACross(fast=10, slow=30, long_only=True, size=1.0))
    curve = engine.run()
    return engine, float(curve.equity[-1])


def test_same_trades_and_final_equity_without_fees(year_2022: OHLCV) -> None:
    expected, expected_equity = _backtesting_py(year_2022, 0.0)
    engine, equity = _ttquant(year_2022, 0.0)
    trips = engine.cache.round_trips
    assert len(expected) > 10_000  # a real test: thousands of trades
    got = pd.DataFrame(
        {
            "EntryTime": [t.entry_ns for t in trips],
            "ExitTime": [t.exit_ns for t in trips],
            "EntryPrice": [t.entry_price for t in trips],
            "ExitPrice": [t.exit_price for t in trips],
        }
    )
    want = pd.DataFrame(
        {
            "EntryTime": expected["EntryTime"].astype("int64").to_numpy(),
            "ExitTime": expected["ExitTime"].astype("int64").to_numpy(),
            "EntryPrice": expected["EntryPrice"].to_numpy(),
            "ExitPrice": expected["ExitPrice"].to_numpy(),
        }
    )
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)
    # to the cent: both add the same prices, in a different order
    assert round(equity, 6) == round(expected_equity, 6)


def test_final_equity_with_10_bps_fees(year_2022: OHLCV) -> None:
    expected_trades, expected_equity = _backtesting_py(year_2022, 0.001)
    engine, equity = _ttquant(year_2022, 0.001)
    assert len(engine.cache.round_trips) == len(expected_trades)
    assert equity == pytest.approx(expected_equity, rel=1e-9)
    fees = np.array([t.fees for t in engine.cache.round_trips])
    np.testing.assert_allclose(fees, expected_trades["Commission"].to_numpy(), rtol=1e-9)
