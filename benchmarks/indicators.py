"""Indicator speed: streaming ns per update and vectorized bars/s against TA-Lib.

Run: ``python benchmarks/indicators.py [--rows N]``. Uses the first 1,000,000 one-minute BTCUSDT
bars from the shared data folder next to the repository.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import talib
from rich.console import Console
from rich.table import Table

import ttquant.indicators as ti

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"


def best_time(fn: Callable[[], Any], repeat: int = 5) -> float:
    fn()  # warm-up (numba compile / cache load)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def streaming_rows(bars: dict[str, np.ndarray], updates: int) -> list[tuple[str, float]]:
    h, lo, c = (bars[k][:updates].tolist() for k in ("high", "low", "close"))
    cases: list[tuple[str, Callable[[], Any]]] = []

    def closes(indicator: Any) -> Callable[[], None]:
        def run() -> None:
            indicator.reset()
            update = indicator.update
            for x in c:
                update(x)

        return run

    def hlc(indicator: Any) -> Callable[[], None]:
        def run() -> None:
            indicator.reset()
            update = indicator.update
            for a, b, x in zip(h, lo, c, strict=True):
                update(a, b, x)

        return run

    cases = [
        ("SMA(20)", closes(ti.SMA(20))),
        ("EMA(20)", closes(ti.EMA(20))),
        ("RSI(14)", closes(ti.RSI(14))),
        ("ATR(14)", hlc(ti.ATR(14))),
        ("MACD(12,26,9)", closes(ti.MACD(12, 26, 9))),
        ("BBANDS(20,2,2)", closes(ti.BBANDS(20, 2.0, 2.0))),
    ]
    empty = best_time(lambda: [None for _ in c], repeat=3)
    return [(name, (best_time(run, 3) - empty) / updates * 1e9) for name, run in cases]


def vectorized_rows(bars: dict[str, np.ndarray]) -> list[tuple[str, float, float]]:
    h, lo, c, v = (bars[k] for k in ("high", "low", "close", "volume"))
    pairs: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("SMA(20)", lambda: ti.sma(c, 20), lambda: talib.SMA(c, 20)),
        ("EMA(20)", lambda: ti.ema(c, 20), lambda: talib.EMA(c, 20)),
        ("WMA(20)", lambda: ti.wma(c, 20), lambda: talib.WMA(c, 20)),
        ("KAMA(30)", lambda: ti.kama(c, 30), lambda: talib.KAMA(c, 30)),
        ("RSI(14)", lambda: ti.rsi(c, 14), lambda: talib.RSI(c, 14)),
        ("MACD(12,26,9)", lambda: ti.macd(c), lambda: talib.MACD(c)),
        ("BBANDS(20)", lambda: ti.bbands(c, 20), lambda: talib.BBANDS(c, 20)),
        ("ATR(14)", lambda: ti.atr(h, lo, c, 14), lambda: talib.ATR(h, lo, c, 14)),
        ("ADX(14)", lambda: ti.adx(h, lo, c, 14), lambda: talib.ADX(h, lo, c, 14)),
        ("STOCH(5,3,3)", lambda: ti.stoch(h, lo, c), lambda: talib.STOCH(h, lo, c)),
        ("CCI(14)", lambda: ti.cci(h, lo, c, 14), lambda: talib.CCI(h, lo, c, 14)),
        ("MFI(14)", lambda: ti.mfi(h, lo, c, v, 14), lambda: talib.MFI(h, lo, c, v, 14)),
        ("SAR", lambda: ti.sar(h, lo), lambda: talib.SAR(h, lo)),
    ]
    n = len(c)
    return [(name, n / best_time(ours), n / best_time(ref)) for name, ours, ref in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=200_000, help="streaming updates timed")
    args = parser.parse_args()
    df = pl.read_csv(BTC, n_rows=args.rows)
    bars = {k: df[k].to_numpy().astype(np.float64) for k in ("high", "low", "close", "volume")}
    console = Console()

    table = Table(title=f"Streaming update cost ({args.updates:,} BTCUSDT 1m bars)")
    table.add_column("indicator")
    table.add_column("ns / update", justify="right")
    for name, ns in streaming_rows(bars, args.updates):
        table.add_row(name, f"{ns:,.0f}")
    console.print(table)

    table = Table(title=f"Vectorized throughput ({len(bars['close']):,} BTCUSDT 1m bars)")
    for column in ("indicator", "ttquant bars/s", "TA-Lib bars/s", "ttquant ms", "TA-Lib ms"):
        table.add_column(column, justify="right" if column != "indicator" else "left")
    n = len(bars["close"])
    for name, ours, ref in vectorized_rows(bars):
        table.add_row(
            name, f"{ours:,.0f}", f"{ref:,.0f}", f"{n / ours * 1e3:.2f}", f"{n / ref * 1e3:.2f}"
        )
    console.print(table)


if __name__ == "__main__":
    main()
