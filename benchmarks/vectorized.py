"""Vectorized MA-cross benchmark: ttquant's numba engine vs vectorbt (rust engine), one run.

On the first ``--rows`` real BTC/USDT 1-minute bars, each engine in a fresh interpreter:

- single combination (SMA 10/30, long-only, 1 unit, next-open fills): bars/s, best of
  ``--repeat``; the moving averages, signals and portfolio are all timed (the target's figure),
  and again with the statistics ``ttq sweep`` reports per combination added to the timed
  region (ttquant: ``Batch.statistics``, all of them; vectorbt: the peer script's set);
- the 100-combination sweep (fast 5..50 step 5 x slow 20..200 step 20, every pair, as columns
  of one call): bar·combinations/s;
- for scale under the machine's load at the time: a minimal hand-written numba loop (SMA
  10/30 cross, position, cash, equity and drawdown fused; no trade records, no statistics);
- ttquant's kernel compile time, from an empty numba cache and from a warm one (``cache=True``),
  for the single-column path and for the parallel many-column one;
- end to end: ``ttq sweep`` for that grid vs the equivalent vectorbt script
  (``peer_scripts/vectorbt_sweep.py``), each a subprocess timed from launch to exit.

The machine's load average is printed before and after: rates fall when other jobs share it.

Every column's closed trades (times, prices, sizes, pnl) and final equity must equal
vectorbt's; the script exits with status 1 otherwise, after printing the table.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from backtest_bars import DEFAULT_FILE, head_file, run_timed
from numba import njit

BENCH_DIR = Path(__file__).resolve().parent
PEER_SCRIPT = BENCH_DIR / "peer_scripts" / "vectorbt_sweep.py"
CASH = 1_000_000.0
STEP_NS = 60_000_000_000
PAIRS = [(f, s) for f in range(5, 51, 5) for s in range(20, 201, 20)]
SINGLE = [(10, 30)]

T = TypeVar("T")


def isolated(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn`` in a fresh interpreter: no engine inherits another's heap, JIT or caches."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, *args).result()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn: Any, repeat: int) -> tuple[Any, float]:
    best = math.inf
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def ttquant_engine(path: Path, rows: int, repeat: int) -> dict[str, Any]:
    """ttquant in this (fresh) process: first calls (cache load), single, sweep, reference."""
    from ttquant.data.bars import load_ohlcv
    from ttquant.research.vectorized.portfolio import Columns, Market, VenueSettings, run_ma_cross

    bars = load_ohlcv(path)
    bars = bars.slice_time(None, int(bars.ts[rows - 1]) + 1)
    market = Market.from_ohlcv([bars], [_instrument()], STEP_NS)
    venue = VenueSettings(cash=CASH)
    first = _first_calls(bars)

    def run(pairs: list[tuple[int, int]]) -> Any:
        fast, slow = [f for f, _ in pairs], [s for _, s in pairs]
        return run_ma_cross(market, fast, slow, Columns.make(len(pairs)), venue)

    single, single_s = _best(lambda: run(SINGLE), repeat)
    _, single_stats_s = _best(lambda: run(SINGLE).statistics(0), repeat)
    batch, sweep_s = _best(lambda: run(PAIRS), max(1, repeat // 2))
    open_, close = np.ascontiguousarray(market.open[:, 0]), np.ascontiguousarray(bars.close)
    hand_loop(open_, close, *SINGLE[0], CASH)
    _, hand_s = _best(lambda: hand_loop(open_, close, *SINGLE[0], CASH), repeat)
    return {
        "first_single_s": first["single"],
        "first_sweep_s": first["sweep"],
        "single_s": single_s,
        "single_stats_s": single_stats_s,
        "sweep_s": sweep_s,
        "hand_s": hand_s,
        "trades": [_ttq_trades(batch, c) for c in range(len(PAIRS))],
        "single_trades": _ttq_trades(single, 0),
        "final": [batch.final_equity(c) for c in range(len(PAIRS))],
        "rss_mb": _peak_rss_mb(),
        "bars": len(bars),
    }


def _instrument() -> Any:
    from ttquant.model.instruments import spot

    return spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=1e-5)


def first_calls(path: Path) -> dict[str, float]:
    """Seconds of the first single-column and the first many-column call on 100 bars: numba
    compiling (empty cache) or loading (warm cache) the kernels they use."""
    from ttquant.data.bars import load_ohlcv

    return _first_calls(load_ohlcv(path))


def _first_calls(bars: Any) -> dict[str, float]:
    from ttquant.research.vectorized.portfolio import Columns, Market, VenueSettings, run_ma_cross

    tiny = Market.from_ohlcv([bars.slice_time(None, int(bars.ts[99]) + 1)], [_instrument()],
                             STEP_NS)  # fmt: skip
    out = {}
    for name, n in (("single", 1), ("sweep", 2)):
        start = time.perf_counter()
        run_ma_cross(tiny, [5] * n, [20] * n, Columns.make(n), VenueSettings(cash=CASH))
        out[name] = time.perf_counter() - start
    return out


@njit(cache=True)
def hand_loop(open_: np.ndarray, close: np.ndarray, fast: int, slow: int, cash: float) -> float:
    """The practical limit: SMA cross, next-open fills, equity and drawdown in one loop."""
    fast_sum = slow_sum = 0.0
    prev = math.nan
    held = pending = 0.0
    peak = equity = cash
    worst = 0.0
    for i in range(close.shape[0]):
        if pending != 0.0:
            cash -= pending * open_[i]
            held += pending
            pending = 0.0
        x = close[i]
        fast_sum += x
        slow_sum += x
        if i >= fast:
            fast_sum -= close[i - fast]
        if i >= slow:
            slow_sum -= close[i - slow]
        equity = cash + held * x
        peak = max(peak, equity)
        worst = max(worst, (peak - equity) / peak)
        if i >= slow - 1:
            diff = fast_sum / fast - slow_sum / slow
            if prev < 0 < diff and held == 0.0:
                pending = 1.0
            elif prev > 0 > diff and held > 0.0:
                pending = -1.0
            prev = diff
    return worst


def _ttq_trades(batch: Any, col: int) -> np.ndarray:
    t = batch.trades(col)
    return np.stack(
        [t.entry_ns, t.exit_ns, t.entry_price, t.exit_price, t.quantity, t.pnl], axis=1
    ).astype(np.float64)


def vectorbt_engine(path: Path, rows: int, repeat: int) -> dict[str, Any]:
    import _vbt
    from _peers import load_bars_pandas

    start = time.perf_counter()
    vbt = _vbt.setup()
    import_s = time.perf_counter() - start
    bars = load_bars_pandas(path, rows)
    open_, close = bars["Open"].to_numpy(), bars["Close"].to_numpy()
    ts = bars.index.to_numpy(dtype="datetime64[ns]").view(np.int64)
    single, single_s = _best(lambda: _vbt.run_sweep(vbt, open_, close, SINGLE, CASH), repeat)
    _, single_stats_s = _best(
        lambda: _vbt.statistics(_vbt.run_sweep(vbt, open_, close, SINGLE, CASH)), repeat
    )
    pf, sweep_s = _best(lambda: _vbt.run_sweep(vbt, open_, close, PAIRS, CASH), 1)
    return {
        "import_s": import_s,
        "engine": str(vbt.settings["engine"]),
        "version": vbt.__version__,
        "single_s": single_s,
        "single_stats_s": single_stats_s,
        "sweep_s": sweep_s,
        "trades": [_vbt_trades(pf, c, ts) for c in range(len(PAIRS))],
        "single_trades": _vbt_trades(single, 0, ts),
        "final": [float(v) for v in pf.final_value().to_numpy()],
        "rss_mb": _peak_rss_mb(),
    }


def _vbt_trades(pf: Any, col: int, ts: np.ndarray) -> np.ndarray:
    r = pf.trades.values
    r = r[(r["col"] == col) & (r["status"] == 1)]
    return np.stack(
        [ts[r["entry_idx"]], ts[r["exit_idx"]], r["entry_price"], r["exit_price"], r["size"],
         r["pnl"]], axis=1,
    ).astype(np.float64)  # fmt: skip


def cold_first_calls(path: Path) -> dict[str, float]:
    """The first calls with an empty numba cache (what a fresh install pays once)."""
    with tempfile.TemporaryDirectory(prefix="ttq_numba_") as cache:
        os.environ["NUMBA_CACHE_DIR"] = cache
        try:
            return isolated(first_calls, path)
        finally:
            del os.environ["NUMBA_CACHE_DIR"]


def parity(ttq: dict[str, Any], vbt: dict[str, Any]) -> list[str]:
    problems = []
    pairs = [("single", ttq["single_trades"], vbt["single_trades"])]
    pairs += [(str(p), a, b) for p, a, b in zip(PAIRS, ttq["trades"], vbt["trades"], strict=True)]
    for name, a, b in pairs:
        same = a.shape == b.shape and np.array_equal(a[:, :2], b[:, :2])
        if not (same and np.allclose(a[:, 2:], b[:, 2:], rtol=1e-9, atol=1e-9)):
            problems.append(f"trades of {name} differ: {a.shape[0]} vs {b.shape[0]} trades")
    for p, x, y in zip(PAIRS, ttq["final"], vbt["final"], strict=True):
        if not math.isclose(x, y, rel_tol=1e-9):
            problems.append(f"final equity of {p} differs: {x} vs {y}")
    return problems


def e2e(path: Path, rows: int, tmp: Path) -> dict[str, Any]:
    data = head_file(path, rows, tmp)
    ttq = str(Path(sys.executable).with_name("ttq"))
    cmd = [ttq, "sweep", "--strategy", "sma_cross", "--data", str(data), "--grid", "fast=5:50:5",
           "--grid", "slow=20:200:20", "--engine", "vectorized", "--cash", f"{CASH:.0f}",
           "--out", str(tmp / "ttq"), "--quiet"]  # fmt: skip
    ours = run_timed(cmd)
    peer = run_timed([sys.executable, str(PEER_SCRIPT), "--data", str(data), "--out",
                      str(tmp / "vbt")])  # fmt: skip
    for run in (ours, peer):
        if run.returncode != 0:
            raise SystemExit(f"end-to-end run failed: {run.last_line()}")
    summary = json.loads((tmp / "ttq" / "summary.json").read_text())
    return {"ttq_s": ours.wall_s, "ttq_rss": ours.peak_rss_mb, "vbt_s": peer.wall_s,
            "vbt_rss": peer.peak_rss_mb, "rows": summary["n_combinations"]}  # fmt: skip


def _load(avg: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.1f}" for x in avg) + f" (1/5/15 min, {os.cpu_count()} cores)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE.resolve())
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts")
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()
    cold = cold_first_calls(args.file)
    isolated(first_calls, args.file)  # the default cache holds the kernels from here on
    ttq = isolated(ttquant_engine, args.file, args.rows, args.repeat)
    vbt = isolated(vectorbt_engine, args.file, args.rows, args.repeat)
    n = ttq["bars"]
    combos = n * len(PAIRS)
    load_after = _load(os.getloadavg())
    print(f"{n:,} bars; vectorbt {vbt['version']} engine={vbt['engine']}; load average "
          f"{_load(load_before)} before the engines ran, {load_after} after")  # fmt: skip
    print(f"ttquant kernel first call: single column {cold['single']:.1f} s cold (empty cache), "
          f"{ttq['first_single_s']:.2f} s from the cache; many columns (parallel) "
          f"{cold['sweep']:.1f} s more cold, {ttq['first_sweep_s']:.2f} s from the cache"
          )  # fmt: skip
    rows = [
        ("single, ttquant", n / ttq["single_s"], ttq["single_s"], ttq["rss_mb"]),
        ("single, vectorbt", n / vbt["single_s"], vbt["single_s"], vbt["rss_mb"]),
        ("single + stats, ttquant", n / ttq["single_stats_s"], ttq["single_stats_s"], math.nan),
        ("single + stats, vectorbt", n / vbt["single_stats_s"], vbt["single_stats_s"], math.nan),
        ("100-combo sweep, ttquant", combos / ttq["sweep_s"], ttq["sweep_s"], ttq["rss_mb"]),
        ("100-combo sweep, vectorbt", combos / vbt["sweep_s"], vbt["sweep_s"], vbt["rss_mb"]),
        ("hand-written numba loop", n / ttq["hand_s"], ttq["hand_s"], math.nan),
    ]
    print(f"{'':28} {'bars(·combos)/s':>16} {'s':>8} {'peak RSS MB':>12}")
    for name, rate, secs, rss in rows:
        memory = "" if math.isnan(rss) else f"{rss:,.0f}"
        print(f"{name:28} {rate:16,.0f} {secs:8.4f} {memory:>12}")
    single_ratio = vbt["single_s"] / ttq["single_s"]
    stats_ratio = vbt["single_stats_s"] / ttq["single_stats_s"]
    sweep_ratio = vbt["sweep_s"] / ttq["sweep_s"]
    print(f"single: {single_ratio:.1f}x vectorbt, {n / ttq['single_s'] / 1e6:.1f}M bars/s "
          f"(target >= 2x and >= 12.6M bars/s); with statistics {stats_ratio:.1f}x")  # fmt: skip
    print(f"sweep: {sweep_ratio:.1f}x vectorbt (target >= 10x)")
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory(prefix="ttq_bench_vec_") as tmp:
            end = e2e(args.file, args.rows, Path(tmp))
        ratio = end["vbt_s"] / end["ttq_s"]
        print(f"end to end: ttq sweep {end['ttq_s']:.2f} s ({end['ttq_rss']:,.0f} MB, "
              f"{end['rows']} combinations), vectorbt script {end['vbt_s']:.2f} s "
              f"({end['vbt_rss']:,.0f} MB): {ratio:.1f}x (target >= 5x)")  # fmt: skip
    problems = parity(ttq, vbt)
    for problem in problems[:10]:
        print(f"PARITY FAILURE: {problem}", file=sys.stderr)
    if not problems:
        total = sum(len(t) for t in ttq["trades"])
        print(f"parity OK: all {len(PAIRS)} columns, {total:,} trades, equal to vectorbt's")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
