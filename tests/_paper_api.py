"""A paper kernel trading live behind a real API server on loopback, for the dashboard and the
terminal client tests.

The kernel is the backtest's parts wired for paper trading (wall clock, a simulated BINANCE
venue) with the built-in SMA cross strategy running in it. A feeder thread plays the demo month
of real BTC/USDT minute bars into it, a few per second, so positions, fills and PnL change while
a test watches. The API attaches to it through ``KernelNodeHandle`` (``ttquant.api.kernel_node``),
the seam the API offers for a kernel in its own process. The store holds two real backtest runs
for the runs browser.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog
import uvicorn
from tests.conftest import DEMO_DATA
from tests.integration._apikit import free_port

from ttquant.api.app import create_app
from ttquant.api.kernel_node import KernelNodeHandle
from ttquant.api.settings import ApiSettings
from ttquant.core.bus import MessageBus
from ttquant.core.clock import LiveClock
from ttquant.data.bars import load_ohlcv
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.engine.runner import run_backtest
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, BarType, bar_topic
from ttquant.model.instruments import instrument_from_symbol
from ttquant.monitor.logging import LogBuffer, configure_logging
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.config import RiskConfig
from ttquant.risk.engine import RiskEngine
from ttquant.store.runs import save_backtest
from ttquant.strategy.library.ma_cross import SMACross
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.venue import SimulatedVenue

BTC = "BTC/USDT@BINANCE"
MINUTE_NS = 60_000_000_000
STRATEGY_ID = "sma"
START_CASH = 1_000_000.0
RISK = RiskConfig(max_open_orders=25, max_order_qty=5.0, max_daily_cancels=500)


class PaperKernel:
    """Clock, bus, cache, portfolio, OMS, risk engine, one simulated venue, one strategy."""

    def __init__(self) -> None:
        self.clock = LiveClock()
        self.bus = MessageBus()
        self.cache = Cache(self.clock.timestamp_ns)
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        self.venue = SimulatedVenue("BINANCE", self.cache, starting_balances={"USDT": START_CASH})
        self.execution.register_venue(self.venue)
        self.portfolio.register_account(self.venue.account, self.venue.positions)
        instrument = instrument_from_symbol("BTC/USDT", "BINANCE", price_increment=0.01)
        self.cache.add_instrument(instrument)
        self.venue.add_instrument(instrument)
        self.bar_type = BarType(BTC, MINUTE_NS)
        strategy = SMACross(strategy_id=STRATEGY_ID, fast=3, slow=8, size=0.5)
        strategy.bind(
            clock=self.clock,
            cache=self.cache,
            portfolio=self.portfolio,
            bus=self.bus,
            execution=self.risk,
            bar_types=[self.bar_type],
        )
        self.strategies: list[Strategy] = [strategy]
        self.risk.configure(RISK)
        self.risk.start([STRATEGY_ID], "USDT")
        strategy.on_start()


class Feeder:
    """Plays the demo month's bars into the kernel on a thread, stamped with the wall clock."""

    def __init__(self, kernel: PaperKernel, handle: KernelNodeHandle, per_second: float) -> None:
        self.kernel, self.handle = kernel, handle
        self.bars = load_ohlcv(DEMO_DATA)
        self.period = 1.0 / per_second
        self.index = 0
        self._stop = threading.Event()
        self._running = True
        self._step = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bar-feeder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def pause(self) -> None:
        """No bar after this returns (so a test can compare two views of a still market)."""
        with self._step:
            self._running = False

    def resume(self) -> None:
        with self._step:
            self._running = True

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            with self._step:
                if self._running:
                    self.next_bar()

    def next_bar(self) -> Bar:
        b, i, k = self.bars, self.index, self.kernel
        self.index += 1
        now = time.time_ns()
        bar = Bar(
            k.bar_type,
            float(b.open[i]),
            float(b.high[i]),
            float(b.low[i]),
            float(b.close[i]),
            float(b.volume[i]),
            now,
            now + 1,
        )
        with self.handle.lock:  # the API's threads read the kernel under the same lock
            k.venue.process_bar(bar)
            k.execution.process_events()
            k.cache.prices[BTC] = bar.close
            k.bus.publish(bar_topic(k.bar_type), bar)
            k.execution.process_events()
        return bar


@dataclass
class PaperApi:
    base: str
    admin: str
    kernel: PaperKernel
    feeder: Feeder
    run_ids: list[str]

    @property
    def url(self) -> str:
        return f"{self.base}/ui/"

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/api/v1",
            headers={"Authorization": f"Bearer {token or self.admin}"},
            timeout=30,
        )

    def token(self, role: str, account: str | None = None) -> str:
        with self.client() as c:
            answer = c.post("/auth/tokens", json={"name": role, "role": role, "account": account})
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token

    def open_orders(self) -> list[str]:
        """Ids of the kernel's open orders, read as the API reads them."""
        with self.feeder.handle.lock:
            return [o.client_order_id for o in self.kernel.cache.open_orders()]


def _store_runs(url: str) -> list[str]:
    """Two real backtests of the demo month that differ only in their SMA windows."""
    ids = []
    for fast, slow in ((10, 30), (20, 60)):
        config = BacktestConfig(
            data=[DataConfig(file=str(DEMO_DATA), symbol="BTC/USDT")],
            strategies=[StrategyConfig(name="sma_cross", params={"fast": fast, "slow": slow})],
            venue=VenueConfig(name="BINANCE", cash=100_000.0, fee_bps=10.0),
        )
        ids.append(save_backtest(run_backtest(config), url))
    return ids


@contextmanager
def paper_api(home: Path, bars_per_second: float = 4.0) -> Iterator[PaperApi]:
    """The API on a free loopback port over a paper kernel that trades while the test runs."""
    admin = "ttq_" + "d" * 43
    store_url = f"sqlite:///{home / 'records.sqlite'}"
    run_ids = _store_runs(store_url)
    settings = ApiSettings(
        store_url=store_url,
        work_dir=home / "jobs",
        admin_token=admin,
        port=free_port(),
        ws_heartbeat_s=1.0,
    )
    kernel = PaperKernel()
    handle = KernelNodeHandle(kernel, mode="paper", name="paper-dash")
    buffer = LogBuffer()  # the API's log records, as `ttq serve` keeps them for /logs
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    redactor = configure_logging("INFO", stream=io.StringIO(), buffer=buffer)
    app = create_app(settings, node=handle, log_buffer=buffer, redactor=redactor)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_config=None)
    )
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    feeder = Feeder(kernel, handle, bars_per_second)
    for _ in range(10):  # a price and the slow average's window before anyone looks
        feeder.next_bar()
    feeder.start()
    try:
        yield PaperApi(f"http://127.0.0.1:{settings.port}", admin, kernel, feeder, run_ids)
    finally:
        feeder.stop()
        server.should_exit = True
        thread.join(15)
        root.setLevel(saved[0])  # leave logging as the next test in this process expects it
        root.handlers[:] = saved[1]
        structlog.reset_defaults()
