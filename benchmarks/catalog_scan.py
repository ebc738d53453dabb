"""Catalog scan: read all 1.5M real BTC/USDT 1-minute bars (2022-2024) back from the catalog.

Imports the shared CSV into a temporary catalog once (36 monthly Parquet files), then times, best
of ``--repeat``: a full read into a Polars frame, a read into the arrays a backtest takes
(``load_ohlcv``), a one-month range query, and streaming everything in 65,536-row batches.
Target (issue 5): a full scan under 0.2 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ttquant.data.catalog import Catalog
from ttquant.data.importers import ImportOptions, import_file
from ttquant.data.schema import DataType

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "bars_1m"
    / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
)
BTC = "BTC/USDT@BINANCE"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    bars = DataType.bars("1m")
    with tempfile.TemporaryDirectory(prefix="ttq_catalog_") as root:
        catalog = Catalog(root)
        start = time.perf_counter()
        (item,) = import_file(
            args.file, ImportOptions(symbol="BTC/USDT", venue="BINANCE", data_type="bars_1m")
        )
        parsed = time.perf_counter() - start
        start = time.perf_counter()
        catalog.write(BTC, bars, item.frame)
        written = time.perf_counter() - start
        rows = catalog.info(BTC, bars).rows
        month = (1_704_067_200 * 10**9, 1_706_745_600 * 10**9)  # 2024-01
        results = {
            "full scan to a Polars frame": best(lambda: catalog.read(BTC, bars), args.repeat),
            "full scan to backtest arrays (load_ohlcv)": best(
                lambda: catalog.load_ohlcv(BTC, "1m"), args.repeat
            ),
            "one month (44,640 bars)": best(lambda: catalog.read(BTC, bars, *month), args.repeat),
            "streamed in 65,536-row batches": best(
                lambda: sum(b.height for b in catalog.batches(BTC, bars)), args.repeat
            ),
        }
    print(f"{rows:,} bars; CSV import {parsed:.2f} s, catalog write {written:.2f} s")
    for name, seconds in results.items():
        print(f"{name:<45} {seconds * 1e3:8.1f} ms  {rows / seconds / 1e6:6.1f} M rows/s")


if __name__ == "__main__":
    main()
