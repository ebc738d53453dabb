"""What a vectorbt user would run for ``ttq sweep``'s MA-cross grid, timed end to end.

``benchmarks/vectorized.py`` launches this as a subprocess: the wall time covers start-up,
imports, CSV parsing, the 100-combination grid (the 90 with fast < slow, as ``ttq sweep``
runs), each combination's statistics and the result table written to Parquet and CSV. The last
line is ``PEER_RESULT`` plus JSON, so the caller can check it did the same work.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from _peers import load_bars_pandas
from _vbt import run_sweep, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    vbt = setup()
    bars = load_bars_pandas(args.data, None)
    pairs = [(f, s) for f in range(5, 51, 5) for s in range(20, 201, 20) if f < s]
    pf = run_sweep(vbt, bars["Open"].to_numpy(), bars["Close"].to_numpy(), pairs, 100_000.0)
    pf = pf.replace(wrapper=pf.wrapper.replace(index=bars.index))
    table = pd.DataFrame(
        {
            "fast": [f for f, _ in pairs],
            "slow": [s for _, s in pairs],
            "total_return_pct": pf.total_return().to_numpy() * 100.0,
            "sharpe": pf.returns_acc.sharpe_ratio().to_numpy(),
            "sortino": pf.returns_acc.sortino_ratio().to_numpy(),
            "calmar": pf.returns_acc.calmar_ratio().to_numpy(),
            "max_drawdown_pct": -pf.max_drawdown().to_numpy() * 100.0,
            "n_trades": pf.trades.closed.count().to_numpy(),
            "win_rate_pct": pf.trades.closed.win_rate().to_numpy() * 100.0,
            "equity_final": pf.final_value().to_numpy(),
        }
    )
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(args.out / "results.parquet")
    table.to_csv(args.out / "results.csv", index=False)
    best = table.sort_values("sharpe", ascending=False).iloc[0]
    (args.out / "best.json").write_text(
        json.dumps({"fast": int(best.fast), "slow": int(best.slow)})
    )
    summary = {"combinations": len(table), "bars": len(bars), "trades": int(table.n_trades.sum())}
    print("PEER_RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
