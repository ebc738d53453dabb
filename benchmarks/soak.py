"""Soak: 10 strategies on a 1,000 ticks/s feed for 10 minutes; RSS and p99 latency per minute.

A paper node runs 10 quoting strategies (``examples/strategies/quote_maker.py``) and one
observer against the local test venue, which replays the real Binance BTCUSDT spot capture in
a loop at the speed that makes about 1,000 quotes and trades per second. Every minute the
script prints the process's RSS and the p50/p99 of the observer's latency (quote received by the
adapter -> the observer's ``on_quote``, after the 10 strategies saw it). Both should stay flat
from the first minute to the last: nothing may grow with the number of events.

    python benchmarks/soak.py [--minutes 10] [--speed 9]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ttquant.model.data import QuoteTick
from ttquant.strategy.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]


class Observer(Strategy):
    """Records how late each quote reaches it (after every other strategy)."""

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        LATENCY.append(time.time_ns() - quote.ts_init)


LATENCY: list[int] = []


def _serve_venue(speed: float) -> None:
    """The test venue, replaying in a loop (run in its own process)."""
    from ttquant.testvenue import binance_venue

    async def serve() -> None:
        venue = binance_venue(REPO.parent / "shared" / "data", market="spot", speed=speed)
        venue.loop_feed = True
        await venue.start()
        print(f"venue on {venue.url} {venue.ws_url}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await venue.stop()

    asyncio.run(serve())


def _config(tmp: Path, url: str, ws: str) -> Path:
    strategies = "".join(
        f'[[strategies]]\nname = "{REPO}/examples/strategies/quote_maker.py:QuoteMaker"\n'
        f'id = "s{i}"\nparams = {{ size = 0.001, every = {20 + i}, max_open = 4, refresh = 300 }}\n'
        for i in range(10)
    )
    text = f"""[node]
name = "soak"
mode = "paper"
store = "sqlite:///{tmp / "records.sqlite"}"
state_dir = "{tmp / "state"}"
watch_config = false
[venue]
exchange = "binance"
market = "spot"
rest_url = "{url}"
ws_url = "{ws}"
[paper]
account = "margin"
balances = {{ USDT = 10000000 }}
[[instruments]]
symbol = "BTC/USDT"
price_increment = 0.01
size_increment = 0.00001
min_quantity = 0.00001
maker_fee = 0.001
taker_fee = 0.001
data = ["quotes", "trades"]
{strategies}[[strategies]]
name = "{Path(__file__).resolve()}:Observer"
id = "observer"
"""
    path = tmp / "soak.toml"
    path.write_text(text)
    return path


async def _soak(config: Path, minutes: float) -> None:
    from ttquant.engine.node import TradingNode
    from ttquant.engine.node_config import load_node_config

    node = TradingNode(load_node_config(config))
    task = asyncio.create_task(node.run(freeze_gc=True))
    while not node.ready.is_set():
        if task.done():
            task.result()
        await asyncio.sleep(0.1)
    observer = node.host.slot("observer").strategy
    latency: list[int] = sys.modules[type(observer).__module__].LATENCY
    print("minute  ticks/s  RSS MB  p50 µs  p99 µs  fills")
    events = node.inbox.handled
    for minute in range(1, int(minutes) + 1):
        del latency[:]
        await asyncio.sleep(60)
        sample = np.array(latency, dtype=np.int64) / 1000.0
        rate = (node.inbox.handled - events) / 60.0
        events = node.inbox.handled
        rss = _rss_mb()
        p50, p99 = np.percentile(sample, [50, 99]) if len(sample) else (float("nan"),) * 2
        print(
            f"{minute:>6}  {rate:>7,.0f}  {rss:>6,.0f}  {p50:>6,.0f}  {p99:>6,.0f}  "
            f"{len(node.execution.fills):>5}",
            flush=True,
        )
    node.request_stop()
    await task


def _rss_mb() -> float:
    """The resident set size now (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=9.0, help="replay speed (9: ~1,000/s)")
    parser.add_argument("--serve-venue", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_venue:
        _serve_venue(args.speed)
        return
    venue = subprocess.Popen(
        [sys.executable, __file__, "--serve-venue", "--speed", str(args.speed)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert venue.stdout is not None
    match = re.search(r"venue on (\S+) (\S+)", venue.stdout.readline())
    if match is None:
        raise SystemExit("the test venue did not start")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_soak(_config(Path(tmp), match.group(1), match.group(2)), args.minutes))
    finally:
        venue.send_signal(signal.SIGTERM)
        venue.wait(30)


if __name__ == "__main__":
    main()
