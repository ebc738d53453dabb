"""The Parquet catalog: layout, atomic writes, deduplicating appends, range and streamed queries,
and backtests that take their bars from it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from tests.conftest import BTC_1M

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.catalog import Catalog
from ttquant.data.importers import ImportOptions, import_file
from ttquant.data.schema import DataType
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig
from ttquant.engine.runner import run_backtest

M = 60_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
BTC = "BTC/USDT@BINANCE"
ONE_MIN = DataType.bars("1m")


def _bars(start: int, n: int, price: float = 100.0, complete: bool = True) -> pl.DataFrame:
    ts = T0 + (start + np.arange(n, dtype=np.int64)) * M
    close = price + np.arange(n, dtype=np.float64)
    return pl.DataFrame(
        {
            "ts_event": ts,
            "ts_init": ts + M,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.ones(n),
            "complete": np.full(n, complete),
        }
    )


def test_layout_is_venue_instrument_type_period(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    result = catalog.write(BTC, ONE_MIN, _bars(0, 31 * 24 * 60 + 10))  # January + 10 minutes
    assert result.partitions == 2
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.parquet"))
    assert names == [
        "BINANCE/BTC%2FUSDT/bars_1m/2024-01.parquet",
        "BINANCE/BTC%2FUSDT/bars_1m/2024-02.parquet",
    ]
    assert catalog.instruments() == [BTC]
    assert catalog.data_types(BTC) == [ONE_MIN]


def test_appends_deduplicate_and_new_rows_win(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    catalog.write(BTC, ONE_MIN, _bars(0, 100, complete=True))
    # a re-download of the last 10 bars, the very last one still running
    update = _bars(90, 11, price=500.0).with_columns(pl.Series("complete", [True] * 10 + [False]))
    result = catalog.write(BTC, ONE_MIN, update)
    assert (result.rows, result.replaced) == (11, 10)
    stored = catalog.read(BTC, ONE_MIN)
    assert stored.height == 101
    assert stored["ts_event"].is_sorted() and stored["ts_event"].n_unique() == 101
    assert stored["close"].to_list()[90:] == [500.0 + i for i in range(11)]
    assert stored["complete"].to_list()[-1] is False
    catalog.write(BTC, ONE_MIN, _bars(100, 1, price=600.0))  # the bar closed: final values win
    assert catalog.read(BTC, ONE_MIN)["close"].to_list()[-1] == 600.0
    assert catalog.read(BTC, ONE_MIN)["complete"].all()


def test_trades_deduplicate_by_id_or_by_time_span(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    trades = DataType("trades")

    def frame(ids: list[str], ts: list[int]) -> pl.DataFrame:
        n = len(ts)
        return pl.DataFrame(
            {
                "ts_event": ts,
                "ts_init": ts,
                "price": [1.0] * n,
                "size": [1.0] * n,
                "aggressor": [1] * n,
                "trade_id": ids,
            }
        )

    catalog.write(BTC, trades, frame(["1", "2", "3"], [T0, T0 + 1, T0 + 2]))
    catalog.write(BTC, trades, frame(["3", "4"], [T0 + 2, T0 + 3]))
    assert catalog.read(BTC, trades)["trade_id"].to_list() == ["1", "2", "3", "4"]
    # no ids (equities): two identical trades in one batch are both real; a re-import of the
    # same span replaces it instead of doubling it
    spy = "SPY@ARCA"
    catalog.write(spy, trades, frame(["", "", ""], [T0, T0, T0 + 5]))
    catalog.write(spy, trades, frame(["", "", ""], [T0, T0, T0 + 5]))
    assert catalog.read(spy, trades).height == 3


def test_a_crash_while_writing_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = Catalog(tmp_path)
    catalog.write(BTC, ONE_MIN, _bars(0, 50))
    before = catalog.read(BTC, ONE_MIN)
    real_write = pl.DataFrame.write_parquet

    def crash_midway(self: pl.DataFrame, file: Path, **kwargs: object) -> None:
        Path(file).write_bytes(b"PAR1 half a file")  # what a killed process leaves behind
        raise OSError("killed")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash_midway)
    with pytest.raises(OSError, match="killed"):
        catalog.write(BTC, ONE_MIN, _bars(50, 10))
    monkeypatch.setattr(pl.DataFrame, "write_parquet", real_write)
    assert catalog.read(BTC, ONE_MIN).equals(before)
    folder = catalog.dataset_path(BTC, ONE_MIN)
    assert [p.name for p in folder.iterdir() if p.name != ".lock"] == ["2024-01.parquet"]


def _write_slice(root: str, start: int) -> None:
    Catalog(root).write(BTC, ONE_MIN, _bars(start, 2000))


def test_concurrent_writers_lose_no_rows(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_write_slice, args=(str(tmp_path), s)) for s in (0, 1500, 3000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stored = Catalog(tmp_path).read(BTC, ONE_MIN)
    assert stored["ts_event"].to_list() == (T0 + np.arange(5000) * M).tolist()


def test_range_queries_open_only_the_partitions_they_need(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    catalog.write(BTC, ONE_MIN, _bars(0, 60 * 24 * 70))  # Jan, Feb, part of March
    start, end = T0 + 40 * 24 * 60 * M, T0 + 41 * 24 * 60 * M  # 2024-02-10
    assert len(catalog._files_in_range(BTC, ONE_MIN, start, end)) == 1
    day = catalog.read(BTC, ONE_MIN, start, end)
    assert day["ts_event"].to_list() == list(range(start, end, M))
    ohlcv = catalog.load_ohlcv(BTC, "1m", start, end)
    assert np.array_equal(ohlcv.ts, day["ts_event"].to_numpy())
    assert catalog.read(BTC, ONE_MIN, T0 - 10 * M, T0).height == 0


def test_batches_stream_a_range_in_bounded_memory(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    n = 1_200_000
    for start in range(0, n, 400_000):
        catalog.write(BTC, ONE_MIN, _bars(start, 400_000))
    full_bytes = n * 8 * 8
    pool = pa.default_memory_pool()
    peak = 0
    total = 0
    previous = -1
    for chunk in catalog.batches(BTC, ONE_MIN, T0 + 5 * M, None, rows=50_000):
        assert chunk.height <= 50_000
        assert int(chunk["ts_event"][0]) > previous
        previous = int(chunk["ts_event"][-1])
        total += chunk.height
        peak = max(peak, pool.bytes_allocated())
        del chunk
    assert total == n - 5
    assert peak < full_bytes / 4, f"{peak:,} bytes held while streaming {full_bytes:,}"


def test_bad_frames_are_refused_with_the_column_named(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    with pytest.raises(DataError, match=r"missing column.*complete"):
        catalog.write(BTC, ONE_MIN, _bars(0, 3).drop("complete"))
    with pytest.raises(DataError, match="column close has missing values"):
        catalog.write(BTC, ONE_MIN, _bars(0, 3).with_columns(pl.lit(None).alias("close")))
    with pytest.raises(DataError, match="no bars_1m of BTC/USDT@BINANCE"):
        catalog.load_ohlcv(BTC, "1m")


def test_a_backtest_takes_its_bars_from_the_catalog(tmp_path: Path) -> None:
    (imported,) = import_file(
        BTC_1M, ImportOptions(symbol="BTC/USDT", venue="BINANCE", data_type="bars_1m")
    )
    january = imported.frame.filter(pl.col("ts_event") < 1_643_673_600 * 10**9)  # 2022-01
    Catalog(tmp_path).write(BTC, ONE_MIN, january)
    csv = tmp_path / "jan.csv"
    january.select(
        (pl.col("ts_event") // 1_000_000).alias("ts"), "open", "high", "low", "close", "volume"
    ).write_csv(csv)
    strategy = [StrategyConfig(name="sma_cross", params={"fast": 10, "slow": 30})]
    from_file = BacktestConfig(data=[DataConfig(file=str(csv))], strategies=strategy)
    from_catalog = BacktestConfig(
        data=[DataConfig(catalog=str(tmp_path), catalog_venue="BINANCE")], strategies=strategy
    )
    a, b = run_backtest(from_file), run_backtest(from_catalog)
    assert len(a.fills) > 100
    assert a.results_hash == b.results_hash
    with pytest.raises(ConfigError, match="give file = PATH or catalog = FOLDER"):
        run_backtest(BacktestConfig(data=[DataConfig()], strategies=strategy))
