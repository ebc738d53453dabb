"""The node split into processes: market data, strategies, gateway, joined by ZeroMQ.

```
ttq node md       exchange feeds ─► PUB market data, shared-memory prices, recorder
ttq node strategy SUB market data ─► strategies ─► PUSH order requests
                  SUB returns ─► orders, fills, positions of its strategies
ttq node gateway  PULL requests ─► risk ─► execution ─► venue (exchange or paper)
                  SUB market data (prices for risk, paper fills); PUB order and fill returns
```

All three read the same config file. The gateway is where orders are checked, sent, recorded
and reconciled (it is a node without strategies); the strategy process is a node whose venue is
the gateway (:class:`GatewayClient`); ``ttq node run`` is all of it in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from ttquant.engine.ipc import (
    CancelOrder,
    Codec,
    ModifyOrder,
    SubmitOrder,
    ZmqReader,
    bind,
    connect,
)
from ttquant.engine.node import TradingNode
from ttquant.engine.node_config import NodeConfig, load_node_config
from ttquant.engine.node_venues import build_adapter
from ttquant.engine.recorder import Recorder
from ttquant.engine.shm import PriceBoard
from ttquant.model.account import AccountState
from ttquant.model.data import BarType, QuoteTick, TradeTick, parse_step
from ttquant.model.events import (
    OrderDenied,
    OrderEvent,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
)
from ttquant.model.instruments import instrument_id
from ttquant.model.orders import Order
from ttquant.venues.reasons import LiveRejectReason

log = logging.getLogger("ttquant.node")

# applied by the strategy process itself when it sends a request: not returned
_LOCAL_EVENTS = (OrderSubmitted, OrderPendingCancel, OrderPendingUpdate)


def shm_name(config: NodeConfig) -> str:
    return config.ipc.shm or f"ttq-{config.node.name}-prices"


# -- market data process ------------------------------------------------------------------------


class MarketDataProcess:
    """Feeds to PUB, the shared price board and (when configured) the recorder."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.codec = Codec()
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.pub = bind(self.context, zmq.PUB, config.ipc.market_data)
        self.board = PriceBoard(shm_name(config), config.ipc.shm_slots)
        self.adapter = build_adapter(config, config.build_instruments(), market_data_only=True)
        self.adapter.set_data_handler(self.publish)
        self.adapter.set_event_handler(lambda event: None)
        self.recorder: Recorder | None = None
        if config.recorder.catalog:
            spool = Path(config.recorder.catalog) / f".spool-{config.node.name}"
            self.recorder = Recorder(
                config.recorder.catalog, spool, flush_interval=config.recorder.flush_interval
            )
        self.published = 0
        self._stop = asyncio.Event()

    def publish(self, data: Any) -> None:
        self.pub.send(self.codec.market_frame(data))
        self.published += 1
        kind = type(data)
        if kind is QuoteTick:
            self.board.quote(
                data.instrument_id,
                data.bid_price,
                data.ask_price,
                data.bid_size,
                data.ask_size,
                data.ts_init,
            )
        elif kind is TradeTick:
            self.board.trade(data.instrument_id, data.price, data.ts_init)
        if self.recorder is not None:
            self.recorder.record(data)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stop.set)
        try:
            await self.adapter.connect()
            venue = self.config.venue_name
            for spec in self.config.instruments:
                iid = instrument_id(spec.symbol, venue)
                for kind in spec.data:
                    await _subscribe(self.adapter, kind, iid)
            log.info("market data process publishing on %s", self.config.ipc.market_data)
            while not self._stop.is_set():
                if self.recorder is not None:
                    self.recorder.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.2)
        finally:
            with contextlib.suppress(Exception):
                await self.adapter.disconnect()
            if self.recorder is not None:
                self.recorder.close()
            self.board.close()
            self.pub.close()
            self.context.term()

    def request_stop(self) -> None:
        self._stop.set()


async def _subscribe(adapter: Any, kind: str, iid: str) -> None:
    if kind == "quotes":
        await adapter.subscribe_quotes(iid)
    elif kind == "trades":
        await adapter.subscribe_trades(iid)
    elif kind == "book":
        await adapter.subscribe_book(iid)
    else:
        await adapter.subscribe_bars(BarType(iid, parse_step(kind.removeprefix("bars_"))))


# -- strategy process ---------------------------------------------------------------------------


