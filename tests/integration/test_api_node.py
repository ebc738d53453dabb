"""The node endpoints and node topics over a paper kernel assembled in the API's process.

The kernel is the backtest's parts wired without the backtest engine (live clock, simulated
venues at BINANCE and OKX), fed real BTC/USDT minute bars by the test; the API runs on a real
uvicorn server on loopback. Fill prices are checked against the bars' own opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.conftest import DEMO_DATA
from tests.integration._apikit import free_port
from websockets.asyncio.client import ClientConnection, connect

from ttquant.api.app import create_app
from ttquant.api.kernel_node import KernelNodeHandle
from ttquant.api.settings import ApiSettings
from ttquant.core.bus import MessageBus
from ttquant.core.clock import LiveClock
from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, BarType, bar_topic
from ttquant.model.instruments import instrument_from_symbol
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.engine import RiskEngine
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.venue import SimulatedVenue

BTC = "BTC/USDT@BINANCE"
MINUTE = 60_000_000_000


@dataclass
class PaperKernel:
    """The kernel's parts, wired the way a paper node wires them."""

    clock: LiveClock = field(default_factory=LiveClock)
    bus: MessageBus = field(default_factory=MessageBus)
    strategies: list[Strategy] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cache = Cache(self.clock.timestamp_ns)
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        self.venues = {}
        for name, symbol in (("BINANCE", "BTC/USDT"), ("OKX", "ETH/USDT")):
            venue = SimulatedVenue(name, self.cache, starting_balances={"USDT": 100_000.0})
            self.execution.register_venue(venue)
            self.portfolio.register_account(venue.account, venue.positions)
            instrument = instrument_from_symbol(symbol, name, price_increment=0.01)
            self.cache.add_instrument(instrument)
            venue.add_instrument(instrument)
            self.venues[name] = venue
        self.risk.start([], "USDT")


class Feeder:
    """Plays the demo month's bars into the kernel, one at a time, stamped with the wall clock."""

    def __init__(self, kernel: PaperKernel, handle: KernelNodeHandle, bars: OHLCV) -> None:
        self.kernel, self.handle, self.bars = kernel, handle, bars
        self.index = 0
        self.bar_type = BarType(BTC, MINUTE)

    def next_bar(self) -> Bar:
        i = self.index
        self.index += 1
        now = time.time_ns()
        b = self.bars
        bar = Bar(
            self.bar_type,
            float(b.open[i]),
            float(b.high[i]),
            float(b.low[i]),
            float(b.close[i]),
            float(b.volume[i]),
            now,
            now + 1,
        )
        with self.handle.lock:
            self.kernel.venues["BINANCE"].process_bar(bar)
            self.kernel.execution.process_events()
            self.kernel.cache.prices[BTC] = bar.close
            self.kernel.bus.publish(bar_topic(self.bar_type), bar)
        return bar


@dataclass
class NodeServer:
    base: str
    admin: str
    kernel: PaperKernel
    feeder: Feeder

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def token(self, role: str, account: str | None = None) -> str:
        with self.client(self.admin) as c:
            answer = c.post("/auth/tokens", json={"name": "t", "role": role, "account": account})
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    home: Path = tmp_path_factory.mktemp("node_api")
    admin = "ttq_" + "n" * 43
    settings = ApiSettings(
        store_url=f"sqlite:///{home / 'records.sqlite'}",
        work_dir=home / "jobs",
        admin_token=admin,
        port=free_port(),
        ws_heartbeat_s=1.0,
    )
    kernel = PaperKernel()
    handle = KernelNodeHandle(kernel, mode="paper", name="paper-1")
    app = create_app(settings, node=handle)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    feeder = Feeder(kernel, handle, load_ohlcv(DEMO_DATA))
    feeder.next_bar()
    try:
        yield NodeServer(f"http://127.0.0.1:{settings.port}", admin, kernel, feeder)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_manual_market_order_fills_at_the_next_bars_open(node_server: NodeServer) -> None:
    trader = node_server.token("trader")
    with node_server.client(trader) as c:
        status = c.get("/node").json()
        assert status["mode"] == "paper" and status["trader_id"] == "paper-1"
        sent = c.post("/orders", json={"instrument_id": BTC, "side": "buy", "quantity": 0.5})
        assert sent.status_code == 201, sent.text
        order = sent.json()
        assert order["status"] == "ACCEPTED" and order["account"] == "BINANCE"
        bar = node_server.feeder.next_bar()
        orders = {o["client_order_id"]: o for o in c.get("/orders").json()}
        positions = c.get("/positions").json()
        fills = c.get("/fills").json()
        balances = {(b["account"], b["currency"]): b for b in c.get("/balances").json()}
        pnl = c.get("/pnl").json()
        ready = c.get("/ready").json()
    assert orders[order["client_order_id"]]["status"] == "FILLED"
    assert [(f["side"], f["qty"], f["price"]) for f in fills][-1] == ("buy", 0.5, bar.open)
    position = next(p for p in positions if p["instrument_id"] == BTC)
    assert position["quantity"] == 0.5 and position["avg_px"] == bar.open
    assert position["unrealized_pnl"] == pytest.approx(0.5 * (bar.close - bar.open))
    assert balances[("OKX", "USDT")]["total"] == 100_000.0
    equity = node_server.kernel.portfolio.equity()
    assert pnl["equity"] == pytest.approx(equity)
    total = next(r for r in pnl["rows"] if r["period"] == "total" and r["instrument_id"] == BTC)
    assert total["unrealized"] == pytest.approx(position["unrealized_pnl"])
    assert "venue:BINANCE" in {check["name"] for check in ready["checks"]}


