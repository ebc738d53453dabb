"""Validation finds each kind of defect planted in real bars, at its timestamp; repair drops
duplicates and returns the gaps, inventing nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ttquant.data.importers import ImportOptions, import_file
from ttquant.data.schema import DataType
from ttquant.data.validation import find_gaps, repair, validate

ONE_MIN = DataType.bars("1m")


@pytest.fixture(scope="module")
def btc_2023_march(shared_data: Path) -> pl.DataFrame:
    (item,) = import_file(
        shared_data / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz",
        ImportOptions(symbol="BTC/USDT", venue="BINANCE", data_type="bars_1m"),
    )
    march = (1_677_628_800 * 10**9, 1_680_307_200 * 10**9)
    return item.frame.filter(pl.col("ts_event").is_between(march[0], march[1], closed="left"))


def test_real_data_has_only_its_known_outage(btc_2023_march: pl.DataFrame) -> None:
    report = validate(btc_2023_march, ONE_MIN)
    assert [str(i) for i in report.issues] == [
        "2023-03-24T12:40:00Z gap: 80 bar(s) missing until 2023-03-24T14:00:00Z"
    ]


def test_planted_defects_are_reported_at_their_times(btc_2023_march: pl.DataFrame) -> None:
    frame = btc_2023_march.with_row_index("i")
    close = frame["close"]
    ts = frame["ts_event"]
    planted = (
        frame.with_columns(
            # row 1000: close ten times higher for one minute and back (a bad tick)
            pl.when(pl.col("i") == 1000).then(close * 10).otherwise("close").alias("close"),
            pl.when(pl.col("i") == 1000).then(close * 10).otherwise("high").alias("high"),
            # row 2000: high below the open
            pl.when(pl.col("i") == 2000).then(pl.col("open") - 1).otherwise("high").alias("high2"),
            # row 3000: a zero low
            pl.when(pl.col("i") == 3000).then(0.0).otherwise("low").alias("low"),
        )
        .with_columns(pl.col("high2").alias("high"))
        .drop("high2", "i")
    )
    duplicated = pl.concat([planted, planted.slice(4000, 1)])
    report = validate(duplicated, ONE_MIN)
    found = {(i.kind, i.ts) for i in report.issues}
    assert ("spike", ts[1000]) in found
    assert ("ohlc", ts[2000]) in found
    assert ("price", ts[3000]) in found
    assert ("duplicate", ts[4000]) in found
    assert ("order", ts[4000]) in found  # the copy sits at the end, out of time order
    assert report.counts()["gap"] == 1


def test_repair_drops_duplicates_and_returns_gaps(btc_2023_march: pl.DataFrame) -> None:
    doubled = pl.concat([btc_2023_march, btc_2023_march.slice(10, 5)])
    fixed, gaps = repair(doubled, ONE_MIN)
    assert fixed.equals(btc_2023_march)
    assert gaps.rows() == [(1_679_661_600 * 10**9, 1_679_666_400 * 10**9, 80)]
    assert validate(fixed, ONE_MIN).counts() == {"gap": 1}


def test_gaps_by_hand() -> None:
    import numpy as np

    gaps = find_gaps(np.array([0, 1, 2, 5, 6, 10], dtype=np.int64), 1)
    assert gaps.rows() == [(3, 5, 2), (7, 10, 3)]


def test_trade_id_gaps(shared_data: Path) -> None:
    items = import_file(shared_data / "ticks" / "binance_BTC_trades_20240808-09.csv.gz")
    spot = next(i for i in items if i.instrument == "BTC/USDT@BINANCE")
    assert validate(spot.frame, spot.data_type).ok
    holed = spot.frame.filter(~pl.col("trade_id").is_in(["3735683300", "3735683301"]))
    (issue,) = validate(holed, spot.data_type).issues
    assert issue.kind == "gap" and "3735683300..3735683301 missing (2 trades)" in issue.detail
