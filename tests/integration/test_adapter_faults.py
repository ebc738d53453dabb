"""Native adapters against a misbehaving venue: stalls, sequence gaps, restarts, lost streams.

The acceptance bar of the live-trading issue: after every fault the adapter's book equals the
venue's (OKX: its checksums verify again) and every fill the venue made reaches the kernel
exactly once, including fills made while the adapter could not hear about them.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.integration._venuekit import (
    BINANCE_SPOT,
    BINANCE_USDM,
    NATIVE_CASES,
    OKX,
    Case,
    Session,
    run_session,
    wait_until,
)
from tests.integration.test_adapter_compliance import _assert_book_matches_venue

from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.events import OrderAccepted, OrderFilled
from ttquant.model.orders import Order
from ttquant.venues.binance import BinanceAdapter
from ttquant.venues.book import BookDepth
from ttquant.venues.okx import OkxAdapter

pytestmark = pytest.mark.venue


@pytest.mark.parametrize("case", NATIVE_CASES, ids=str)
def test_stalled_feed_turns_stale_then_recovers(case: Case) -> None:
    async def scenario(s: Session) -> None:
        stale_changes: list[tuple[str, bool]] = []
        s.adapter.set_stale_handler(lambda feed, stale: stale_changes.append((feed, stale)))
        await s.adapter.subscribe_quotes(s.iid)
        await wait_until(lambda: bool(s.rec.data_since(0, QuoteTick)), what="quotes")
        assert not s.adapter.stale
        await s.venue.stall(3.0)
        await wait_until(lambda: s.adapter.stale, timeout=3.0, what="stale during the stall")
        after = time.time_ns()
        await wait_until(
            lambda: bool(s.rec.data_since(after, QuoteTick)), timeout=10.0, what="quotes again"
        )
        await wait_until(lambda: not s.adapter.stale, what="fresh again")
        assert any(stale for _, stale in stale_changes) and not stale_changes[-1][1]

    run_session(case, scenario)


@pytest.mark.parametrize("case", [BINANCE_SPOT, BINANCE_USDM], ids=str)
def test_binance_depth_gap_resyncs_to_the_venue_book(case: Case) -> None:
    async def scenario(s: Session) -> None:
        adapter = s.adapter
        assert isinstance(adapter, BinanceAdapter)
        await adapter.subscribe_book(s.iid)
        await wait_until(lambda: adapter.book_syncs == 1, what="first sync")
        await s.venue.gap(1)
        await wait_until(lambda: adapter.depth_sync(s.iid).gaps >= 1, what="gap detected")
        await wait_until(lambda: adapter.book_syncs >= 2, what="resync")
        await _assert_book_matches_venue(s)

    run_session(case, scenario)


def test_okx_book_gap_fails_the_checksum_and_resubscribes() -> None:
    async def scenario(s: Session) -> None:
        adapter = s.adapter
        assert isinstance(adapter, OkxAdapter)
        await adapter.subscribe_book(s.iid)
        sync = adapter.book_sync(s.iid)
        await wait_until(lambda: sync.checked >= 3, what="verified updates")
        await s.venue.gap(1)
        await wait_until(lambda: sync.mismatches >= 1, what="checksum mismatch")
        checked = sync.checked
        await wait_until(lambda: sync.checked >= checked + 3, what="checksums verifying again")
        assert adapter.book_resyncs >= 1
        await _assert_book_matches_venue(s)

    run_session(OKX, scenario)


def _resting_orders(s: Session, count: int) -> list[Order]:
    """Buys at the bid and sells at the ask: the replayed trades fill them within seconds."""
    quote = s.quote()
    inst = s.case.instrument
    qty = max(inst.min_quantity, 0.002)
    orders = []
    for i in range(count):
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        price = quote.bid_price if side is OrderSide.BUY else quote.ask_price
        orders.append(s.submit(s.order(side, qty, price)))
    return orders


def _assert_fills_match_venue(s: Session, orders: list[Order]) -> None:
    for order in orders:
        fills = s.rec.fills(order.client_order_id)
        ids = [f.trade_id for f in fills]
        assert len(ids) == len(set(ids)), f"{order.client_order_id}: duplicated fill"
        assert sorted(ids) == s.venue_trade_ids(order), f"{order.client_order_id}: missed fill"
        venue_order = s.venue_order(order).order
        assert abs(sum(f.last_qty for f in fills) - venue_order.filled_qty) < 1e-9


async def _fills_while_deaf(s: Session, outage: object) -> None:
    """Orders rest, the adapter loses its private stream while they fill, then catches up."""
    await s.adapter.subscribe_quotes(s.iid)
    orders = _resting_orders(s, 4)
    await wait_until(
        lambda: all(s.rec.of(o.client_order_id, OrderAccepted) for o in orders), what="accepts"
    )
    venue_fills_before = len(s.venue.exchange.trades)
    await outage  # type: ignore[misc]
    await wait_until(
        lambda: len(s.venue.exchange.trades) > venue_fills_before,
        timeout=15.0,
        what="fills at the venue",
    )
    filled_orders = [o for o in orders if s.venue_order(o).order.filled_qty > 0]
    await wait_until(
        lambda: all(s.rec.fills(o.client_order_id) for o in filled_orders),
        timeout=10.0,
        what="back-fill",
    )
    await asyncio.sleep(0.5)  # late duplicates, if any, arrive now
    _assert_fills_match_venue(s, orders)
    assert s.adapter.order_resyncs >= 1
    assert any(
        s.venue_order(o).order.status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
        for o in orders
    )


@pytest.mark.parametrize("case", NATIVE_CASES, ids=str)
def test_venue_restart_loses_no_fill_and_duplicates_none(case: Case) -> None:
    async def scenario(s: Session) -> None:
        await _fills_while_deaf(s, s.venue.restart(down_for=2.0))

    run_session(case, scenario, timeout=60.0)


@pytest.mark.parametrize("case", NATIVE_CASES, ids=str)
def test_silent_private_stream_is_replaced_and_missed_fills_back_filled(case: Case) -> None:
    async def scenario(s: Session) -> None:
        # order pushes and pongs vanish for 2.5 s while the connection stays open; an order
        # sent meanwhile (REST still answers) fills at once, unheard
        await s.venue.stall(2.5)
        quote = s.quote()
        taker = s.submit(s.order(OrderSide.BUY, 0.002, quote.ask_price * 1.001))
        await wait_until(lambda: s.venue_order(taker) is not None, what="taker at the venue")
        await wait_until(lambda: s.venue_order(taker).order.filled_qty > 0, what="taker filled")
        await wait_until(
            lambda: (
                s.rec.filled_qty(taker.client_order_id)
                >= s.venue_order(taker).order.filled_qty - 1e-12
            ),
            timeout=10.0,
            what="the unheard fill, back-filled",
        )
        await asyncio.sleep(0.5)  # late duplicates, if any, arrive now
        _assert_fills_match_venue(s, [taker])
        assert s.adapter.order_resyncs >= 1
        assert s.adapter.fills_recovered >= 1

    run_session(case, scenario, timeout=60.0)


def test_futures_positions_and_balances_equal_the_venue() -> None:
    async def scenario(s: Session) -> None:
        buy = s.submit(s.order(OrderSide.BUY, 0.01))
        sell = s.submit(s.order(OrderSide.SELL, 0.003))
        await wait_until(lambda: abs(s.rec.filled_qty(buy.client_order_id) - 0.01) < 1e-9)
        await wait_until(lambda: abs(s.rec.filled_qty(sell.client_order_id) - 0.003) < 1e-9)
        positions = await s.adapter.positions()
        venue_qty, venue_entry = s.venue.exchange.position("BTCUSDT")
        assert [(p.instrument_id, p.quantity) for p in positions] == [(s.iid, venue_qty)]
        assert abs(venue_qty - 0.007) < 1e-9
        assert abs(positions[0].entry_price - venue_entry) < 1e-6
        state = await s.adapter.account_state()
        for ccy, total in s.venue.exchange.balances().items():
            assert abs(state.balances[ccy][0] - total) < 1e-6
        fills = [e for e in s.rec.events if isinstance(e, OrderFilled)]
        assert {f.client_order_id for f in fills} == {buy.client_order_id, sell.client_order_id}

    run_session(BINANCE_USDM, scenario)


def test_book_depth_events_carry_sorted_levels_after_resync() -> None:
    async def scenario(s: Session) -> None:
        await s.adapter.subscribe_book(s.iid)
        await wait_until(lambda: bool(s.rec.data_since(0, BookDepth)), what="depth")
        await s.venue.drop_connections("market")
        after = time.time_ns()
        await wait_until(
            lambda: bool(s.rec.data_since(after, BookDepth)), what="depth after reconnect"
        )
        depth = s.rec.data_since(after, BookDepth)[-1]
        assert depth.bids[0][0] < depth.asks[0][0]
        await _assert_book_matches_venue(s)

    run_session(BINANCE_SPOT, scenario)
