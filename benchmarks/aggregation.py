"""Tick aggregation rates: batch (numba over columns) and streaming (one call per tick).

The ticks are the shared real Binance spot BTC/USDT trades, repeated end to end with their times
shifted so that the stream keeps moving forward, up to ``--ticks`` for the batch run; the streaming
run takes the first ``--stream-ticks``. Bars: 1-minute time bars and 100-tick bars. Targets
(issue 5): batch >= 20M ticks/s, streaming >= 1M ticks/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

from ttquant.data.aggregation import trade_bar_aggregator
from ttquant.data.batch_aggregation import aggregate_trades
from ttquant.model.data import Bar, BarType
from ttquant.model.enums import BarAggregation

TICKS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "ticks"
    / "binance_BTC_trades_20240808-09.csv.gz"
)
BAR_TYPES = {
    "1m time bars": BarType.time("BTC/USDT@BINANCE", "1m"),
    "100-tick bars": BarType("BTC/USDT@BINANCE", 100, BarAggregation.TICK),
    "10 BTC volume bars": BarType("BTC/USDT@BINANCE", 10, BarAggregation.VOLUME),
}


def real_ticks(n: int) -> pl.DataFrame:
    spot = (
        pl.read_csv(TICKS, schema_overrides={"price": pl.Float64, "qty": pl.Float64})
        .filter(pl.col("market") == "spot")
        .sort("trade_ts_ms", maintain_order=True)
    )
    ts = spot["trade_ts_ms"].to_numpy().astype(np.int64) * 1_000_000
    span = int(ts[-1] - ts[0]) + 1_000_000
    copies = -(-n // len(ts))
    shifted = (ts[None, :] + span * np.arange(copies)[:, None]).ravel()[:n]
    return pl.DataFrame(
        {
            "ts_event": shifted,
            "price": np.tile(spot["price"].to_numpy(), copies)[:n],
            "size": np.tile(spot["qty"].to_numpy(), copies)[:n],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000_000)
    parser.add_argument("--stream-ticks", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ticks = real_ticks(args.ticks)
    print(f"{ticks.height:,} real spot BTC/USDT trades (tiled)")
    for name, bar_type in BAR_TYPES.items():
        aggregate_trades(ticks.head(1000), bar_type)  # compile
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            bars = aggregate_trades(ticks, bar_type)
            times.append(time.perf_counter() - start)
        rate = ticks.height / min(times)
        print(f"batch     {name:<20} {rate / 1e6:7.1f} M ticks/s  ({bars.height:,} bars)")
    head = ticks.head(args.stream_ticks)
    ts, px, sz = (head[c].to_list() for c in ("ts_event", "price", "size"))
    for name, bar_type in BAR_TYPES.items():
        out: list[Bar] = []
        times = []
        for _ in range(args.repeat):
            out.clear()
            agg = trade_bar_aggregator(bar_type, out.append)
            update = agg.update
            start = time.perf_counter()
            for t, p, s in zip(ts, px, sz, strict=True):
                update(t, p, s)
            times.append(time.perf_counter() - start)
        rate = len(ts) / min(times)
        print(f"streaming {name:<20} {rate / 1e6:7.2f} M ticks/s  ({len(out):,} bars)")


if __name__ == "__main__":
    main()