def test_kill_switch_cancels_every_open_order(node_server: NodeServer) -> None:
    trader, admin = node_server.token("trader"), node_server.admin
    price = node_server.kernel.cache.price(BTC)
    with node_server.client(trader) as c:
        resting = [
            c.post(
                "/orders",
                json={
                    "instrument_id": BTC,
                    "side": "buy",
                    "quantity": 0.01,
                    "order_type": "limit",
                    "price": round(price * (0.5 + 0.01 * k), 2),
                },
            ).json()["client_order_id"]
            for k in range(3)
        ]
        open_ids = {o["client_order_id"] for o in c.get("/orders", params={"open": True}).json()}
        assert set(resting) <= open_ids
        risk = c.post("/risk/kill-switch", json={"active": True, "reason": "test"}).json()
        assert risk["kill_switch"] and risk["state"] == "HALTED"
        assert c.get("/orders", params={"open": True}).json() == []
        statuses = {o["client_order_id"]: o["status"] for o in c.get("/orders").json()}
        assert all(statuses[i] == "CANCELED" for i in resting)
        denied = c.post("/orders", json={"instrument_id": BTC, "side": "buy", "quantity": 0.01})
        assert denied.json()["status"] == "DENIED"
        assert c.post("/risk/kill-switch", json={"active": False}).status_code == 403
    with node_server.client(admin) as c:
        released = c.post("/risk/kill-switch", json={"active": False}).json()
    assert not released["kill_switch"] and released["state"] == "ACTIVE"


def test_cancel_and_cancel_all(node_server: NodeServer) -> None:
    trader = node_server.token("trader")
    price = node_server.kernel.cache.price(BTC)
    limit = {"instrument_id": BTC, "side": "buy", "quantity": 0.01, "order_type": "limit"}
    with node_server.client(trader) as c:
        ids = [
            c.post("/orders", json={**limit, "price": round(price * 0.6, 2)}).json()[
                "client_order_id"
            ]
            for _ in range(3)
        ]
        canceled = c.delete(f"/orders/{ids[0]}").json()
        assert canceled["status"] == "CANCELED"
        assert c.delete(f"/orders/{ids[0]}").status_code == 409
        assert c.delete("/orders").json() == {"canceled": 2}
        assert c.get("/orders", params={"open": True}).json() == []
        no_price = c.post("/orders", json=limit)
        assert no_price.status_code == 422 and "needs a price" in no_price.text
        unknown = c.post("/orders", json={**limit, "instrument_id": "DOGE/USDT@BINANCE"})
        assert unknown.status_code == 404


def test_a_token_scoped_to_one_account_sees_only_it(node_server: NodeServer) -> None:
    okx = node_server.token("trader", account="OKX")
    binance = node_server.token("trader", account="BINANCE")
    with node_server.client(binance) as c:
        price = node_server.kernel.cache.price(BTC)
        order = {"instrument_id": BTC, "side": "buy", "quantity": 0.01}
        binance_order = c.post(
            "/orders", json={**order, "order_type": "limit", "price": round(price * 0.6, 2)}
        ).json()
        # a position of its own, whichever tests ran before on this worker
        assert c.post("/orders", json=order).status_code == 201
        node_server.feeder.next_bar()
        assert c.get("/positions").json()
    with node_server.client(okx) as c:
        assert c.get("/positions").json() == []
        assert c.get("/orders").json() == []
        assert c.get("/fills").json() == []
        assert {b["account"] for b in c.get("/balances").json()} == {"OKX"}
        assert c.delete(f"/orders/{binance_order['client_order_id']}").status_code == 404
        assert c.post("/orders", json=order).status_code == 404
        assert c.delete("/orders").json() == {"canceled": 0}
        assert c.post("/risk/kill-switch", json={"active": True}).status_code == 403
    with node_server.client(binance) as c:
        assert c.delete("/orders").json() == {"canceled": 1}


