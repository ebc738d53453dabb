"""Walk-forward throughput in one process and on Ray, with identical results.

Run: ``python benchmarks/walkforward_distributed.py [--months N] [--ray-address ADDR]``.
A rolling walk-forward (30-day in-sample, 10-day out-of-sample, a 4 x 3 grid of SMA cross
parameters) over the first N months of 2023 of the real one-minute BTCUSDT bars in the shared
data folder, event-driven backtests throughout. Each executor runs it in a fresh output folder;
the script checks that every output table is byte-identical and exits non-zero otherwise.
The time covers the whole job: loading the bars, starting (or reaching) Ray, every backtest,
the analysis and the report.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from ttquant.core.time import NANOS_PER_DAY
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.research.execution import ExecutionSettings
from ttquant.research.walkforward_job import WalkForwardJob, run_walkforward

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
GRID = {"fast": "10:40:10", "slow": "60:180:60"}


def job(data: Path, out: Path, execution: ExecutionSettings) -> WalkForwardJob:
    return WalkForwardJob(
        config=BacktestConfig(
            data=[DataConfig(file=str(data), symbol="BTC/USDT")],
            strategies=[StrategyConfig(name="sma_cross")],
            venue=VenueConfig(fee_bps=1.0),
        ),
        out=out,
        in_sample=30 * NANOS_PER_DAY,
        out_of_sample=10 * NANOS_PER_DAY,
        params=dict(GRID),
        chunk_size=3,
        execution=execution,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--ray-address", help="also run on this cluster")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        end_ms = 1_672_531_200_000 + args.months * 30 * 86_400_000  # from 2023-01-01
        data = root / "btcusdt_1m.csv"
        pl.read_csv(BTC).filter(
            pl.col("ts").is_between(1_672_531_200_000, end_ms, closed="left")
        ).write_csv(data)
        bars = pl.read_csv(data).height
        runs = [
            ("in-process", ExecutionSettings(workers=1, progress=False)),
            (
                f"local Ray, {args.workers} CPUs",
                ExecutionSettings(workers=args.workers, progress=False),
            ),
        ]
        if args.ray_address:
            runs.append(
                (
                    f"Ray at {args.ray_address}",
                    ExecutionSettings(ray_address=args.ray_address, progress=False),
                )
            )
        table = Table(title=f"Walk-forward, {bars:,} bars, 12 parameter sets per window")
        for col in ("executor", "wall s", "bar·evaluations/s", "speed-up"):
            table.add_column(col, justify="left" if col == "executor" else "right")
        outputs = []
        base = 0.0
        for name, execution in runs:
            out = root / name.replace(" ", "_").replace(",", "")
            start = time.perf_counter()
            (summary,) = run_walkforward(job(data, out, execution))
            wall = time.perf_counter() - start
            windows = pl.read_csv(out / "windows.csv")
            # bars backtested: every in-sample evaluation plus each window's OOS run
            bar_evals = 1440 * (30 * int(windows["trials"].sum()) + 10 * windows.height)
            base = base or wall
            table.add_row(
                summary.executor, f"{wall:.1f}", f"{bar_evals / wall:,.0f}", f"{base / wall:.2f}x"
            )
            outputs.append({p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))})
        console.print(table)
        same = all(o == outputs[0] for o in outputs)
        console.print("outputs identical on every executor: " + ("yes" if same else "NO"))
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
