"""Helpers for running trading nodes against the local test venue: a venue on its own thread
(it outlives the node processes a test kills), node configs, node processes, store reads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from tests.conftest import REPO, SHARED_DATA

from ttquant.testvenue import TestVenue, binance_venue, okx_venue

T = TypeVar("T")
KEY, SECRET, PASSPHRASE = "test-key", "test-secret", "test-pass"
QUOTE_MAKER = REPO / "examples" / "strategies" / "quote_maker.py"
# loopback timings: faults are noticed and healed within a second or two
FAST = """request_timeout = 1.0
connect_timeout = 5.0
stale_after = 1.5
ping_interval = 0.5
backoff_initial = 0.05
backoff_max = 0.5
unknown_query_delay = 0.2
"""
INSTRUMENTS = {
    "binance-spot": """[[instruments]]
symbol = "BTC/USDT"
price_increment = 0.01
size_increment = 0.00001
min_quantity = 0.00001
min_notional = 5.0
maker_fee = 0.001
taker_fee = 0.001
""",
    "binance-usdm": """[[instruments]]
symbol = "BTC/USDT:USDT"
price_increment = 0.1
size_increment = 0.001
min_quantity = 0.001
min_notional = 100.0
maker_fee = 0.0002
taker_fee = 0.0005
""",
    "okx": """[[instruments]]
symbol = "BTC/USDT"
price_increment = 0.1
size_increment = 0.00000001
min_quantity = 0.00001
maker_fee = 0.0008
taker_fee = 0.001
""",
}


class VenueThread:
    """A test venue serving from a thread of its own, driven from the test's thread."""

    def __init__(self, exchange: str, speed: float = 5.0) -> None:
        self.exchange_name = exchange
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.venue: TestVenue = self.call(self._make(exchange, speed))

    @staticmethod
    async def _make(exchange: str, speed: float) -> TestVenue:
        if exchange == "okx":
            venue = okx_venue(
                SHARED_DATA, api_key=KEY, api_secret=SECRET, passphrase=PASSPHRASE, speed=speed
            )
        else:
            market = exchange.removeprefix("binance-")
            venue = binance_venue(
                SHARED_DATA, market=market, api_key=KEY, api_secret=SECRET, speed=speed
            )
        await venue.start()
        return venue

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def sync(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the venue's loop (a consistent view of its state)."""

        async def run() -> T:
            return fn()

        return self.call(run())

    @property
    def symbol(self) -> str:
        return next(iter(self.venue.exchange.instruments))

    def trades(self) -> list[Any]:
        return self.sync(lambda: list(self.venue.exchange.trades))

    def position(self) -> float:
        return self.sync(lambda: self.venue.exchange.position(self.symbol)[0])

    def open_orders(self) -> int:
        return self.sync(lambda: len(self.venue.exchange.open_orders()))

    def close(self) -> None:
        with_timeout = asyncio.run_coroutine_threadsafe(self.venue.stop(), self.loop)
        try:
            with_timeout.result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


def node_config(
    tmp: Path,
    venue: TestVenue,
    exchange: str,
    *,
    mode: str,
    name: str = "t",
    strategy: str = f"{QUOTE_MAKER}:QuoteMaker",
    params: str = "size = 0.001, every = 40, max_open = 4, refresh = 100000",
    node_extra: str = "",
    data: str = '["quotes", "trades"]',
    extra: str = "",
    store: bool = True,
) -> Path:
    """A node config for ``venue`` in ``tmp`` (store and journal inside it); its path."""
    venue_table = (
        f'exchange = "okx"\npassphrase = "{PASSPHRASE}"\n'
        if exchange == "okx"
        else f'exchange = "binance"\nmarket = "{exchange.removeprefix("binance-")}"\n'
    )
    if exchange == "binance-usdm":
        venue_table += 'depth_speed = "0ms"\n'
    paper = (
        'account = "margin"\nbalances = { USDT = 1000000 }\nleverage = 10\n'
        if exchange == "binance-usdm"
        else 'account = "cash"\nbalances = { USDT = 1000000, BTC = 10 }\n'
    )
    text = f"""[node]
name = "{name}"
mode = "{mode}"
{f'store = "sqlite:///{tmp / "records.sqlite"}"' if store else ""}
state_dir = "{tmp / "state"}"
reload_interval = 0.2
{node_extra}
[venue]
{venue_table}rest_url = "{venue.url}"
ws_url = "{venue.ws_url}"
api_key = "{KEY}"
api_secret = "{SECRET}"
{FAST}
[paper]
{paper}
{INSTRUMENTS[exchange]}data = {data}

{_strategy_table(strategy, params)}{extra}"""
    path = tmp / "node.toml"
    path.write_text(text)
    return path


def _strategy_table(strategy: str, params: str) -> str:
    if not strategy:
        return ""
    return f'[[strategies]]\nname = "{strategy}"\nid = "mm"\nparams = {{ {params} }}\n'


def start_node(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``ttq node run CONFIG`` (or another ``ttq node`` command given in ``args``)."""
    command = list(args) or ["run"]
    out = open(log or config.with_suffix(".log"), "ab")  # noqa: SIM115 - owned by the process
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "ttquant.cli.main", "node", *command, str(config)],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env=env,
    )


def stop_node(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.05)


def query(db: Path, sql: str, **params: Any) -> list[Any]:
    """Rows of a read-only query on the node's SQLite store (empty before it exists)."""
    if not db.exists():
        return []
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            try:
                return list(conn.execute(sa.text(sql), params))
            except sa.exc.OperationalError:
                return []  # not migrated yet
    finally:
        engine.dispose()


class NodeThread:
    """A node (built from a config file) running on a thread of its own, like one the REST API
    controls: tests call ``node.control`` from their own thread."""

    def __init__(self, config_path: Path, mode: str | None = None) -> None:
        from ttquant.engine.node import TradingNode
        from ttquant.engine.node_config import load_node_config

        self.node = TradingNode(load_node_config(config_path, mode), config_path=config_path)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.node.ready.is_set():
            if self.error is not None or time.monotonic() > deadline:
                raise AssertionError(f"node did not start: {self.error!r}")
            time.sleep(0.02)

    def _run(self) -> None:
        try:
            asyncio.run(self.node.run())
        except BaseException as exc:  # reported by the test's thread
            self.error = exc

    def stop(self) -> None:
        self.node.request_stop()
        self._thread.join(30)
        assert not self._thread.is_alive(), "node did not stop"
        if self.error is not None:
            raise self.error