def _messages(frame: str | bytes) -> list[dict[str, Any]]:
    """The messages of one frame (several when batched, one per line)."""
    return [json.loads(line) for line in str(frame).split("\n")]


def test_websocket_streams_orders_fills_and_positions(node_server: NodeServer) -> None:
    trader = node_server.token("trader")
    okx = node_server.token("read_only", account="OKX")
    ws_url = node_server.base.replace("http", "ws") + "/api/v1/ws"
    topics = ["orders", "fills", "positions"]

    async def collect(
        socket: ClientConnection, got: dict[str, list[dict[str, Any]]], done: Callable[[], bool]
    ) -> None:
        async with asyncio.timeout(30):
            while not done():
                for message in _messages(await socket.recv()):
                    if "topic" in message:
                        got.setdefault(message["topic"], []).append(message)

    async def scenario() -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        async with connect(ws_url) as ws, connect(ws_url) as other:
            for socket, token in ((ws, trader), (other, okx)):
                await socket.send(json.dumps({"op": "auth", "token": token}))
                await socket.send(json.dumps({"op": "subscribe", "topics": topics}))
            # the order goes in once both subscriptions are live: their snapshots have come
            got: dict[str, list[dict[str, Any]]] = {}
            others: dict[str, list[dict[str, Any]]] = {}
            await collect(ws, got, lambda: set(topics) <= set(got))
            await collect(other, others, lambda: set(topics) <= set(others))
            with node_server.client(trader) as c:
                await asyncio.to_thread(
                    c.post, "/orders", json={"instrument_id": BTC, "side": "sell", "quantity": 0.2}
                )
            await asyncio.to_thread(node_server.feeder.next_bar)
            await collect(ws, got, lambda: any(m["type"] == "delta" for m in got.get("fills", [])))
            other_deltas: list[str] = []
            with contextlib.suppress(TimeoutError):  # nothing may come: wait a second
                async with asyncio.timeout(1.0):
                    while True:
                        for message in _messages(await other.recv()):
                            if message["type"] == "delta":
                                other_deltas.append(message["topic"])
            return got, other_deltas

    got, other_deltas = asyncio.run(scenario())
    assert {"orders", "fills", "positions"} <= set(got)
    for topic, messages in got.items():
        assert messages[0]["type"] == "snapshot"
        seqs = [m["seq"] for m in messages]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), topic
    statuses = [m["data"]["status"] for m in got["orders"][1:]]
    assert statuses[-1] == "FILLED"
    fill = got["fills"][-1]["data"]
    assert fill["side"] == "sell" and fill["qty"] == 0.2
    assert other_deltas == []  # BINANCE's orders are not the OKX token's business


def test_metrics_endpoint_serves_the_nodes_trading_series(node_server: NodeServer) -> None:
    trader = node_server.token("trader")
    with node_server.client(trader) as c:
        c.post("/orders", json={"instrument_id": BTC, "side": "buy", "quantity": 0.1})
    node_server.feeder.next_bar()
    kernel = node_server.kernel
    deadline = time.monotonic() + 10
    net = kernel.portfolio.net_position(BTC)
    while True:  # fills are counted as they happen, positions sampled every second
        text = httpx.get(f"{node_server.base}/metrics", timeout=10).text
        fills = _sample(text, "ttq_fills_total", 'mode="paper"')
        quantity = _sample(text, "ttq_position_quantity", f'instrument="{BTC}"')
        if fills == len(kernel.execution.fills) and quantity == pytest.approx(net):
            break
        assert time.monotonic() < deadline, f"{fills} fills and {quantity} {BTC} exported"
        time.sleep(0.2)
    assert _sample(text, "ttq_equity", 'venue="OKX"') == pytest.approx(100_000.0)
    assert "ttq_node_heartbeat_timestamp_seconds{" in text


def _sample(text: str, name: str, label: str) -> float:
    """The sum of the samples of ``name`` carrying ``label``."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and label in line
    )
