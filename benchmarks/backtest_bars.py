"""Event-driven bar backtest benchmark: ttquant vs backtesting.py 0.6.6 vs backtrader.

All engines run the reference SMA(10)/SMA(30) long-only cross (see ``_peers.py``) on the same
first ``--rows`` bars, loaded once. In-process rows time the engine only; the ``e2e`` rows time a
whole subprocess (start-up, imports, CSV parsing, run, report) for the standalone backtesting.py
script and for ``ttq backtest``. Every engine must reproduce backtesting.py's trades exactly;
the script exits with status 1 otherwise, after printing the table.

Calendar year 2022 of the default file is ``--rows 525600`` (it has no gaps in 2022).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Literal

import pandas as pd
from _peers import (
    STARTING_CASH,
    PeerResult,
    Trade,
    compare_trades,
    load_bars_pandas,
    measured,
    run_backtesting_py,
    run_backtrader,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_FILE = (
    BENCH_DIR.parent
    / ".."
    / "shared"
    / "data"
    / "bars_1m"
    / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
)
PEER_SCRIPT = BENCH_DIR / "peer_scripts" / "backtesting_py_sma.py"
_PEER_RESULT_TAG = "PEER_RESULT "


def run_ttquant(
    path: Path, n_rows: int | None, fast: int, slow: int, commission: float
) -> PeerResult:
    """ttquant's in-process run of the reference strategy on the first ``n_rows`` bars of ``path``.

    Like the peers, ``wall_s`` covers the engine's work only (building it from loaded arrays, the
    event loop through the full kernel, results), not reading the CSV.
    """
    from ttquant.data.bars import load_ohlcv
    from ttquant.engine.backtest import BacktestEngine
    from ttquant.model.data import BarType
    from ttquant.model.instruments import spot
    from ttquant.strategy.library.ma_cross import SMACross
    from ttquant.venues.sim.models import FeeModel

    bars = load_ohlcv(path)
    n = len(bars) if n_rows is None else min(n_rows, len(bars))
    first = bars.slice_time(None, int(bars.ts[n - 1]) + 1)

    def run() -> tuple[list[Trade], float]:
        engine = BacktestEngine()
        engine.add_venue(
            "BINANCE",
            base_currency="USDT",
            starting_balances={"USDT": STARTING_CASH},
            fee_model=FeeModel(maker=commission, taker=commission),
        )
        instrument = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
        engine.add_instrument(instrument)
        engine.add_ohlcv(BarType.time(instrument.id, "1m"), first)
        engine.add_strategy(SMACross(fast=fast, slow=slow, long_only=True, size=1.0))
        curve = engine.run()
        trades = [
            (t.entry_ns, t.exit_ns, t.entry_price, t.exit_price, t.quantity, t.pnl)
            for t in engine.cache.round_trips
        ]
        return trades, float(curve.equity[-1])

    (result, wall_s), rss = measured(run)
    trades, equity = result
    return PeerResult("ttquant", trades, equity, n, wall_s, rss)


@dataclass(frozen=True)
class Row:
    engine: str
    n_bars: int | None = None
    wall_s: float | None = None
    trades: int | None = None
    final_equity: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""

    @classmethod
    def of(cls, result: PeerResult, note: str = "") -> Row:
        return cls(
            result.engine,
            result.n_bars,
            result.wall_s,
            len(result.trades),
            result.final_equity,
            result.peak_rss_mb,
            note,
        )

    def cells(self) -> list[str]:
        if self.wall_s is None:
            return [self.engine, "n/a", "n/a", "n/a", "n/a", "n/a", self.note]
        bars_per_s = f"{self.n_bars / self.wall_s:,.0f}" if self.n_bars else "-"
        return [
            self.engine,
            bars_per_s,
            f"{self.wall_s:.2f}",
            "-" if self.trades is None else f"{self.trades:,}",
            "-" if self.final_equity is None else f"{self.final_equity:,.2f}",
            "-" if self.peak_rss_mb is None else f"{self.peak_rss_mb:,.0f}",
            self.note,
        ]


@dataclass(frozen=True)
class Finished:
    """A subprocess that ran to completion, with its own wall time and peak RSS."""

    returncode: int
    output: str
    wall_s: float
    peak_rss_mb: float

    def last_line(self) -> str:
        lines = [line for line in self.output.splitlines() if line.strip()]
        return lines[-1][:100] if lines else "(no output)"


# Linux carries a process's RSS high-water mark over exec into the child's ru_maxrss, so a child
# spawned straight from this process would report at least this process's peak (all bars and
# engines loaded). A bare interpreter spawns and times the command instead: the floor is its ~10 MB.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall_s = time.perf_counter() - start
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {wall_s!r} {usage.ru_maxrss}")
"""


