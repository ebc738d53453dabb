"""Bars to longer bars: the batch resample equals the streaming aggregator, and resampling the
real 1-minute bars gives Binance's own hourly bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.data.aggregation import TimeBarAggregator
from ttquant.data.bars import load_ohlcv
from ttquant.data.batch_aggregation import resample_bars
from ttquant.data.schema import bar_frame
from ttquant.model.data import Bar, BarType

M = 60_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
ONE = BarType.time("X@SIM", "1m")


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(1, 1000), st.floats(0, 50), st.booleans(), st.booleans()),
        max_size=80,
    ),
    st.sampled_from(["5m", "15m", "1h"]),
)
def test_batch_resample_equals_streaming_then_flush(
    rows: list[tuple[float, float, bool, bool]], target_step: str
) -> None:
    bars = [
        Bar(ONE, c, c + 1.0, c - 1.0, c, v, T0 + i * M, T0 + (i + 1) * M, complete)
        for i, (c, v, keep, complete) in enumerate(rows)
        if keep
    ]
    target = BarType.time("X@SIM", target_step)
    out: list[Bar] = []
    agg = TimeBarAggregator(ONE, target, out.append)
    for bar in bars:
        agg.handle_bar(bar)
    agg.flush()
    batch = resample_bars(bar_frame(bars), target.step)
    assert list(batch.iter_rows()) == list(bar_frame(out).iter_rows())


def test_real_minutes_resample_to_binance_hours(shared_data: Path) -> None:
    minutes = load_ohlcv(shared_data / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz")
    hours = load_ohlcv(shared_data / "bars_1h_1d" / "binance_spot_BTCUSDT_1h_until2024.csv.gz")
    frame = pl.DataFrame(
        {
            "ts_event": minutes.ts,
            "ts_init": minutes.ts + M,
            "open": minutes.open,
            "high": minutes.high,
            "low": minutes.low,
            "close": minutes.close,
            "volume": minutes.volume,
            "complete": np.ones(len(minutes), dtype=bool),
        }
    )
    out = resample_bars(frame, 60 * M)
    expected = hours.slice_time(int(minutes.ts[0]), int(minutes.ts[-1]) + M)
    full = out.filter("complete")
    # the 2023-03-24 outage: 12:00 is cut short, 13:00 has no minute bar at all
    assert out.filter(~pl.col("complete"))["ts_event"].to_list() == [1_679_659_200 * 10**9]
    index = np.searchsorted(expected.ts, full["ts_event"].to_numpy())
    assert np.array_equal(expected.ts[index], full["ts_event"].to_numpy())
    for name in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(expected, name)[index], full[name].to_numpy()), name
    np.testing.assert_allclose(expected.volume[index], full["volume"].to_numpy(), rtol=1e-9)
    # every Binance hour is matched but that 12:00 hour (Binance has no 13:00 either)
    assert full.height == len(expected) - 1
