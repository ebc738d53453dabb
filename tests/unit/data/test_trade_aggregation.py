"""Ticks to bars: streaming and batch aggregators agree bit for bit, and both match by-hand
cases and an independent pandas resample of real trades."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.data.aggregation import TimeTradeBars, trade_bar_aggregator
from ttquant.data.batch_aggregation import aggregate_trades
from ttquant.model.data import Bar, BarType
from ttquant.model.enums import BarAggregation

S = 1_000_000_000
T0 = 1_704_067_200 * S  # 2024-01-01T00:00:00Z, a Monday
IID = "X@SIM"


def _stream(
    bar_type: BarType,
    ts: list[int],
    px: list[float],
    sz: list[float],
    end_ns: int | None = None,
    **kwargs: object,
) -> list[Bar]:
    out: list[Bar] = []
    agg = trade_bar_aggregator(bar_type, out.append, **kwargs)  # type: ignore[arg-type]
    for t, p, s in zip(ts, px, sz, strict=True):
        agg.update(t, p, s)
    agg.flush(end_ns)
    return out


def _batch(
    bar_type: BarType,
    ts: list[int],
    px: list[float],
    sz: list[float],
    end_ns: int | None = None,
    **kwargs: object,
) -> list[tuple[object, ...]]:
    frame = pl.DataFrame(
        {"ts_event": ts, "price": px, "size": sz},
        schema={"ts_event": pl.Int64, "price": pl.Float64, "size": pl.Float64},
    )
    bars = aggregate_trades(frame, bar_type, end_ns=end_ns, **kwargs)  # type: ignore[arg-type]
    return list(bars.iter_rows())


def _rows(bars: list[Bar]) -> list[tuple[object, ...]]:
    return [
        (b.ts_event, b.ts_init, b.open, b.high, b.low, b.close, b.volume, b.complete) for b in bars
    ]


def test_one_minute_bars_by_hand() -> None:
    m = 60 * S
    ts = [T0 + 1 * S, T0 + 20 * S, T0 + 59 * S, T0 + m + 5 * S, T0 + 3 * m]
    px = [10.0, 12.0, 9.0, 11.0, 13.0]
    sz = [1.0, 2.0, 3.0, 4.0, 5.0]
    bars = _stream(BarType.time(IID, "1m"), ts, px, sz)
    assert _rows(bars) == [
        (T0, T0 + m, 10.0, 12.0, 9.0, 9.0, 6.0, True),
        (T0 + m, T0 + 2 * m, 11.0, 11.0, 11.0, 11.0, 4.0, True),  # minute 2 had no trade: no bar
        (T0 + 3 * m, T0 + 4 * m, 13.0, 13.0, 13.0, 13.0, 5.0, False),  # cut by the end of data
    ]
    assert _batch(BarType.time(IID, "1m"), ts, px, sz) == _rows(bars)


def test_the_last_window_is_complete_when_the_data_is_known_past_its_end() -> None:
    ts, px, sz = [T0 + S], [1.0], [1.0]
    bar_type = BarType.time(IID, "1m")
    (bar,) = _stream(bar_type, ts, px, sz, end_ns=T0 + 60 * S)
    assert bar.complete
    assert _batch(bar_type, ts, px, sz, end_ns=T0 + 60 * S)[0][-1] is True
    (late,) = _stream(bar_type, ts, px, sz, start_ns=T0 + S // 2)  # known only from mid-window
    assert not late.complete


def test_tick_volume_and_value_bars_by_hand() -> None:
    ts = [T0 + i * S for i in range(5)]
    px = [10.0, 20.0, 10.0, 30.0, 10.0]
    sz = [1.0, 1.0, 3.0, 1.0, 1.0]
    ticks = _stream(BarType(IID, 2, BarAggregation.TICK), ts, px, sz)
    assert [(b.open, b.close, b.volume, b.complete) for b in ticks] == [
        (10.0, 20.0, 2.0, True),
        (10.0, 30.0, 4.0, True),
        (10.0, 10.0, 1.0, False),
    ]
    volume = _stream(BarType(IID, 4, BarAggregation.VOLUME), ts, px, sz)
    # 1 + 1 + 3 = 5 >= 4 closes the first bar with the third tick (ticks are never split)
    assert [(b.ts_event, b.ts_init, b.high, b.volume, b.complete) for b in volume] == [
        (T0, T0 + 2 * S, 20.0, 5.0, True),
        (T0 + 3 * S, T0 + 4 * S, 30.0, 2.0, False),
    ]
    value = _stream(BarType(IID, 50, BarAggregation.VALUE), ts, px, sz)
    # values 10, 20, 30 -> 60 >= 50 closes; then 30, 10 -> 40 stays open
    assert [(b.close, b.volume, b.complete) for b in value] == [
        (10.0, 5.0, True),
        (10.0, 2.0, False),
    ]


def test_a_late_tick_joins_the_open_bar_and_never_reopens_a_published_one() -> None:
    m = 60 * S
    bars = _stream(
        BarType.time(IID, "1m"), [T0 + m + S, T0 + 10 * S, T0 + 2 * m], [5.0, 1.0, 7.0], [1.0] * 3
    )
    assert [(b.ts_event, b.low, b.volume) for b in bars] == [
        (T0 + m, 1.0, 2.0),
        (T0 + 2 * m, 7.0, 1.0),
    ]


def test_close_until_publishes_a_window_at_its_end() -> None:
    out: list[Bar] = []
    agg = TimeTradeBars(BarType.time(IID, "1m"), out.append)
    agg.update(T0 + S, 1.0, 1.0)
    agg.close_until(T0 + 59 * S)
    assert out == []
    agg.close_until(T0 + 60 * S)
    assert [(b.ts_event, b.complete) for b in out] == [(T0, True)]
    agg.update(T0 + 30 * S, 2.0, 1.0)  # late: starts the next window, not the published one
    agg.flush(T0 + 120 * S)
    assert [b.ts_event for b in out] == [T0, T0 + 60 * S]


def test_daily_bars_on_new_york_days_across_daylight_saving() -> None:
    h = 3600 * S
    # 2024-03-10 New York springs forward: that local day lasts 23 hours
    day_start = 1_710_046_800 * S  # 2024-03-10T00:00-05:00
    ts = [day_start + h, day_start + 22 * h + 30 * 60 * S, day_start + 23 * h + S]
    bars = _stream(
        BarType.time(IID, "1d"), ts, [1.0, 2.0, 3.0], [1.0] * 3, timezone="America/New_York"
    )
    assert [(b.ts_event, b.ts_init - b.ts_event) for b in bars] == [
        (day_start, 23 * h),
        (day_start + 23 * h, 24 * h),
    ]
    assert _batch(
        BarType.time(IID, "1d"), ts, [1.0, 2.0, 3.0], [1.0] * 3, timezone="America/New_York"
    ) == _rows(bars)


def test_time_zone_needs_whole_days_and_threshold_bars_refuse_it() -> None:
    with pytest.raises(ConfigError, match="whole days"):
        trade_bar_aggregator(BarType.time(IID, "1h"), print, timezone="Asia/Shanghai")
    with pytest.raises(ConfigError, match="applies to time bars"):
        trade_bar_aggregator(BarType(IID, 10, BarAggregation.TICK), print, timezone="Asia/Shanghai")


_BAR_TYPES = [
    BarType.time(IID, "1s"),
    BarType.time(IID, "7s"),
    BarType.time(IID, "1m"),
    BarType.time(IID, "1w"),
    BarType(IID, 3, BarAggregation.TICK),
    BarType(IID, 5, BarAggregation.VOLUME),
    BarType(IID, 300, BarAggregation.VALUE),
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_BAR_TYPES),
    st.lists(
        st.tuples(
            st.integers(-2 * S, 90 * S),  # mostly forward steps, some late ticks
            st.floats(0.01, 1000, allow_nan=False),
            st.floats(0.001, 10, allow_nan=False),
        ),
        max_size=80,
    ),
    st.booleans(),
)
def test_streaming_equals_batch_on_random_tick_streams(
    bar_type: BarType, steps: list[tuple[int, float, float]], known_to_end: bool
) -> None:
    ts = list(np.cumsum([T0] + [d for d, _, _ in steps])[1:]) if steps else []
    px = [p for _, p, _ in steps]
    sz = [s for _, _, s in steps]
    end = (
        (max(ts) + 10**15)
        if ts and known_to_end and bar_type.aggregation is BarAggregation.TIME
        else None
    )
    assert _batch(bar_type, ts, px, sz, end) == _rows(_stream(bar_type, ts, px, sz, end))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30 * 3600 * S), min_size=1, max_size=40),
    st.sampled_from(["America/New_York", "Asia/Shanghai", "Europe/London", "UTC"]),
    st.sampled_from([0, -7 * 3600 * S, 3 * 3600 * S]),
)
def test_streaming_equals_batch_on_exchange_days(
    offsets: list[int], zone: str, day_offset: int
) -> None:
    start = 1_710_000_000 * S  # early March 2024, around the US and EU clock changes
    ts = sorted(start + o * 24 for o in offsets)  # spread over about a month
    px = [float(i % 7 + 1) for i in range(len(ts))]
    sz = [1.0] * len(ts)
    bar_type = BarType.time(IID, "1d")
    kwargs: dict[str, Any] = {"timezone": zone, "day_offset": day_offset}
    streamed = _stream(bar_type, ts, px, sz, **kwargs)
    assert _batch(bar_type, ts, px, sz, **kwargs) == _rows(streamed)
    for bar in streamed:  # each day is 23, 24 or 25 hours long
        assert bar.ts_init - bar.ts_event in (23 * 3600 * S, 24 * 3600 * S, 25 * 3600 * S)


def _real_trades(shared_data: Path, market: str) -> pl.DataFrame:
    path = shared_data / "ticks" / "binance_BTC_trades_20240808-09.csv.gz"
    frame = pl.read_csv(path, schema_overrides={"price": pl.Float64, "qty": pl.Float64})
    return frame.filter(pl.col("market") == market).select(
        (pl.col("trade_ts_ms") * 1_000_000).alias("ts_event"),
        "price",
        pl.col("qty").alias("size"),
    )


@pytest.mark.parametrize("market", ["spot", "usdm", "cm"])
@pytest.mark.parametrize(
    "bar_type",
    [
        BarType.time(IID, "1s"),
        BarType.time(IID, "1m"),
        BarType(IID, 100, BarAggregation.TICK),
        BarType(IID, 5, BarAggregation.VOLUME),
        BarType(IID, 250_000, BarAggregation.VALUE),
    ],
    ids=str,
)
def test_streaming_equals_batch_on_real_trades(
    shared_data: Path, market: str, bar_type: BarType
) -> None:
    trades = _real_trades(shared_data, market)
    ts, px, sz = (trades[c].to_list() for c in ("ts_event", "price", "size"))
    assert _batch(bar_type, ts, px, sz) == _rows(_stream(bar_type, ts, px, sz))


def test_minute_bars_of_real_trades_match_a_pandas_resample(shared_data: Path) -> None:
    with gzip.open(shared_data / "ticks" / "binance_BTC_trades_20240808-09.csv.gz", "rt") as f:
        raw = pd.read_csv(f)
    spot = raw[raw["market"] == "spot"].sort_values("trade_ts_ms", kind="stable")
    ts = pd.to_datetime(spot["trade_ts_ms"], unit="ms", utc=True)
    expected = spot.set_index(ts)["price"].resample("1min").ohlc().dropna()
    volume = spot.set_index(ts)["qty"].resample("1min").sum()
    trades = _real_trades(shared_data, "spot").sort("ts_event", maintain_order=True)
    bars = aggregate_trades(trades, BarType.time(IID, "1m"))
    assert bars["ts_event"].to_list() == [int(t.value) for t in expected.index]
    for column in ("open", "high", "low", "close"):
        assert bars[column].to_list() == expected[column].to_list()
    np.testing.assert_allclose(
        bars["volume"].to_numpy(), volume.loc[expected.index].to_numpy(), rtol=1e-12
    )
    assert bars["complete"].to_list() == [True] * (bars.height - 1) + [False]
