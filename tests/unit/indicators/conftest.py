"""Real bars for the indicator tests, read from the shared data folder next to the repository."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"

Bars = dict[str, np.ndarray]


def _require(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.fail(
            f"test data {path} is missing: the shared data folder must sit next to the repo"
        )
    return path


def _btc() -> Bars:
    df = pl.read_csv(_require("bars_1m/binance_spot_BTCUSDT_1m_2022-2024.csv.gz"), n_rows=20_000)
    bars = {
        k: df[k].to_numpy().astype(np.float64) for k in ("open", "high", "low", "close", "volume")
    }
    bars["ts_event"] = df["ts"].to_numpy().astype(np.int64) * 1_000_000
    return bars


def _spy() -> Bars:
    df = pl.read_csv(_require("equities_daily/lean_SPY_daily.csv.gz"))
    bars = {
        k: df[k].to_numpy().astype(np.float64) for k in ("open", "high", "low", "close", "volume")
    }
    bars["ts_event"] = (
        df["date"].str.to_datetime("%Y-%m-%d").dt.epoch("ns").to_numpy().astype(np.int64)
    )
    return bars


def _eurusd() -> Bars:
    df = pl.read_csv(_require("fx/lean_oanda_EURUSD_hour.csv.gz"), n_rows=20_000)
    bars = {
        k: df[f"bid_{k}"].to_numpy().astype(np.float64) for k in ("open", "high", "low", "close")
    }
    bars["ts_event"] = (
        df["datetime"].str.to_datetime("%Y-%m-%d %H:%M").dt.epoch("ns").to_numpy().astype(np.int64)
    )
    return bars


LOADERS = {"btc_1m": _btc, "spy_daily": _spy, "eurusd_1h": _eurusd}


@pytest.fixture(scope="session")
def datasets() -> dict[str, Bars]:
    return {name: load() for name, load in LOADERS.items()}
