"""Tick-to-order latency: feed message received -> signed order request written.

A live node trades Binance USDⓈ-M BTCUSDT against the local test venue (a separate process
replaying the real recorded feed at 5x). A probe strategy answers a quote with an
immediate-or-cancel limit order far from the market whenever its previous order is done. The
latency of one order is the time from the moment the adapter received the WebSocket message
carrying the quote (the quote's ``ts_init``, which the order inherits) to the moment the HTTP
client is handed the signed ``POST /order`` request (an httpx request hook: after signing,
before the bytes go out).

* ``in-process``: ``ttq node run`` in this process (adapter, kernel, risk, execution);
* ``3 processes``: ``ttq node md`` and ``ttq node strategy`` as their own processes, the gateway
  in this process; the quote crosses md -> strategy over ZeroMQ and the order request
  strategy -> gateway.

Binance's request-weight and order-count limits are lifted at both ends, the test venue's and
the adapter's budget (the probe sends far more orders than Binance would allow): they would
measure waiting, not work.

    python benchmarks/tick_to_order.py [--seconds 20] [--mode in-process|3-process|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderSide, TimeInForce
from ttquant.strategy.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]


class Probe(Strategy):
    """An IOC buy 5 % under the bid on a quote, once the previous one is done (accepted and
    canceled at once): latency without a queue of requests in front of it."""

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        if self.open_orders():
            return
        inst = self.cache.instrument(self.instrument)
        price = inst.round_price(quote.bid_price * 0.95)
        self.submit(self.order(OrderSide.BUY, 0.002, price=price, time_in_force=TimeInForce.IOC))
        # the node's own share: the order is checked, recorded, journaled and handed to the
        # adapter (whose HTTP client signs and writes it later, on the loop)
        KERNEL.append(time.time_ns() - quote.ts_init)


KERNEL: list[int] = []


def _config(tmp: Path, url: str, ws: str) -> Path:
    text = f"""[node]
name = "bench"
mode = "live"
store = "sqlite:///{tmp / "records.sqlite"}"
state_dir = "{tmp / "state"}"
watch_config = false
[venue]
exchange = "binance"
market = "usdm"
depth_speed = "0ms"
rest_url = "{url}"
ws_url = "{ws}"
api_key = "test-key"
api_secret = "test-secret"
[[instruments]]
symbol = "BTC/USDT:USDT"
price_increment = 0.1
size_increment = 0.001
min_quantity = 0.001
min_notional = 100.0
data = ["quotes"]
[[strategies]]
name = "{Path(__file__).resolve()}:Probe"
id = "probe"
[ipc]
market_data = "ipc://{tmp}/md"
orders = "ipc://{tmp}/orders"
returns = "ipc://{tmp}/returns"
shm = "ttq-bench-{os.getpid()}"
"""
    path = tmp / "bench.toml"
    path.write_text(text)
    return path


def _serve_venue() -> None:
    """The test venue with Binance's rate limits lifted (run in its own process)."""
    from ttquant.testvenue import binance_venue

    async def serve() -> None:
        venue = binance_venue(REPO.parent / "shared" / "data", market="usdm", speed=5.0)
        venue.dialect.limits = []  # type: ignore[attr-defined]
        await venue.start()
        print(f"venue on {venue.url} {venue.ws_url}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await venue.stop()

    asyncio.run(serve())


def _venue() -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-venue"], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"venue on (\S+) (\S+)", line)
    if match is None:
        raise SystemExit(f"test venue did not start: {line!r}")
    return process, match.group(1), match.group(2)


def _probe(node: Any, samples: list[int]) -> None:
    """Time every order request from its quote's arrival to the signed request."""
    from ttquant.venues.net.ratelimit import RequestBudget

    adapter = node.adapter
    adapter.http.budget = RequestBudget([])
    born: dict[str, int] = {}
    save = adapter.save_before_send

    def saved(record: Any) -> None:
        save(record)
        born[record.venue_client_id] = node.cache.order(record.client_order_id).ts_init

    adapter.save_before_send = saved

    async def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.path.endswith("/order"):
            now = time.time_ns()
            ts = born.pop(request.url.params.get("newClientOrderId", ""), None)
            if ts is not None:
                samples.append(now - ts)

    adapter.http.rest._client.event_hooks["request"].append(on_request)


async def _measure(node: Any, seconds: float, samples: list[int]) -> None:
    task = asyncio.create_task(node.run(freeze_gc=True))
    while not node.ready.is_set():
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    await asyncio.sleep(seconds)
    node.request_stop()
    await task


def in_process(config: Path, seconds: float) -> np.ndarray:
    from ttquant.engine.node import TradingNode
    from ttquant.engine.node_config import load_node_config

    samples: list[int] = []
    node = TradingNode(load_node_config(config))

    async def hook() -> None:
        _probe(node, samples)

    node.start_hooks.append(hook)
    asyncio.run(_measure(node, seconds, samples))
    probe = node.host.slot("probe").strategy  # loaded from this file as a module of its own
    kernel = sys.modules[type(probe).__module__].KERNEL
    _report("  of which: quote received -> order handed to the adapter", np.array(kernel[100:]))
    return np.array(samples[100:], dtype=np.int64)  # the first ones warm the caches up


def three_processes(config: Path, seconds: float) -> np.ndarray:
    from ttquant.engine.node_config import load_node_config
    from ttquant.engine.topology import gateway_node

    samples: list[int] = []
    node = gateway_node(load_node_config(config), config)

    async def hook() -> None:
        _probe(node, samples)

    node.start_hooks.append(hook)
    others = []
    log = open(config.with_suffix(".log"), "ab")  # noqa: SIM115
    for role in ("md", "strategy"):
        others.append(
            subprocess.Popen(
                [sys.executable, "-m", "ttquant.cli.main", "node", role, str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        )
    try:
        asyncio.run(_measure(node, seconds, samples))
    finally:
        for process in others:
            process.send_signal(signal.SIGTERM)
        for process in others:
            process.wait(30)
    return np.array(samples[100:], dtype=np.int64)


def _report(name: str, ns: np.ndarray) -> None:
    if len(ns) < 1000:
        print(f"{name}: only {len(ns)} samples")
    p50, p99, p999 = np.percentile(ns, [50, 99, 99.9]) / 1000.0
    print(
        f"{name}: {len(ns):,} orders, p50 {p50:,.0f} µs, p99 {p99:,.0f} µs, "
        f"p99.9 {p999:,.0f} µs, max {ns.max() / 1000:,.0f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--mode", choices=["in-process", "3-process", "both"], default="both")
    parser.add_argument("--serve-venue", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_venue:
        _serve_venue()
        return
    for mode in ("in-process", "3-process"):
        if args.mode not in (mode, "both"):
            continue
        venue, url, ws = _venue()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                config = _config(Path(tmp), url, ws)
                run = in_process if mode == "in-process" else three_processes
                _report(mode, run(config, args.seconds))
        finally:
            venue.send_signal(signal.SIGTERM)
            venue.wait(30)


if __name__ == "__main__":
    main()
