"""The adapter compliance list: what every adapter must do, checked against the test venue.

docs/adapters.md lists these checks; a new adapter joins ``ALL_CASES`` and passes them all
(or documents which capability it lacks, as ``Case.can_modify`` does).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.integration._venuekit import (
    ALL_CASES,
    Case,
    Session,
    has_data,
    run_session,
    wait_until,
)

from ttquant.model.data import QuoteTick, TradeTick
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
    OrderUpdated,
)
from ttquant.venues.book import BookDepth
from ttquant.venues.reasons import LiveRejectReason

pytestmark = [pytest.mark.venue, pytest.mark.parametrize("case", ALL_CASES, ids=str)]


async def _subscribe_all(s: Session) -> None:
    await s.adapter.subscribe_quotes(s.iid)
    await s.adapter.subscribe_trades(s.iid)
    await s.adapter.subscribe_book(s.iid)


def test_connects_and_streams_quotes_trades_and_book(case: Case) -> None:
    async def scenario(s: Session) -> None:
        await _subscribe_all(s)
        for kind in (QuoteTick, TradeTick, BookDepth):
            await wait_until(has_data(s.rec, 0, kind), what=kind.__name__)
        assert not s.adapter.stale
        quote = s.rec.data_since(0, QuoteTick)[-1]
        assert 0 < quote.bid_price < quote.ask_price
        depth = s.rec.data_since(0, BookDepth)[-1]
        bids, asks = [p for p, _ in depth.bids], [p for p, _ in depth.asks]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0] < asks[0]

    run_session(case, scenario)


def test_book_equals_the_venue_book(case: Case) -> None:
    async def scenario(s: Session) -> None:
        await s.adapter.subscribe_book(s.iid)
        await wait_until(lambda: bool(s.rec.data_since(0, BookDepth)), what="a synced book")
        await _assert_book_matches_venue(s)

    run_session(case, scenario)


async def _assert_book_matches_venue(s: Session) -> None:
    """Hold the venue still; once the adapter has caught up, its top 20 levels are the venue's."""
    s.venue.pause()
    venue_book = _venue_book(s)
    local = s.adapter.book(s.iid)  # type: ignore[attr-defined]

    def same() -> bool:
        return bool(local.bids.top(20) == venue_book.bids.top(20)) and bool(
            local.asks.top(20) == venue_book.asks.top(20)
        )

    try:
        await wait_until(same, timeout=8.0, what="the adapter's book to equal the venue's")
        await asyncio.sleep(0.3)
        assert same()  # and it stays equal: nothing was still in flight
    finally:
        s.venue.resume()


def _venue_book(s: Session):  # type: ignore[no-untyped-def]
    dialect = s.venue.dialect
    symbol = next(k for k, inst in s.venue.exchange.instruments.items() if inst.id == s.iid)
    books = dialect.books  # type: ignore[attr-defined]
    book = books[symbol]
    return getattr(book, "book", book)  # OKX keeps a sync object around its book


def test_market_order_is_accepted_once_and_filled_exactly(case: Case) -> None:
    async def scenario(s: Session) -> None:
        qty = 0.01
        order = s.submit(s.order(OrderSide.BUY, qty))
        await wait_until(
            lambda: abs(s.rec.filled_qty(order.client_order_id) - qty) < 1e-9, what="fill"
        )
        await wait_until(
            lambda: s.venue_order(order).order.status is OrderStatus.FILLED, what="venue fill"
        )
        assert len(s.rec.of(order.client_order_id, OrderAccepted)) == 1
        fills = s.rec.fills(order.client_order_id)
        assert sorted(f.trade_id for f in fills) == s.venue_trade_ids(order)
        quote = s.quote()
        assert all(0.9 * quote.bid_price < f.last_px < 1.1 * quote.ask_price for f in fills)
        assert [r.client_order_id for r in s.rec.saved] == [order.client_order_id]

    run_session(case, scenario)


def test_limit_order_rests_and_cancels(case: Case) -> None:
    async def scenario(s: Session) -> None:
        order = s.submit(s.order(OrderSide.BUY, 0.01, s.quote().bid_price * 0.9))
        await wait_until(
            lambda: bool(s.rec.of(order.client_order_id, OrderAccepted)), what="accept"
        )
        s.adapter.cancel(order)
        await wait_until(
            lambda: bool(s.rec.of(order.client_order_id, OrderCanceled)), what="cancel"
        )
        assert s.venue_order(order).order.status is OrderStatus.CANCELED
        assert len(s.rec.of(order.client_order_id, OrderCanceled)) == 1

    run_session(case, scenario)


