"""Good files load to the right numbers, checked against independent readers.

References: the stdlib ``csv``/``gzip``/``datetime`` modules, pandas and the facts documented in
shared/data/README.md (row counts, gaps), never ttquant's own earlier output.
"""

from __future__ import annotations

import csv
import gzip
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.data.bars import OHLCV, infer_step_ns, load_ohlcv
from ttquant.model.data import format_step

MINUTE_NS = 60 * 10**9
DAY_NS = 86_400 * 10**9


def ns(dt: datetime) -> int:
    """Epoch ns of an aware datetime, exact (no float rounding)."""
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def assert_well_formed(bars: OHLCV) -> None:
    assert bars.ts.dtype == np.int64
    for arr in (bars.open, bars.high, bars.low, bars.close, bars.volume):
        assert arr.dtype == np.float64
        assert arr.flags.c_contiguous
        assert arr.shape == bars.ts.shape
        assert not arr.flags.writeable
    assert not bars.ts.flags.writeable


@pytest.fixture(scope="module")
def btc_path(shared_data: Path) -> Path:
    return shared_data / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"


@pytest.fixture(scope="module")
def btc(btc_path: Path) -> OHLCV:
    return load_ohlcv(btc_path)


def test_btc_1m_matches_stdlib_reader(btc: OHLCV, btc_path: Path) -> None:
    with gzip.open(btc_path, "rt", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["ts", "open", "high", "low", "close", "volume"]
        head = [next(reader) for _ in range(1000)]
        tail = deque(reader, maxlen=1000)
    assert_well_formed(btc)
    assert len(btc) == 1_578_160  # README / MANIFEST
    for rows, offset in ((head, 0), (list(tail), len(btc) - 1000)):
        expected = np.array([[float(x) for x in r[1:]] for r in rows])
        got = np.column_stack([btc.open, btc.high, btc.low, btc.close, btc.volume])
        np.testing.assert_array_equal(got[offset : offset + 1000], expected)
        ts = np.array([int(r[0]) * 1_000_000 for r in rows], dtype=np.int64)
        np.testing.assert_array_equal(btc.ts[offset : offset + 1000], ts)
    assert btc.ts[0] == ns(datetime(2022, 1, 1, tzinfo=UTC))
    assert btc.ts[-1] == ns(datetime(2024, 12, 31, 23, 59, tzinfo=UTC))
    assert btc.source == str(btc_path)


def test_btc_step_is_one_minute_despite_the_outage_gap(btc: OHLCV) -> None:
    assert infer_step_ns(btc.ts) == MINUTE_NS
    assert format_step(infer_step_ns(btc.ts)) == "1m"
    gaps = np.flatnonzero(np.diff(btc.ts) != MINUTE_NS)
    assert gaps.tolist() == [gaps[0]]  # README: exactly one gap, 2023-03-24 12:40 to 13:59
    before, after = btc.ts[gaps[0]], btc.ts[gaps[0] + 1]
    assert before == ns(datetime(2023, 3, 24, 12, 39, tzinfo=UTC))
    assert (after - before) // MINUTE_NS == 81  # 80 bars missing


def test_backtesting_py_goog_matches_pandas(shared_data: Path) -> None:
    path = shared_data / "bars_misc" / "backtesting_py" / "GOOG.csv"
    bars = load_ohlcv(path)  # unnamed first column with ISO dates, capitalised names
    ref = pd.read_csv(path, index_col=0, parse_dates=True)
    assert_well_formed(bars)
    assert len(bars) == len(ref) == 2148
    index = pd.DatetimeIndex(ref.index)
    expected_ts = index.tz_localize("UTC").as_unit("ns").asi8
    np.testing.assert_array_equal(bars.ts, expected_ts)
    for name in ("Open", "High", "Low", "Close", "Volume"):
        np.testing.assert_array_equal(getattr(bars, name.lower()), ref[name].to_numpy(float))
    assert bars.ts[0] == ns(datetime(2004, 8, 19, tzinfo=UTC))
    assert format_step(infer_step_ns(bars.ts)) == "1d"


def test_lean_spy_daily_matches_stdlib_reader(shared_data: Path) -> None:
    path = shared_data / "equities_daily" / "lean_SPY_daily.csv.gz"
    bars = load_ohlcv(path)
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(bars) == len(rows) == 5849
    days = [datetime.strptime(r["date"], "%Y-%m-%d").replace(tzinfo=UTC) for r in rows]
    np.testing.assert_array_equal(bars.ts, [ns(d) for d in days])
    np.testing.assert_array_equal(bars.close, [float(r["close"]) for r in rows])
    np.testing.assert_array_equal(bars.volume, [float(r["volume"]) for r in rows])
    # Weekends and the 2001-09-11..14 closure are gaps; the step is still one day.
    assert infer_step_ns(bars.ts) == DAY_NS
    i = int(np.searchsorted(bars.ts, ns(datetime(2001, 9, 10, tzinfo=UTC))))
    assert bars.ts[i + 1] - bars.ts[i] == 7 * DAY_NS


def test_hourly_file_with_many_gaps_is_still_hourly(shared_data: Path) -> None:
    bars = load_ohlcv(shared_data / "bars_1h_1d" / "binance_spot_BTCUSDT_1h_until2024.csv.gz")
    assert len(bars) == 64_525
    assert format_step(infer_step_ns(bars.ts)) == "1h"
    missing_hours = (np.diff(bars.ts) // (3_600 * 10**9) - 1).sum()
    assert missing_hours == 127  # README: 28 gaps, 127 missing hours


def test_file_without_volume_gets_zero_volume_and_offsets_are_honoured(
    shared_data: Path,
) -> None:
    path = shared_data / "fx" / "nautilus_fxcm" / "gbpusd-m1-bid-2012.csv.gz"
    bars = load_ohlcv(path)  # timestamps like "2012-02-01 00:00:00+00:00", no volume column
    assert_well_formed(bars)
    assert len(bars) == 30_117
    assert not bars.volume.any()
    assert bars.ts[0] == ns(datetime(2012, 2, 1, tzinfo=UTC))
    assert bars.open[0] == 1.57597
    assert format_step(infer_step_ns(bars.ts)) == "1m"


def test_local_time_column_with_timezone_equals_epoch_column(shared_data: Path) -> None:
    """tqsdk bars carry both a UTC ns epoch and the same instant as Shanghai wall-clock text."""
    path = shared_data / "china" / "futures_1m" / "tqsdk_SHFE.au1912_1m.csv.gz"
    by_epoch = load_ohlcv(path)  # picks the 'datetime' column (ns integers)
    by_local = load_ohlcv(path, timestamp_column="DT_CST", timezone="Asia/Shanghai")
    assert len(by_epoch) == 33_969
    np.testing.assert_array_equal(by_epoch.ts, by_local.ts)
    np.testing.assert_array_equal(by_epoch.close, by_local.close)


def test_naive_times_are_read_in_the_given_timezone(tmp_path: Path) -> None:
    path = tmp_path / "ny.csv"
    path.write_text(
        "Date,Open,High,Low,Close\n1998-01-02 09:00,1,2,0.5,1.5\n1998-07-02 09:00,1,2,1,1\n"
    )
    bars = load_ohlcv(path, timezone="America/New_York")
    ny = ZoneInfo("America/New_York")
    expected = [ns(datetime(1998, 1, 2, 9, tzinfo=ny)), ns(datetime(1998, 7, 2, 9, tzinfo=ny))]
    assert bars.ts.tolist() == expected
    assert expected[0] == ns(datetime(1998, 1, 2, 14, tzinfo=UTC))  # EST is UTC-5
    assert expected[1] == ns(datetime(1998, 7, 2, 13, tzinfo=UTC))  # EDT is UTC-4


def _write_units_file(path: Path, stamps: list[str]) -> Path:
    path.write_text("timestamp,open,high,low,close,volume\n")
    with path.open("a") as f:
        for i, stamp in enumerate(stamps):
            f.write(f"{stamp},{10 + i},{11 + i},{9 + i},{10.5 + i},{i}\n")
    return path


def _spellings(moments: list[datetime]) -> dict[str, list[str]]:
    """The same whole-second instants written in every supported way, from the datetime module."""
    seconds = [int((m - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) for m in moments]
    plus2 = ZoneInfo("Etc/GMT-2")  # POSIX sign: this is UTC+02:00
    return {
        "s": [str(s) for s in seconds],
        "ms": [str(s * 10**3) for s in seconds],
        "us": [str(s * 10**6) for s in seconds],
        "ns": [str(s * 10**9) for s in seconds],
        "iso Z": [m.strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments],
        "iso naive": [m.strftime("%Y-%m-%d %H:%M:%S") for m in moments],
        "iso +02:00": [m.astimezone(plus2).isoformat() for m in moments],
    }


@pytest.mark.parametrize("spelling", ["s", "ms", "us", "ns", "iso Z", "iso naive", "iso +02:00"])
def test_every_timestamp_spelling_gives_the_same_ns(tmp_path: Path, spelling: str) -> None:
    moments = [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 1, tzinfo=UTC)]
    path = _write_units_file(tmp_path / "t.csv", _spellings(moments)[spelling])
    assert load_ohlcv(path).ts.tolist() == [1_704_067_200 * 10**9, 1_704_067_260 * 10**9]


@settings(max_examples=25, deadline=None)
@given(
    start=st.datetimes(datetime(1975, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
    gaps=st.lists(st.integers(1, 10**7), min_size=1, max_size=20),
)
def test_spellings_agree_for_any_instants(
    tmp_path_factory: pytest.TempPathFactory, start: datetime, gaps: list[int]
) -> None:
    start = start.replace(microsecond=0)
    moments = [start]
    for gap in gaps:
        moments.append(moments[-1] + timedelta(seconds=gap))
    expected = [ns(m) for m in moments]
    folder = tmp_path_factory.mktemp("units")
    for name, stamps in _spellings(moments).items():
        got = load_ohlcv(_write_units_file(folder / "t.csv", stamps)).ts.tolist()
        assert got == expected, name


def test_explicit_unit_overrides_magnitude_detection(tmp_path: Path) -> None:
    path = _write_units_file(tmp_path / "t.csv", ["1", "2", "3"])
    assert load_ohlcv(path).ts.tolist() == [10**9, 2 * 10**9, 3 * 10**9]
    assert load_ohlcv(path, timestamp_unit="ms").ts.tolist() == [10**6, 2 * 10**6, 3 * 10**6]


def test_parquet_round_trip_with_each_timestamp_type(tmp_path: Path, shared_data: Path) -> None:
    csv_path = shared_data / "bars_1h_1d" / "binance_spot_SUIUSDT_1d_until2024.csv.gz"
    ref = pd.read_csv(csv_path)  # ts in epoch ms
    from_csv = load_ohlcv(csv_path)
    variants = {
        "int ms": ref,
        "aware datetime": ref.assign(ts=pd.to_datetime(ref["ts"], unit="ms", utc=True)),
        "naive datetime": ref.assign(ts=pd.to_datetime(ref["ts"], unit="ms")),
        "iso text": ref.assign(
            ts=pd.to_datetime(ref["ts"], unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    }
    for name, frame in variants.items():
        path = tmp_path / f"{name.replace(' ', '_')}.parquet"
        frame.to_parquet(path, index=False)
        bars = load_ohlcv(path)
        assert_well_formed(bars)
        np.testing.assert_array_equal(bars.ts, ref["ts"].to_numpy() * 1_000_000, err_msg=name)
        np.testing.assert_array_equal(bars.ts, from_csv.ts, err_msg=name)
        for column in ("open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(bars, column), ref[column], err_msg=name)


def test_parquet_written_by_pandas_with_unnamed_datetime_index(
    tmp_path: Path, shared_data: Path
) -> None:
    ref = pd.read_csv(
        shared_data / "bars_misc" / "backtesting_py" / "GOOG.csv", index_col=0, parse_dates=True
    )
    path = tmp_path / "goog.parquet"
    ref.to_parquet(path)  # the index becomes a column named __index_level_0__
    bars = load_ohlcv(path)
    np.testing.assert_array_equal(bars.ts, pd.DatetimeIndex(ref.index).as_unit("ns").asi8)
    np.testing.assert_array_equal(bars.close, ref["Close"].to_numpy())


def test_parquet_date_column(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pl.DataFrame(
        {
            "date": [datetime(2024, 1, 1).date(), datetime(2024, 1, 2).date()],
            "open": [1.0, 2.0],
            "high": [2.0, 3.0],
            "low": [0.5, 1.0],
            "close": [1.5, 2.5],
        }
    ).write_parquet(path)
    assert load_ohlcv(path).ts.tolist() == [1_704_067_200 * 10**9, 1_704_153_600 * 10**9]


def test_slice_time_is_half_open(btc: OHLCV) -> None:
    start, end = (
        ns(datetime(2023, 3, 24, 12, tzinfo=UTC)),
        ns(datetime(2023, 3, 24, 15, tzinfo=UTC)),
    )
    part = btc.slice_time(start, end)
    assert part.ts[0] == start
    assert part.ts[-1] == end - MINUTE_NS
    assert len(part) == 180 - 80  # three hours minus the 80-minute outage
    assert np.shares_memory(part.close, btc.close)  # a view, not a copy
    assert len(btc.slice_time(None, btc.ts[0])) == 0
    assert len(btc.slice_time(btc.ts[-1], None)) == 1
    assert len(btc.slice_time(end, start)) == 0


@settings(max_examples=50, deadline=None)
@given(
    ts=st.lists(st.integers(-(10**12), 10**12), min_size=0, max_size=40, unique=True).map(sorted),
    start=st.none() | st.integers(-(2 * 10**12), 2 * 10**12),
    end=st.none() | st.integers(-(2 * 10**12), 2 * 10**12),
)
def test_slice_time_keeps_exactly_the_bars_in_range(
    ts: list[int], start: int | None, end: int | None
) -> None:
    n = len(ts)
    values = np.arange(n, dtype=np.float64)
    bars = OHLCV(np.array(ts, dtype=np.int64), values, values, values, values, values, "mem")
    part = bars.slice_time(start, end)
    expected = [t for t in ts if (start is None or t >= start) and (end is None or t < end)]
    assert part.ts.tolist() == expected
    assert part.close.tolist() == [float(ts.index(t)) for t in expected]
    assert part.source == "mem"


def test_columns_are_found_by_name_in_any_order_and_case(tmp_path: Path) -> None:
    path = tmp_path / "shuffled.csv"
    path.write_text(
        "Volume,CLOSE,extra,Low,High,Open,Date\n5,1.5,x,0.5,2,1,2024-01-01\n6,2.5,y,1,3,2,2024-01-02\n"
    )
    bars = load_ohlcv(path)
    assert bars.ts.tolist() == [1_704_067_200 * 10**9, 1_704_153_600 * 10**9]
    assert bars.open.tolist() == [1, 2]
    assert bars.high.tolist() == [2, 3]
    assert bars.low.tolist() == [0.5, 1]
    assert bars.close.tolist() == [1.5, 2.5]
    assert bars.volume.tolist() == [5, 6]