def run_timed(cmd: list[str]) -> Finished:
    """Run ``cmd`` to the end, timing it from spawn to exit, with its own peak RSS."""
    with tempfile.TemporaryDirectory(prefix="ttq_bench_launch_") as tmp:
        report = Path(tmp) / "report"
        launcher = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if not report.exists():  # the launcher itself failed, e.g. cmd not found
            return Finished(launcher.returncode or 1, launcher.stdout, math.nan, math.nan)
        code, wall_s, max_rss_kb = report.read_text().split()
    return Finished(int(code), launcher.stdout, float(wall_s), int(max_rss_kb) / 1024)


def head_file(src: Path, n_rows: int | None, dest_dir: Path) -> Path:
    """``src`` cut to its first ``n_rows`` bars, so subprocesses read exactly the benchmarked bars.

    Returns ``src`` itself when it has no more rows than that. The copy keeps the compression of
    the source so the end-to-end runs pay the same decompression cost as on the real file.
    """
    if n_rows is None:
        return src
    with _open_binary(src, "rb") as lines:
        head = list(islice(lines, n_rows + 2))  # header, n_rows bars, one more to detect a cut
    if len(head) <= n_rows + 1:
        return src
    dest = dest_dir / f"head{n_rows}_{src.name}"
    with _open_binary(dest, "wb") as out:
        out.writelines(head[: n_rows + 1])
    return dest


def _open_binary(path: Path, mode: Literal["rb", "wb"]) -> BinaryIO | gzip.GzipFile:
    if path.suffix == ".gz":
        return gzip.open(path, mode, compresslevel=1)
    return path.open(mode)


def e2e_backtesting_py(
    data: Path, args: argparse.Namespace, reference: PeerResult
) -> tuple[Row, str | None]:
    """Time the standalone backtesting.py script; return its row and a parity problem, if any."""
    run = run_timed(
        [
            sys.executable,
            str(PEER_SCRIPT),
            "--data",
            str(data),
            "--fast",
            str(args.fast),
            "--slow",
            str(args.slow),
            "--commission",
            str(args.commission),
        ]
    )
    engine = "e2e backtesting.py script"
    tagged = [line for line in run.output.splitlines() if line.startswith(_PEER_RESULT_TAG)]
    if run.returncode != 0 or not tagged:
        return Row(engine, note=f"failed (exit {run.returncode}): {run.last_line()}"), (
            f"{engine} failed: {run.last_line()}"
        )
    summary = json.loads(tagged[-1].removeprefix(_PEER_RESULT_TAG))
    row = Row(
        engine,
        summary["bars"],
        run.wall_s,
        summary["trades"],
        summary["final_equity"],
        run.peak_rss_mb,
        "subprocess",
    )
    same = summary["trades"] == len(reference.trades) and math.isclose(
        summary["final_equity"], reference.final_equity, rel_tol=1e-9
    )
    return row, None if same else f"{engine} disagrees with the in-process run: {summary}"


def e2e_ttq(data: Path, n_bars: int, args: argparse.Namespace, out_dir: Path) -> Row | PeerResult:
    """Time ``ttq backtest`` from launch to exit and read back its trades for the parity check.

    Gives a bare "n/a" row while the command or the engine is missing or fails.
    """
    engine = "e2e ttq backtest"
    venv_ttq = Path(sys.executable).with_name("ttq")
    ttq = str(venv_ttq) if venv_ttq.exists() else shutil.which("ttq")
    if ttq is None:
        return Row(engine, note="ttq command not installed")
    fee_bps = args.commission * 1e4
    cmd = [ttq, "backtest", "--strategy", "sma_cross", "--data", str(data), "--symbol", "BTC/USDT"]
    cmd += ["--set", f"fast={args.fast}", "--set", f"slow={args.slow}", "--set", "long_only=true"]
    cmd += ["--size", "1", "--cash", f"{STARTING_CASH:.0f}", "--fee-bps", f"{fee_bps:g}"]
    # saved to the records store, as by default, in a new store file of its own
    cmd += ["--db", f"sqlite:///{out_dir.parent / 'records.sqlite'}"]
    run = run_timed([*cmd, "--out", str(out_dir)])
    if run.returncode != 0:
        return Row(engine, note=f"exit {run.returncode}: {run.last_line()}")
    results = json.loads((out_dir / "results.json").read_text())
    return PeerResult(
        engine,
        read_ttq_trades(out_dir / "trades.csv"),
        float(results["final_equity"]),
        n_bars,
        run.wall_s,
        run.peak_rss_mb,
    )