def test_modify_changes_the_working_order(case: Case) -> None:
    if not case.can_modify:
        pytest.skip(f"{case} cannot modify orders")

    async def scenario(s: Session) -> None:
        inst = case.instrument
        price = inst.round_price(s.quote().bid_price * 0.9)
        order = s.submit(s.order(OrderSide.BUY, 0.01, price))
        await wait_until(
            lambda: bool(s.rec.of(order.client_order_id, OrderAccepted)), what="accept"
        )
        new_price = inst.round_price(price * 0.99)
        s.adapter.modify(order, quantity=0.02, price=new_price)
        await wait_until(lambda: bool(s.rec.of(order.client_order_id, OrderUpdated)), what="update")
        working = [o.order for o in s.venue.exchange.open_orders()]
        assert [(o.quantity, o.price) for o in working] == [(0.02, new_price)]
        update = s.rec.of(order.client_order_id, OrderUpdated)[0]
        assert isinstance(update, OrderUpdated)
        assert (update.quantity, update.price) == (0.02, new_price)

    run_session(case, scenario)


def test_venue_rejection_maps_to_the_reject_reason(case: Case) -> None:
    async def scenario(s: Session) -> None:
        # far more than the 1,000,000 USDT the test account holds
        order = s.submit(s.order(OrderSide.BUY, 900.0, s.quote().bid_price * 0.99))
        await wait_until(
            lambda: bool(s.rec.of(order.client_order_id, OrderRejected)), what="reject"
        )
        rejected = s.rec.of(order.client_order_id, OrderRejected)[0]
        assert isinstance(rejected, OrderRejected)
        expected = (
            LiveRejectReason.INSUFFICIENT_MARGIN
            if case.name == "binance-usdm"
            else LiveRejectReason.INSUFFICIENT_BALANCE
        )
        assert rejected.reason == expected
        assert not s.rec.of(order.client_order_id, OrderAccepted)

    run_session(case, scenario)


def test_send_that_times_out_is_resolved_by_query_not_resent(case: Case) -> None:
    async def scenario(s: Session) -> None:
        before = len(s.venue.exchange.orders)
        s.venue.set_order_fault("delay", delay=2.5)  # the answer comes after the 1 s timeout
        order = s.submit(s.order(OrderSide.BUY, 0.01, s.quote().bid_price * 0.9))
        await wait_until(
            lambda: bool(s.rec.of(order.client_order_id, OrderAccepted)), what="accept"
        )
        assert len(s.venue.exchange.orders) == before + 1  # sent once, never again
        assert len(s.rec.of(order.client_order_id, OrderAccepted)) == 1
        assert not s.rec.of(order.client_order_id, OrderRejected)

    run_session(case, scenario)


def test_send_the_venue_never_got_ends_rejected_after_queries(case: Case) -> None:
    async def scenario(s: Session) -> None:
        before = len(s.venue.exchange.orders)
        s.venue.set_order_fault("lose")
        order = s.submit(s.order(OrderSide.BUY, 0.01, s.quote().bid_price * 0.9))
        await wait_until(
            lambda: bool(s.rec.of(order.client_order_id, OrderRejected)), what="reject"
        )
        rejected = s.rec.of(order.client_order_id, OrderRejected)[0]
        assert isinstance(rejected, OrderRejected)
        assert rejected.reason == LiveRejectReason.NOT_FOUND_AFTER_TIMEOUT
        assert len(s.venue.exchange.orders) == before

    run_session(case, scenario, unknown_query_attempts=2)


def test_reconnects_and_resubscribes_after_a_dropped_connection(case: Case) -> None:
    async def scenario(s: Session) -> None:
        await _subscribe_all(s)
        await wait_until(lambda: bool(s.rec.data_since(0, TradeTick)), what="trades")
        dropped = await s.venue.drop_connections()
        assert dropped >= 1
        after = time.time_ns()
        for kind in (QuoteTick, TradeTick, BookDepth):
            await wait_until(has_data(s.rec, after, kind), what=f"{kind.__name__} again")
        await wait_until(lambda: not s.adapter.stale, what="fresh feeds")

    run_session(case, scenario)
