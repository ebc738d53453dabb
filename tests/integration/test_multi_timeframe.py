"""A strategy on 1-minute data also trading hourly bars, aggregated by the kernel."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import talib
from tests.conftest import BTC_1M

from ttquant.core.errors import ConfigError
from ttquant.data.bars import load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.indicators import SMA
from ttquant.model.data import Bar, BarType
from ttquant.model.instruments import spot
from ttquant.strategy.strategy import Strategy

START = 1_672_531_200 * 10**9  # 2023-01-01
END = START + 10 * 86_400 * 10**9


class TwoFrames(Strategy):
    def on_start(self) -> None:
        self.hourly = self.bar_type(step="1h")
        self.sma = SMA(5)
        self.register_indicator(self.sma, self.hourly)
        self.subscribe_bars(self.bar_type())
        self.subscribe_bars(self.hourly)
        self.seen: list[tuple[str, int]] = []
        self.hour_bars: list[Bar] = []
        self.sma_values: list[float] = []

    def on_bar(self, bar: Bar) -> None:
        self.seen.append((str(bar.bar_type), bar.ts_init))
        if bar.bar_type == self.hourly:
            assert self.clock.timestamp_ns() == bar.ts_init  # delivered at its close
            self.hour_bars.append(bar)
            self.sma_values.append(self.sma.value)


def _engine(shared_data: object) -> tuple[BacktestEngine, pl.DataFrame]:
    bars = load_ohlcv(BTC_1M).slice_time(START, END)
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 10_000.0})
    inst = spot("BTC/USDT", "BINANCE")
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1m"), bars)
    frame = pl.DataFrame(
        {
            "ts": bars.ts,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )
    return engine, frame


def test_hourly_bars_equal_a_batch_resample_and_arrive_first(shared_data: object) -> None:
    engine, frame = _engine(shared_data)
    strategy = TwoFrames()
    engine.add_strategy(strategy)
    engine.run()
    hour = 3_600 * 10**9
    expected = (
        frame.with_columns((pl.col("ts") // hour * hour).alias("h"))
        .group_by("h", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
    )
    got = strategy.hour_bars
    assert len(got) == 240 == expected.height  # ten days, every hour closed by its last minute
    np.testing.assert_array_equal([b.ts_event for b in got], expected["h"].to_numpy())
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal([getattr(b, col) for b in got], expected[col].to_numpy())
    np.testing.assert_allclose([b.volume for b in got], expected["volume"].to_numpy(), rtol=1e-12)
    # the bound indicator followed the hourly closes (TA-Lib as the reference)
    reference = talib.SMA(expected["close"].to_numpy(), 5)
    np.testing.assert_allclose(strategy.sma_values[4:], reference[4:], rtol=1e-12)
    # at each full hour the hourly bar comes before the minute bar that closes it
    first_hour_close = int(expected["h"][0]) + hour
    at_close = [name for name, ts in strategy.seen if ts == first_hour_close]
    assert at_close == ["BTC/USDT@BINANCE:1h", "BTC/USDT@BINANCE:1m"]


class WantsSeconds(Strategy):
    def on_start(self) -> None:
        self.subscribe_bars(self.bar_type(step="30s"))


def test_a_bar_type_that_cannot_be_built_is_a_clear_error(shared_data: object) -> None:
    engine, _ = _engine(shared_data)
    engine.add_strategy(WantsSeconds())
    with pytest.raises(ConfigError, match="subscribed to BTC/USDT@BINANCE:30s bars, but no bars"):
        engine.run()
