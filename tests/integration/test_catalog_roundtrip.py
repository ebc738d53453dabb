"""Acceptance: import → catalog → query keeps every row of the shared 1-minute bars and trade
ticks, checked against the files read independently (pandas, the csv module)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ttquant.data.catalog import Catalog
from ttquant.data.importers import ImportOptions, import_file
from ttquant.data.schema import DataType

MS = 1_000_000
MARKETS = {"spot": "BTC/USDT@BINANCE", "usdm": "BTC/USDT:USDT@BINANCE", "cm": "BTC/USD:BTC@BINANCE"}


@pytest.mark.parametrize("name", ["BTCUSDT_1m_2022-2024", "SUIUSDT_1m_2024"])
def test_every_shared_minute_bar_survives(tmp_path: Path, shared_data: Path, name: str) -> None:
    path = shared_data / "bars_1m" / f"binance_spot_{name}.csv.gz"
    symbol = name.split("_", maxsplit=1)[0].replace("USDT", "/USDT")
    catalog = Catalog(tmp_path)
    for item in import_file(path, ImportOptions(symbol=symbol, venue="BINANCE", data_type="bars")):
        catalog.write(item.instrument, item.data_type, item.frame)
    stored = catalog.read(f"{symbol}@BINANCE", DataType.bars("1m"))
    expected = pd.read_csv(path)  # an independent parser
    assert stored.height == len(expected)
    assert np.array_equal(stored["ts_event"].to_numpy(), expected["ts"].to_numpy() * MS)
    for column in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(stored[column].to_numpy(), expected[column].to_numpy()), column


def test_every_shared_trade_tick_survives(tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "ticks" / "binance_BTC_trades_20240808-09.csv.gz"
    catalog = Catalog(tmp_path)
    for item in import_file(path):
        catalog.write(item.instrument, item.data_type, item.frame)
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    total = 0
    for market, instrument in MARKETS.items():
        expected = sorted(
            (
                int(r["trade_ts_ms"]) * MS,
                int(r["local_ts_ns"]),
                float(r["price"]),
                float(r["qty"]),
                2 if r["is_buyer_maker"] == "True" else 1,
                r["trade_id"],
            )
            for r in rows
            if r["market"] == market
        )
        got = sorted(catalog.read(instrument, DataType("trades")).rows())
        assert got == expected, market
        total += len(got)
    assert total == len(rows) == 46_452