def read_ttq_trades(path: Path) -> list[Trade]:
    """``ttq backtest``'s trades.csv (ISO-8601 UTC times, pnl net of fees) as ``_peers`` trades."""
    frame = pd.read_csv(path)
    entry_ns = pd.to_datetime(frame["entry_ts"], utc=True).dt.as_unit("ns").astype("int64")
    exit_ns = pd.to_datetime(frame["exit_ts"], utc=True).dt.as_unit("ns").astype("int64")
    return [
        (int(en), int(ex), float(ep), float(xp), float(qty), float(pnl))
        for en, ex, ep, xp, qty, pnl in zip(
            entry_ns,
            exit_ns,
            frame["entry_price"],
            frame["exit_price"],
            frame["qty"],
            frame["pnl"],
            strict=True,
        )
    ]


def parity_problems(reference: PeerResult, others: list[PeerResult]) -> list[str]:
    problems = []
    for other in others:
        mismatch = compare_trades(reference.trades, other.trades)
        if mismatch is not None:
            problems.append(f"{other.engine} vs {reference.engine}: {mismatch}")
        if not math.isclose(other.final_equity, reference.final_equity, rel_tol=1e-9):
            problems.append(
                f"{other.engine} final equity {other.final_equity!r} != "
                f"{reference.engine} {reference.final_equity!r}"
            )
    return problems


def print_table(rows: list[Row]) -> None:
    header = ["engine", "bars/s", "wall s", "trades", "final equity", "peak RSS MB", "note"]
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(line[col]) for line in table) for col in range(len(header))]
    for line in table:
        print(
            "  ".join(
                cell.ljust(w) if col in (0, 6) else cell.rjust(w)
                for col, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="first N bars of the file")
    parser.add_argument(
        "--file",
        type=Path,
        default=DEFAULT_FILE.resolve(),
        help="ts,open,high,low,close,volume CSV (default: shared BTCUSDT 1m)",
    )
    parser.add_argument("--skip-backtrader", action="store_true", help="it runs ~10k bars/s")
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument(
        "--commission",
        type=float,
        default=0.0,
        help="fee rate on each fill's notional, e.g. 0.001 for 10 bps",
    )
    return parser.parse_args()


def kernel_build() -> str:
    """Whether the installed ttquant runs its kernel compiled (a regular install) or as source."""
    spec = importlib.util.find_spec("ttquant.engine.backtest")
    origin = spec.origin if spec is not None else None
    if origin is not None and origin.endswith((".so", ".pyd")):
        return "compiled with mypyc (regular install)"
    return "Python source (editable install: `pip install .` compiles it)"


def isolated(fn: Callable[..., PeerResult], *args: object, **kwargs: object) -> PeerResult:
    """Run one engine in a fresh interpreter, so none inherits another's heap or warm caches."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def main() -> int:
    args = parse_args()
    # Expected noise: positions left open on purpose, and backtesting.py 0.6.6's use of an
    # index attribute pandas 3 deprecates (harmless until pandas 4).
    warnings.filterwarnings("ignore", message="Some trades remain open")
    warnings.filterwarnings("ignore", message="DatetimeIndex.dayofweek is deprecated")

    start = time.perf_counter()
    bars = load_bars_pandas(args.file, args.rows)
    print(
        f"{args.file.name}: {len(bars):,} bars {bars.index[0]} .. {bars.index[-1]}, "
        f"loaded in {time.perf_counter() - start:.2f} s; SMA({args.fast})/SMA({args.slow}) "
        f"long-only, commission {args.commission:g}"
    )
    print(f"ttquant kernel: {kernel_build()}")

    params = {"fast": args.fast, "slow": args.slow, "commission": args.commission}
    reference = isolated(run_backtesting_py, bars, **params)
    rows = [Row.of(reference)]
    checked = [] if args.skip_backtrader else [isolated(run_backtrader, bars, **params)]
    rows += [Row.of(peer) for peer in checked]
    try:
        checked.append(isolated(run_ttquant, args.file, args.rows, **params))
        rows.append(Row.of(checked[-1]))
    except NotImplementedError as exc:
        rows.append(Row("ttquant", note=str(exc)))

    with tempfile.TemporaryDirectory(prefix="ttq_bench_") as tmp:
        data = head_file(args.file, args.rows, Path(tmp))
        script_row, script_problem = e2e_backtesting_py(data, args, reference)
        ttq_e2e = e2e_ttq(data, len(bars), args, Path(tmp) / "ttq_out")
    rows.append(script_row)
    if isinstance(ttq_e2e, PeerResult):
        checked.append(ttq_e2e)
        ttq_e2e = Row.of(ttq_e2e, "subprocess")
    rows.append(ttq_e2e)
    problems = parity_problems(reference, checked)
    if script_problem:
        problems.append(script_problem)

    print_table(rows)
    for problem in problems:
        print(f"PARITY FAILURE: {problem}", file=sys.stderr)
    if not problems:
        engines = ", ".join(peer.engine for peer in [reference, *checked])
        print(f"parity OK: {engines} agree on all {len(reference.trades):,} trades")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
