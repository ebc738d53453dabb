"""Risk metric speed on one million one-minute BTCUSDT returns (ms per call).

Run: ``python benchmarks/risk_metrics.py [--rows N]``. VaR and CVaR for each method at 99 %,
the full 12-value table, rolling Sharpe and Sortino over a one-day (1,440-return) window, and
the drawdown series of the price curve.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ttquant.data.bars import load_ohlcv
from ttquant.risk.metrics import (
    drawdown_series,
    expected_shortfall,
    rolling_sharpe,
    rolling_sortino,
    value_at_risk,
    var_table,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"


def best_ms(fn: Callable[[], Any], repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    close = load_ohlcv(BTC).close[: args.rows + 1]
    r = np.ascontiguousarray(close[1:] / close[:-1] - 1.0)
    cases: list[tuple[str, Callable[[], Any]]] = [
        *(
            (f"VaR 99 % {m}", lambda m=m: value_at_risk(r, 0.99, m))
            for m in ("historical", "gaussian", "cornish_fisher")
        ),
        *(
            (f"CVaR 99 % {m}", lambda m=m: expected_shortfall(r, 0.99, m))
            for m in ("historical", "gaussian", "cornish_fisher")
        ),
        ("VaR/CVaR table (12 values)", lambda: var_table(r)),
        ("rolling Sharpe, 1,440 window", lambda: rolling_sharpe(r, 1440, 525_600)),
        ("rolling Sortino, 1,440 window", lambda: rolling_sortino(r, 1440, 525_600)),
        ("drawdown series", lambda: drawdown_series(close)),
    ]
    print(f"{r.size:,} returns")
    print(f"{'metric':<32}{'ms':>9}")
    for name, fn in cases:
        print(f"{name:<32}{best_ms(fn):>9.2f}")


if __name__ == "__main__":
    main()
