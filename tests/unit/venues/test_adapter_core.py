"""The shared adapter machinery, driven by a scripted venue: exactly-once events, save before
send, unknown sends resolved by query and never re-sent.

Every emitted event sequence is also applied to a real kernel ``Order``: its state machine
refuses any sequence a live adapter must never produce.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from ttquant.model.enums import (
    ContingencyType,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from ttquant.model.instruments import Instrument, spot
from ttquant.model.orders import Order
from ttquant.venues.adapter import AdapterConfig, LiveAdapter, TrackedOrder
from ttquant.venues.net.errors import RequestNotSentError, RequestOutcomeUnknownError
from ttquant.venues.reasons import LiveRejectReason
from ttquant.venues.reports import FillReport, OrderReport, ReportStatus, SendRecord

INST = spot("BTC/USDT", "FAKE", price_increment=0.01, size_increment=0.001)
Answer = OrderReport | None | Exception


class ScriptedAdapter(LiveAdapter):
    """A venue whose answers the test scripts; it records every request made to it."""

    def __init__(self, instruments: list[Instrument] | None = None, **config: Any) -> None:
        settings = {"unknown_query_delay": 0.01, "backoff_max": 0.02, "unknown_query_attempts": 3}
        cfg = AdapterConfig(**{**settings, **config})
        super().__init__("FAKE", cfg, instruments or [INST])
        self.requests: list[tuple[str, str]] = []
        self.on_place: Callable[[TrackedOrder], OrderReport] = lambda t: report(t, ReportStatus.NEW)
        self.queries: list[Answer] = []
        self.fills: dict[str, list[FillReport]] = {}

    def venue_symbol(self, instrument: Instrument) -> str:
        return instrument.symbol.replace("/", "")

    async def _place(self, track: TrackedOrder) -> OrderReport:
        self.requests.append(("place", track.venue_client_id))
        return self.on_place(track)

    async def _cancel_order(self, track: TrackedOrder) -> OrderReport | None:
        self.requests.append(("cancel", track.venue_client_id))
        return report(track, ReportStatus.CANCELED)

    async def _amend(
        self, track: TrackedOrder, quantity: float, price: float | None, trigger: float | None
    ) -> OrderReport:
        raise NotImplementedError

    async def _query(self, track: TrackedOrder) -> OrderReport | None:
        self.requests.append(("query", track.venue_client_id))
        answer = self.queries.pop(0) if self.queries else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def _order_fills(self, track: TrackedOrder) -> list[FillReport]:
        self.requests.append(("fills", track.venue_client_id))
        return self.fills.get(track.venue_client_id, [])

    async def _connect(self) -> None:
        return None

    async def _disconnect(self) -> None:
        return None


def report(
    track: TrackedOrder,
    status: ReportStatus,
    filled: float = 0.0,
    fill: FillReport | None = None,
    client_id: str = "",
) -> OrderReport:
    return OrderReport(
        venue_client_id=client_id or track.venue_client_id,
        venue_order_id="V1",
        symbol=track.symbol,
        status=status,
        side=track.side,
        order_type=track.order_type,
        quantity=track.quantity,
        filled_qty=filled,
        ts_event=1,
        fill=fill,
    )


def fill_of(track: TrackedOrder, trade_id: str, qty: float, client_id: str = "") -> FillReport:
    return FillReport(
        venue_client_id=client_id or track.venue_client_id,
        venue_order_id="V1",
        symbol=track.symbol,
        trade_id=trade_id,
        side=track.side,
        last_qty=qty,
        last_px=100.0,
        commission=0.01,
        commission_currency="USDT",
        liquidity_side=LiquiditySide.TAKER,
        ts_event=2,
    )


def new_order(qty: float = 1.0, tif: TimeInForce = TimeInForce.GTC, cid: str = "S-1") -> Order:
    order = Order(
        client_order_id=cid,
        strategy_id="S",
        instrument_id=INST.id,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=qty,
        price=100.0,
        time_in_force=tif,
    )
    order.apply(OrderSubmitted(**order.event_ids(0)))  # what the execution engine does first
    return order


class Harness:
    def __init__(self, adapter: ScriptedAdapter) -> None:
        self.adapter = adapter
        self.events: list[Any] = []
        adapter.set_event_handler(self.events.append)

    def of(self, kind: type[OrderEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def apply_to(self, order: Order) -> None:
        for event in self.events:
            if isinstance(event, OrderEvent) and event.client_order_id == order.client_order_id:
                order.apply(event)


def run(adapter: ScriptedAdapter, body: Callable[[Harness], Any]) -> Harness:
    harness = Harness(adapter)

    async def main() -> None:
        await adapter.connect()
        await body(harness)
        await asyncio.sleep(0.05)
        await adapter.disconnect()

    asyncio.run(main())
    return harness


def test_order_is_saved_before_it_is_sent() -> None:
    adapter = ScriptedAdapter()
    saved: list[tuple[SendRecord, int]] = []
    adapter.save_before_send = lambda record: saved.append((record, len(adapter.requests)))
    order = new_order()

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.02)

    h = run(adapter, body)
    [(record, requests_before)] = saved
    assert requests_before == 0
    assert adapter.requests == [("place", record.venue_client_id)]
    assert record.client_order_id == "S-1" and record.venue == "FAKE"
    assert record.venue_client_id.startswith("ttq")
    assert len(h.of(OrderAccepted)) == 1


def test_an_order_that_cannot_be_saved_is_not_sent() -> None:
    adapter = ScriptedAdapter()

    def failing(record: SendRecord) -> None:
        raise OSError("disk full")

    adapter.save_before_send = failing

    async def body(h: Harness) -> None:
        adapter.submit_list([new_order()])
        await asyncio.sleep(0.02)

    h = run(adapter, body)
    assert adapter.requests == []
    [rejected] = h.of(OrderRejected)
    assert rejected.reason == LiveRejectReason.NOT_SENT and "disk full" in rejected.message


def test_stream_and_rest_reporting_the_same_fill_emit_it_once() -> None:
    adapter = ScriptedAdapter()
    order = new_order(qty=1.0)

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.02)
        track = adapter.tracked("S-1")
        assert track is not None
        trade = fill_of(track, "T1", 0.4)
        adapter.apply_report(
            report(track, ReportStatus.PARTIALLY_FILLED, 0.4, fill=trade)
        )  # stream
        adapter.apply_fill(trade)  # the same trade from a REST answer
        adapter.apply_report(report(track, ReportStatus.PARTIALLY_FILLED, 0.4))  # a query
        trade2 = fill_of(track, "T2", 0.6)
        adapter.apply_report(report(track, ReportStatus.FILLED, 1.0, fill=trade2))
        adapter.apply_report(report(track, ReportStatus.FILLED, 1.0, fill=trade2))

    h = run(adapter, body)
    assert [f.trade_id for f in h.of(OrderFilled)] == ["T1", "T2"]
    assert len(h.of(OrderAccepted)) == 1
    h.apply_to(order)
    assert order.status is OrderStatus.FILLED and order.filled_qty == pytest.approx(1.0)


def test_a_terminal_report_with_unknown_fills_fetches_them_first() -> None:
    adapter = ScriptedAdapter()
    order = new_order(qty=1.0)

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.02)
        track = adapter.tracked("S-1")
        assert track is not None
        adapter.fills[track.venue_client_id] = [
            fill_of(track, "T1", 0.3),
            fill_of(track, "T2", 0.2),
        ]
        adapter.apply_report(report(track, ReportStatus.CANCELED, 0.5))  # canceled after 0.5 filled
        await asyncio.sleep(0.05)

    h = run(adapter, body)
    assert [type(e).__name__ for e in h.events] == [
        "OrderAccepted",
        "OrderFilled",
        "OrderFilled",
        "OrderCanceled",
    ]
    h.apply_to(order)
    assert order.status is OrderStatus.CANCELED and order.filled_qty == pytest.approx(0.5)


def test_unknown_send_is_resolved_by_query_and_never_resent() -> None:
    adapter = ScriptedAdapter()

    def timeout(track: TrackedOrder) -> OrderReport:
        raise RequestOutcomeUnknownError("read timeout")

    adapter.on_place = timeout
    order = new_order()

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.01)
        track = adapter.tracked("S-1")
        assert track is not None and track.unknown
        adapter.queries = [RequestNotSentError("venue down"), None, report(track, ReportStatus.NEW)]
        await asyncio.sleep(0.3)

    h = run(adapter, body)
    assert [kind for kind, _ in adapter.requests] == ["place", "query", "query", "query"]
    assert len(h.of(OrderAccepted)) == 1 and not h.of(OrderRejected)
    h.apply_to(order)
    assert order.status is OrderStatus.ACCEPTED


def test_unknown_send_the_venue_never_saw_is_rejected_after_the_queries() -> None:
    adapter = ScriptedAdapter()
    adapter.on_place = lambda t: (_ for _ in ()).throw(RequestOutcomeUnknownError("reset"))
    order = new_order()

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.3)

    h = run(adapter, body)
    assert [kind for kind, _ in adapter.requests] == ["place", "query", "query", "query"]
    [rejected] = h.of(OrderRejected)
    assert rejected.reason == LiveRejectReason.NOT_FOUND_AFTER_TIMEOUT
    h.apply_to(order)
    assert order.status is OrderStatus.REJECTED


def test_unknown_send_resolved_by_a_stream_report_needs_no_query() -> None:
    adapter = ScriptedAdapter(unknown_query_delay=0.2)
    adapter.on_place = lambda t: (_ for _ in ()).throw(RequestOutcomeUnknownError("timeout"))

    async def body(h: Harness) -> None:
        adapter.submit_list([new_order()])
        await asyncio.sleep(0.01)
        track = adapter.tracked("S-1")
        assert track is not None
        adapter.apply_report(report(track, ReportStatus.NEW))
        await asyncio.sleep(0.3)

    h = run(adapter, body)
    assert adapter.requests == [("place", adapter.tracked("S-1").venue_client_id)]  # type: ignore[union-attr]
    assert len(h.of(OrderAccepted)) == 1


def test_request_that_never_left_is_rejected_at_once() -> None:
    adapter = ScriptedAdapter()
    adapter.on_place = lambda t: (_ for _ in ()).throw(RequestNotSentError("connection refused"))

    async def body(h: Harness) -> None:
        adapter.submit_list([new_order()])
        await asyncio.sleep(0.02)

    h = run(adapter, body)
    [rejected] = h.of(OrderRejected)
    assert rejected.reason == LiveRejectReason.NOT_SENT
    assert [kind for kind, _ in adapter.requests] == ["place"]


def test_unsupported_and_unknown_instrument_orders_are_rejected_locally() -> None:
    adapter = ScriptedAdapter()
    contingent = new_order(cid="S-2")
    contingent.contingency = ContingencyType.OCO
    foreign = Order(
        client_order_id="S-3",
        strategy_id="S",
        instrument_id="ETH/USDT@FAKE",
        side=OrderSide.BUY,
        order_type=OrderType.MARKET,
        quantity=1.0,
    )

    async def body(h: Harness) -> None:
        adapter.submit_list([contingent, foreign])
        await asyncio.sleep(0.02)

    h = run(adapter, body)
    reasons = {e.client_order_id: e.reason for e in h.of(OrderRejected)}
    assert reasons == {
        "S-2": LiveRejectReason.UNSUPPORTED_ORDER,
        "S-3": LiveRejectReason.UNKNOWN_INSTRUMENT,
    }
    assert adapter.requests == []


@pytest.mark.parametrize(
    ("tif", "event"), [(TimeInForce.IOC, OrderCanceled), (TimeInForce.GTD, OrderExpired)]
)
def test_expiry_of_an_ioc_remainder_is_a_cancel_as_at_the_simulated_venue(
    tif: TimeInForce, event: type
) -> None:
    adapter = ScriptedAdapter()
    order = new_order(tif=tif)

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.02)
        track = adapter.tracked("S-1")
        assert track is not None
        adapter.apply_report(report(track, ReportStatus.EXPIRED))

    h = run(adapter, body)
    assert len(h.of(event)) == 1
    h.apply_to(order)


def test_reports_of_a_replaced_venue_order_count_only_its_fills() -> None:
    adapter = ScriptedAdapter()
    order = new_order(qty=1.0)

    async def body(h: Harness) -> None:
        adapter.submit_list([order])
        await asyncio.sleep(0.02)
        track = adapter.tracked("S-1")
        assert track is not None
        old = track.venue_client_id
        adapter.apply_report(
            report(track, ReportStatus.PARTIALLY_FILLED, 0.2, fill=fill_of(track, "T1", 0.2))
        )
        adapter.rebind(track, "ttqNEW")
        adapter.apply_report(
            report(track, ReportStatus.CANCELED, 0.2, client_id=old)
        )  # the old one
        adapter.apply_report(
            report(track, ReportStatus.FILLED, 0.8, fill=fill_of(track, "T2", 0.8, "ttqNEW"))
        )

    h = run(adapter, body)
    assert not h.of(OrderCanceled)
    h.apply_to(order)
    assert order.status is OrderStatus.FILLED and order.filled_qty == pytest.approx(1.0)


def test_orphans_with_our_prefix_are_reported_and_foreign_orders_ignored() -> None:
    adapter = ScriptedAdapter()
    orphans: list[OrderReport] = []
    adapter.on_orphan = orphans.append
    track = TrackedOrder(new_order(), "ttqGHOST1", "BTCUSDT")
    foreign = TrackedOrder(new_order(), "web_manual", "BTCUSDT")

    async def body(h: Harness) -> None:
        adapter.apply_report(report(track, ReportStatus.NEW))
        adapter.apply_report(report(foreign, ReportStatus.NEW))

    h = run(adapter, body)
    assert [o.venue_client_id for o in orphans] == ["ttqGHOST1"]
    assert h.events == []


def test_commands_from_another_thread_run_on_the_adapter_loop() -> None:
    adapter = ScriptedAdapter()
    threads: list[str] = []
    adapter.set_event_handler(lambda e: threads.append(threading.current_thread().name))

    async def main() -> None:
        await adapter.connect()
        worker = threading.Thread(target=adapter.submit_list, args=([new_order()],), name="kernel")
        worker.start()
        worker.join()
        await asyncio.sleep(0.05)
        await adapter.disconnect()

    asyncio.run(main())
    assert threads == [threading.main_thread().name]  # the accept, emitted on the loop's thread