class GatewayClient:
    """The strategy process's venue: requests go to the gateway, its returns come back."""

    def __init__(self, config: NodeConfig, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        self.name = config.venue_name
        self.codec = Codec()
        self.push = connect(context, zmq.PUSH, config.ipc.orders)
        self.returns = connect(context, zmq.SUB, config.ipc.returns)
        self._emit: Callable[[Any], None] = lambda event: None
        self.owns: Callable[[str], bool] = lambda client_order_id: True
        self.reader = ZmqReader(self.returns, self._on_return, "returns")

    def set_event_handler(self, handler: Callable[[Any], None]) -> None:
        self._emit = handler

    def submit_list(self, orders: Any) -> None:
        for order in orders:
            self._send(SubmitOrder.of(order), order)

    def cancel(self, order: Order) -> None:
        self._send(CancelOrder(client_order_id=order.client_order_id), None)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        request = ModifyOrder(
            client_order_id=order.client_order_id,
            quantity=quantity,
            price=price,
            trigger_price=trigger_price,
        )
        self._send(request, None)

    def _send(self, request: Any, order: Order | None) -> None:
        try:
            self.push.send(self.codec.request_frame(request), zmq.NOBLOCK)
        except zmq.Again:
            if order is not None:
                now = time.time_ns()
                self._emit(
                    OrderRejected(
                        **order.event_ids(now),
                        reason=LiveRejectReason.NOT_SENT,
                        message="the gateway is not reachable",
                    )
                )

    def _on_return(self, frame: bytes) -> None:
        event = self.codec.decode_return(frame)
        if isinstance(event, AccountState):
            self._emit(event)
            return
        if not self.owns(event.client_order_id):
            return  # an order of another strategy process
        if type(event) is OrderDenied:  # refused by the gateway's risk engine after we sent it
            event = OrderRejected(
                client_order_id=event.client_order_id,
                strategy_id=event.strategy_id,
                instrument_id=event.instrument_id,
                ts_event=event.ts_event,
                ts_init=event.ts_init,
                reason=event.reason,
                message=event.message,
            )
        self._emit(event)

    def close(self) -> None:
        self.reader.stop()
        self.push.close()
        self.returns.close()


def strategy_node(config: NodeConfig, config_path: Path | None = None) -> TradingNode:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    client = GatewayClient(config, context)
    node = TradingNode(config, config_path=config_path, role="strategy", venue_client=client)
    client.owns = lambda cid: node.cache.order(cid) is not None
    md = connect(context, zmq.SUB, config.ipc.market_data)
    codec = Codec()
    market = ZmqReader(md, lambda f: node.inbox.put(codec.decode_market(f)), "market data")

    async def start() -> None:
        market.start()
        client.reader.start()

    async def stop() -> None:
        market.stop()
        md.close()
        client.close()
        context.term()

    node.start_hooks.append(start)
    node.stop_hooks.append(stop)
    return node


# -- gateway process ----------------------------------------------------------------------------


def gateway_node(config: NodeConfig, config_path: Path | None = None) -> TradingNode:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    node = TradingNode(config, config_path=config_path, role="gateway")
    codec = Codec()
    pull = bind(context, zmq.PULL, config.ipc.orders)
    pub = bind(context, zmq.PUB, config.ipc.returns)
    md = connect(context, zmq.SUB, config.ipc.market_data)
    market = ZmqReader(md, lambda f: node.inbox.put(codec.decode_market(f)), "market data")
    requests = ZmqReader(pull, lambda f: node.inbox.put(codec.decode_request(f)), "requests")

    def forward(event: OrderEvent) -> None:
        if not isinstance(event, _LOCAL_EVENTS):
            pub.send(codec.event_frame(event))

    def forward_account(state: AccountState) -> None:
        pub.send(codec.account_frame(state))

    def submit(request: SubmitOrder) -> None:
        if node.cache.order(request.client_order_id) is not None:
            now = time.time_ns()
            forward(
                OrderRejected(
                    client_order_id=request.client_order_id,
                    strategy_id=request.strategy_id,
                    instrument_id=request.instrument_id,
                    ts_event=now,
                    ts_init=now,
                    reason=LiveRejectReason.DUPLICATE_ORDER_ID,
                    message=f"the gateway already has an order {request.client_order_id}",
                )
            )
            return
        order = request.to_order()
        node.clock.hold(order.ts_init)
        node.risk.submit([order])

    def cancel(request: CancelOrder) -> None:
        order = node.cache.order(request.client_order_id)
        if order is not None:
            node.risk.cancel(order)

    def modify(request: ModifyOrder) -> None:
        order = node.cache.order(request.client_order_id)
        if order is not None:
            node.risk.modify(order, request.quantity, request.price, request.trigger_price)

    node.add_handler(SubmitOrder, submit)
    node.add_handler(CancelOrder, cancel)
    node.add_handler(ModifyOrder, modify)
    node.bus.subscribe("events.order.*", forward, -200_000)
    node.account_listeners.append(forward_account)

    async def start() -> None:
        market.start()
        requests.start()

    async def stop() -> None:
        market.stop()
        requests.stop()
        for socket in (md, pull, pub):
            socket.close()
        context.term()

    node.start_hooks.append(start)
    node.stop_hooks.append(stop)
    return node


# -- entry points -------------------------------------------------------------------------------


def run_market_data(config_path: Path) -> None:
    process = MarketDataProcess(load_node_config(config_path))
    asyncio.run(process.run())


def run_strategy_process(config_path: Path, mode: str | None = None) -> None:
    node = strategy_node(load_node_config(config_path, mode), config_path)
    asyncio.run(node.run(freeze_gc=True))


def run_gateway(config_path: Path, mode: str | None = None) -> None:
    node = gateway_node(load_node_config(config_path, mode), config_path)
    asyncio.run(node.run(freeze_gc=True))
