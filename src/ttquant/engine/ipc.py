"""The wire between the split node's processes: ZeroMQ sockets carrying msgspec msgpack.

Three channels, as in the seed design:

* **market data** (md PUB → strategy and gateway SUB), topic ``q|t|b|d`` + instrument (or bar
  type): the kernel's own ``QuoteTick``/``TradeTick``/``Bar``/``BookDepth`` structs;
* **order requests** (strategy PUSH → gateway PULL): :class:`SubmitOrder`, :class:`CancelOrder`,
  :class:`ModifyOrder`;
* **returns** (gateway PUB → strategy SUB), topic ``e.<strategy id>.<event type>``: the order
  events and fills the gateway's execution engine applied, and ``a`` account states.

A message is one ZeroMQ frame: the topic's length (one byte), the topic, then a :class:`Packet`
``[version, body]``; one frame rather than a topic frame and a body frame halves the receiver's
per-message cost. A peer speaking another version is refused with a message saying which, never
misread. Readers drain their socket in one go when its file descriptor turns readable (ZeroMQ
signals edge-triggered), so a burst costs one wake-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec
import zmq

from ttquant.core.errors import DataError
from ttquant.engine.order_spec import order_spec, rebuild_order
from ttquant.model import events as events_module
from ttquant.model.account import AccountState
from ttquant.model.data import Bar, QuoteTick, TradeTick
from ttquant.model.enums import (
    OrderSide,
    OrderType,
    TimeInForce,
    TrailingOffsetType,
)
from ttquant.model.events import OrderEvent
from ttquant.model.orders import Order
from ttquant.venues.book import BookDepth

log = logging.getLogger(__name__)

WIRE_VERSION = 1
# messages queued per socket before a publisher drops (ZeroMQ's default, 1000, loses a burst)
_HWM = 1_000_000
T = TypeVar("T")


class Packet(msgspec.Struct, Generic[T], array_like=True, gc=False):
    v: int
    body: T


class SubmitOrder(msgspec.Struct, frozen=True, kw_only=True, tag="submit"):
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: float
    price: float | None = None
    trigger_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_ns: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    exit_reason: str = ""
    tags: tuple[str, ...] = ()
    ts_init: int = 0
    trailing_offset: float | None = None
    trailing_offset_type: TrailingOffsetType = TrailingOffsetType.PRICE

    @classmethod
    def of(cls, order: Order) -> SubmitOrder:
        return cls(**order_spec(order))

    def to_order(self) -> Order:
        return rebuild_order(self)


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag="cancel"):
    client_order_id: str


class ModifyOrder(msgspec.Struct, frozen=True, kw_only=True, tag="modify"):
    client_order_id: str
    quantity: float | None = None
    price: float | None = None
    trigger_price: float | None = None


Request = SubmitOrder | CancelOrder | ModifyOrder
MarketData = QuoteTick | TradeTick | Bar | BookDepth

_MARKET_PREFIX: dict[type, bytes] = {QuoteTick: b"q", TradeTick: b"t", Bar: b"b", BookDepth: b"d"}
EVENT_TYPES: dict[str, type[OrderEvent]] = {
    name: cls
    for name, cls in vars(events_module).items()
    if isinstance(cls, type) and issubclass(cls, OrderEvent) and cls is not OrderEvent
}
ACCOUNT_TOPIC = b"a"

_encoder = msgspec.msgpack.Encoder()


def _check(packet: Packet[Any], what: str) -> Any:
    if packet.v != WIRE_VERSION:
        raise DataError(
            f"{what}: wire version {packet.v} from the peer, this process speaks "
            f"{WIRE_VERSION}: run the same ttquant version in every process"
        )
    return packet.body


class Codec:
    """Frames and decoders for every message of the three channels."""

    def __init__(self) -> None:
        self._market: dict[bytes, msgspec.msgpack.Decoder[Packet[Any]]] = {
            b"q": msgspec.msgpack.Decoder(Packet[QuoteTick]),
            b"t": msgspec.msgpack.Decoder(Packet[TradeTick]),
            b"b": msgspec.msgpack.Decoder(Packet[Bar]),
            b"d": msgspec.msgpack.Decoder(Packet[BookDepth]),
        }
        self._requests = msgspec.msgpack.Decoder(Packet[Request])
        self._events: dict[bytes, msgspec.msgpack.Decoder[Packet[Any]]] = {
            name.encode(): msgspec.msgpack.Decoder(Packet[cls])  # type: ignore[valid-type]
            for name, cls in EVENT_TYPES.items()
        }
        self._account = msgspec.msgpack.Decoder(Packet[AccountState])

    @staticmethod
    def frame(topic: bytes, body: object) -> bytes:
        if len(topic) > 255:
            raise DataError(f"topic {topic[:40]!r}... is longer than 255 bytes")
        return bytes((len(topic),)) + topic + _encoder.encode(Packet(WIRE_VERSION, body))

    @staticmethod
    def split(frame: bytes) -> tuple[bytes, memoryview]:
        """(topic, payload) of a frame made by :meth:`frame`."""
        end = 1 + frame[0]
        return frame[1:end], memoryview(frame)[end:]

    # market data
    @staticmethod
    def market_frame(data: MarketData) -> bytes:
        key = str(data.bar_type) if isinstance(data, Bar) else data.instrument_id
        return Codec.frame(_MARKET_PREFIX[type(data)] + key.encode(), data)

    def decode_market(self, frame: bytes) -> MarketData:
        decoder = self._market.get(frame[1:2])
        if decoder is None:
            raise DataError(f"market data: unknown topic {frame[1:40]!r}")
        body: MarketData = _check(decoder.decode(memoryview(frame)[1 + frame[0] :]), "market data")
        return body

    # requests (PUSH/PULL: no topic)
    @staticmethod
    def request_frame(request: Request) -> bytes:
        return _encoder.encode(Packet(WIRE_VERSION, request))

    def decode_request(self, frame: bytes) -> Request:
        body: Request = _check(self._requests.decode(frame), "order request")
        return body

    # returns
    @staticmethod
    def event_frame(event: OrderEvent) -> bytes:
        return Codec.frame(f"e.{event.strategy_id}.{type(event).__name__}".encode(), event)

    @staticmethod
    def account_frame(state: AccountState) -> bytes:
        return Codec.frame(ACCOUNT_TOPIC, state)

    def decode_return(self, frame: bytes) -> OrderEvent | AccountState:
        topic, payload = self.split(frame)
        if topic == ACCOUNT_TOPIC:
            state: AccountState = _check(self._account.decode(payload), "account state")
            return state
        name = topic.rpartition(b".")[2]
        decoder = self._events.get(name)
        if decoder is None:
            raise DataError(f"returns: unknown event type {name!r}")
        event: OrderEvent = _check(decoder.decode(payload), "order event")
        return event


class ZmqReader:
    """Deliver every message a socket receives, on the asyncio loop, as fast as they come."""

    def __init__(
        self,
        socket: zmq.Socket[bytes],
        deliver: Callable[[bytes], None],
        name: str,
    ) -> None:
        self.socket = socket
        self.deliver = deliver
        self.name = name
        self.received = 0
        self.failures = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd(), self._drain)
        self._loop.call_soon(self._drain)  # messages that arrived before the reader

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._fd())
            self._loop = None

    def _fd(self) -> int:
        fd = self.socket.getsockopt(zmq.FD)
        assert isinstance(fd, int)
        return fd

    def _drain(self) -> None:
        socket = self.socket
        while int(socket.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            try:
                frame = socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.received += 1
            try:
                self.deliver(frame)
            except Exception:  # a bad message must not stop the channel
                self.failures += 1
                log.exception("%s: cannot handle a message", self.name)


def bind(context: zmq.Context[zmq.Socket[bytes]], kind: int, endpoint: str) -> zmq.Socket[bytes]:
    socket = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SNDHWM, _HWM)
    socket.setsockopt(zmq.RCVHWM, _HWM)
    try:
        socket.bind(endpoint)
    except zmq.ZMQError as exc:
        socket.close()
        raise DataError(f"cannot bind {endpoint}: {exc}") from None
    return socket


def connect(context: zmq.Context[zmq.Socket[bytes]], kind: int, endpoint: str) -> zmq.Socket[bytes]:
    socket = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SNDHWM, _HWM)
    socket.setsockopt(zmq.RCVHWM, _HWM)
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        socket.connect(endpoint)
    except zmq.ZMQError as exc:
        socket.close()
        raise DataError(f"cannot connect to {endpoint}: {exc}") from None
    return socket
