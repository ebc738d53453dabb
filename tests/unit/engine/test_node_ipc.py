"""The split node's wire: versioned msgpack over ZeroMQ, the shared price board, the recorder."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from pathlib import Path

import msgspec
import pytest
import zmq

from ttquant.core.errors import DataError
from ttquant.data.catalog import Catalog
from ttquant.data.schema import DataType
from ttquant.engine.ipc import (
    WIRE_VERSION,
    CancelOrder,
    Codec,
    Packet,
    SubmitOrder,
    ZmqReader,
    bind,
    connect,
)
from ttquant.engine.recorder import Recorder
from ttquant.engine.shm import PriceBoard, PriceReader
from ttquant.model.data import Bar, BarType, QuoteTick, TradeTick
from ttquant.model.enums import AggressorSide, LiquiditySide, OrderSide, OrderType
from ttquant.model.events import OrderAccepted, OrderFilled
from ttquant.model.orders import Order
from ttquant.venues.book import BookDepth

IID = "BTC/USDT@BINANCE"
QUOTE = QuoteTick(IID, 100.0, 100.5, 1.0, 2.0, 10, 11)
TRADE = TradeTick(IID, 100.2, 0.3, AggressorSide.BUYER, "t1", 12, 13)
BAR = Bar(BarType.time(IID, "1m"), 1.0, 2.0, 0.5, 1.5, 10.0, 0, 60_000_000_000)
DEPTH = BookDepth(IID, ((100.0, 1.0),), ((100.5, 2.0),), 7, 14, 15)


def test_every_message_round_trips_with_its_version() -> None:
    codec = Codec()
    for data in (QUOTE, TRADE, BAR, DEPTH):
        assert codec.decode_market(codec.market_frame(data)) == data
    order = Order(
        client_order_id="s-1",
        strategy_id="s",
        instrument_id=IID,
        side=OrderSide.SELL,
        order_type=OrderType.LIMIT,
        quantity=0.5,
        price=101.0,
        tags=("x",),
        ts_init=5,
    )
    request = SubmitOrder.of(order)
    assert codec.decode_request(codec.request_frame(request)) == request
    rebuilt = request.to_order()
    assert (rebuilt.client_order_id, rebuilt.price, rebuilt.tags) == ("s-1", 101.0, ("x",))
    cancel = CancelOrder(client_order_id="s-1")
    assert codec.decode_request(codec.request_frame(cancel)) == cancel
    fill = OrderFilled(
        **order.event_ids(9),
        trade_id="T1",
        side=OrderSide.SELL,
        last_qty=0.5,
        last_px=101.0,
        commission=0.01,
        commission_currency="USDT",
        liquidity_side=LiquiditySide.MAKER,
    )
    for event in (OrderAccepted(**order.event_ids(8)), fill):
        assert codec.decode_return(codec.event_frame(event)) == event
    assert codec.split(codec.event_frame(fill))[0] == b"e.s.OrderFilled"


def test_another_wire_version_is_refused_with_a_message() -> None:
    codec = Codec()
    topic = b"q" + IID.encode()
    alien = bytes((len(topic),)) + topic + msgspec.msgpack.encode(Packet(WIRE_VERSION + 1, QUOTE))
    with pytest.raises(DataError, match=f"wire version {WIRE_VERSION + 1} from the peer"):
        codec.decode_market(alien)
    with pytest.raises(DataError, match="unknown topic"):
        codec.decode_market(codec.frame(b"x" + IID.encode(), QUOTE))


def test_pub_sub_delivers_a_burst_in_order() -> None:
    codec = Codec()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = bind(context, zmq.PUB, "inproc://md")
    sub = connect(context, zmq.SUB, "inproc://md")
    got: list[object] = []

    async def main() -> None:
        reader = ZmqReader(sub, lambda f: got.append(codec.decode_market(f)), "md")
        reader.start()
        await asyncio.sleep(0.05)  # the subscription reaches the publisher
        quotes = [QuoteTick(IID, 100.0 + i, 101.0 + i, 1.0, 1.0, i, i) for i in range(5000)]
        for quote in quotes:
            pub.send(codec.market_frame(quote))
        for _ in range(200):
            if len(got) == len(quotes):
                break
            await asyncio.sleep(0.01)
        reader.stop()
        assert got == quotes

    try:
        asyncio.run(main())
    finally:
        pub.close()
        sub.close()
        context.term()
    with pytest.raises(DataError, match="cannot bind"):
        bind(zmq.Context.instance(), zmq.PUB, "tcp://256.0.0.1:1")


def _read_in_child(name: str, out: multiprocessing.Queue[object]) -> None:
    reader = PriceReader(name)
    bad = 0
    seen = set()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and len(seen) < 2_000:
        snap = reader.read(IID)
        assert snap is not None
        seen.add(snap.bid)
        # the writer keeps ask = bid + 1 and sizes = bid: a torn read would break it
        if snap.ask != snap.bid + 1.0 or snap.bid_size != snap.bid or snap.ts_ns != int(snap.bid):
            bad += 1
    reader.close()
    out.put((len(seen), bad))


def test_price_board_readers_in_other_processes_never_see_a_torn_quote() -> None:
    name = f"ttq-test-board-{os.getpid()}"
    board = PriceBoard(name, slots=4)
    try:
        board.quote(IID, 0.0, 1.0, 0.0, 0.0, 0)
        ctx = multiprocessing.get_context("spawn")
        out: multiprocessing.Queue[object] = ctx.Queue()
        child = ctx.Process(target=_read_in_child, args=(name, out))
        child.start()
        i = 0
        while child.is_alive():  # write as fast as possible while the child reads
            i += 1
            x = float(i)
            board.quote(IID, x, x + 1.0, x, 0.0, i)
        child.join(30)
        distinct, bad = out.get(timeout=10)  # type: ignore[misc]
        assert distinct > 10 and bad == 0  # it read while the writer wrote, never torn
        reader = PriceReader(name)
        board.trade(IID, 123.0, 7)
        snap = reader.read(IID)
        assert snap is not None and snap.last == 123.0 and snap.ts_ns == 7
        assert reader.read("ETH/USDT@BINANCE") is None
        assert reader.instruments() == [IID]
        reader.close()
    finally:
        board.close()
    with pytest.raises(DataError, match="no shared price board"):
        PriceReader(name)


def test_recorder_survives_a_crash_and_commits_exactly_once(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog")
    spool = tmp_path / "state" / "recorder.spool"
    quotes = [
        QuoteTick(IID, 100.0 + i, 100.5 + i, 1.0, 1.0, 10**18 + i, 10**18 + i) for i in range(10)
    ]
    trades = [
        TradeTick(IID, 100.0, 0.1, AggressorSide.SELLER, f"t{i}", 10**18 + i, 10**18 + i)
        for i in range(4)
    ]
    recorder = Recorder(catalog, spool, flush_interval=0.1, commit_interval=60)
    for event in (*quotes[:6], *trades):
        recorder.record(event)
    recorder.flush()
    for event in quotes[6:]:
        recorder.record(event)
    recorder.flush()
    with open(spool, "ab") as handle:  # the crash tore a third flush in half
        handle.write(b"\x10\x00\x00\x00garbage")
    # the process died here: nothing reached the catalog yet
    assert catalog.read(IID, DataType("quotes")).height == 0
    again = Recorder(catalog, spool, flush_interval=0.1, commit_interval=60)
    assert again.recovered == 14
    stored = catalog.read(IID, DataType("quotes")).sort("ts_init")
    assert stored["bid_price"].to_list() == [q.bid_price for q in quotes]
    assert catalog.read(IID, DataType("trades"))["trade_id"].sort().to_list() == [
        "t0",
        "t1",
        "t2",
        "t3",
    ]
    # committing the same data again (a crash between the catalog write and the spool reset)
    for event in (*quotes, *trades):
        again.record(event)
    again.close()
    assert catalog.read(IID, DataType("quotes")).height == 10
    assert catalog.read(IID, DataType("trades")).height == 4
    assert not spool.exists()


def test_a_trailing_stop_keeps_its_whole_spec_over_the_wire_and_in_the_journal() -> None:
    """A lost trailing offset would re-create a different stop after a crash or in the gateway."""
    from ttquant.engine.journal import SentOrder
    from ttquant.model.enums import TimeInForce, TrailingOffsetType

    order = Order(
        client_order_id="s-2",
        strategy_id="s",
        instrument_id=IID,
        side=OrderSide.SELL,
        order_type=OrderType.TRAILING_STOP,
        quantity=0.25,
        time_in_force=TimeInForce.GTD,
        expire_ns=99,
        reduce_only=True,
        trailing_offset=1.5,
        trailing_offset_type=TrailingOffsetType.PERCENT,
        exit_reason="trailing_stop",
        ts_init=7,
    )
    codec = Codec()
    over_the_wire = codec.decode_request(codec.request_frame(SubmitOrder.of(order)))
    assert isinstance(over_the_wire, SubmitOrder)
    journaled = msgspec.msgpack.decode(
        msgspec.msgpack.encode(SentOrder.of(order, "ttq-s-2", "BINANCE")), type=SentOrder
    )
    for rebuilt in (over_the_wire.to_order(), journaled.rebuild()):
        for name in (
            "order_type",
            "quantity",
            "time_in_force",
            "expire_ns",
            "reduce_only",
            "trailing_offset",
            "trailing_offset_type",
            "exit_reason",
            "ts_init",
        ):
            assert getattr(rebuilt, name) == getattr(order, name), name
