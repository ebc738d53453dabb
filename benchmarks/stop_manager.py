"""Stop manager cost: bars/s of one backtest without exits, with native and with emulated exits.

Run: ``python benchmarks/stop_manager.py [--rows N]``. The strategy enters 0.05 BTC every 90
one-minute BTCUSDT bars (alternating long and short) and holds at most 80 bars; the exit plan is
a 0.5 % stop-loss, a 0.8 % take-profit and a 0.3 % trailing stop. Native exits rest at the
simulated venue; emulated ones are re-armed as one-bar orders after every bar in a position.
The script checks that both give the same fills and exits with status 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import Bar, BarType
from ttquant.model.instruments import spot
from ttquant.risk.stops import Distance, ExitPlan
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import FeeModel

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
PLAN = ExitPlan(
    stop_loss=Distance.percent(0.5),
    take_profit=Distance.percent(0.8),
    trailing=Distance.percent(0.3),
)


class Scheduled(Strategy):
    def __init__(self, emulate: bool | None) -> None:
        super().__init__(strategy_id="bench")
        self.emulate, self.index, self.entered = emulate, -1, 0

    def on_start(self) -> None:
        self.subscribe_bars()
        if self.emulate is not None:
            self.stops.protect(PLAN, emulate=self.emulate)

    def on_bar(self, bar: Bar) -> None:
        self.index += 1
        flat = self.position().is_flat
        if not flat and self.index - self.entered >= 80:
            self.close_position()
        elif flat and self.index % 90 == 0 and not self.open_orders():
            self.entered = self.index
            if (self.index // 90) % 2 == 0:
                self.buy(0.05)
            else:
                self.sell(0.05)


def run(bars: OHLCV, emulate: bool | None) -> tuple[float, list[tuple[int, float, float]]]:
    engine = BacktestEngine()
    engine.add_venue(
        "BINANCE", starting_balances={"USDT": 1_000_000.0}, fee_model=FeeModel(0.0002, 0.0005)
    )
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1m"), bars)
    engine.add_strategy(Scheduled(emulate))
    start = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - start
    return elapsed, [(f.ts_event, f.last_qty, f.last_px) for f in engine.execution.fills]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    all_bars = load_ohlcv(BTC)
    bars = all_bars.slice_time(None, int(all_bars.ts[args.rows - 1]) + 1)
    n = len(bars.ts)
    results = {}
    for label, emulate in (("no exits", None), ("native exits", False), ("emulated exits", True)):
        runs = [run(bars, emulate) for _ in range(args.repeat)]
        results[label] = (min(r[0] for r in runs), runs[0][1])
    base = results["no exits"][0]
    print(f"{n:,} bars; exit plan: stop-loss 0.5 %, take-profit 0.8 %, trailing 0.3 %")
    print(f"{'run':<16}{'bars/s':>12}{'wall s':>9}{'µs/bar over no exits':>24}{'fills':>8}")
    for label, (wall, fills) in results.items():
        extra = (wall - base) / n * 1e6
        print(f"{label:<16}{n / wall:>12,.0f}{wall:>9.2f}{extra:>24.2f}{len(fills):>8}")
    if results["native exits"][1] != results["emulated exits"][1]:
        print("native and emulated exits filled differently", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
