"""What a backtesting.py user would run for the reference SMA cross, timed end to end.

``benchmarks/backtest_bars.py`` launches this as a subprocess, so its wall time includes
interpreter start-up, imports, CSV parsing, the backtest and the stats report, the same span
as ``ttq backtest`` measured from its own launch. The last line of output is ``PEER_RESULT``
plus a JSON object, so the caller can check this run did the same work as the in-process one.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _peers import load_bars_pandas, make_backtest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="ts,open,high,low,close,volume")
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--commission", type=float, default=0.0, help="per fill, 0.001 = 10 bps")
    args = parser.parse_args()

    bars = load_bars_pandas(args.data, None)
    with warnings.catch_warnings():  # the position may be left open at the end on purpose
        warnings.simplefilter("ignore")
        stats = make_backtest(bars, args.commission).run(fast=args.fast, slow=args.slow)
    print(stats.to_string())
    summary = {
        "bars": len(bars),
        "trades": len(stats["_trades"]),
        "final_equity": float(stats["Equity Final [$]"]),
    }
    print("PEER_RESULT", json.dumps(summary))


if __name__ == "__main__":
    main()
