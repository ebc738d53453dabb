"""Binance specifics against the test venue: cancel-all, account queries, rate-limit headers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from tests.integration._venuekit import BINANCE_SPOT, Session, run_session, wait_until

from ttquant.model.enums import OrderSide
from ttquant.model.events import OrderAccepted, OrderCanceled, OrderRejected
from ttquant.venues.binance import BinanceAdapter
from ttquant.venues.binance.signing import signed_query
from ttquant.venues.net.ratelimit import LimitRule, RequestBudget

pytestmark = pytest.mark.venue


def test_cancel_all_open_orders_and_queries() -> None:
    async def scenario(s: Session) -> None:
        adapter = s.adapter
        assert isinstance(adapter, BinanceAdapter)
        far = s.quote().bid_price * 0.9
        orders = [s.submit(s.order(OrderSide.BUY, 0.001, far - i)) for i in range(3)]
        await wait_until(lambda: all(s.rec.of(o.client_order_id, OrderAccepted) for o in orders))
        open_reports = await adapter.open_orders()
        assert len(open_reports) == 3
        canceled = await adapter.cancel_all(s.iid)
        assert len(canceled) == 3
        await wait_until(lambda: all(s.rec.of(o.client_order_id, OrderCanceled) for o in orders))
        assert all(len(s.rec.of(o.client_order_id, OrderCanceled)) == 1 for o in orders)
        assert await adapter.open_orders() == []
        state = await adapter.account_state()
        assert {c: v[0] for c, v in state.balances.items()} == s.venue.exchange.balances()

    run_session(BINANCE_SPOT, scenario)


def test_order_count_limit_from_headers_is_honoured_not_hit() -> None:
    """The venue allows 5 orders per 2 s; 8 orders go out without one refusal."""
    limit = LimitRule("X-MBX-ORDER-COUNT-10S", 5, 2.0, counts_orders=True)

    async def scenario(s: Session) -> None:
        adapter = s.adapter
        assert isinstance(adapter, BinanceAdapter)
        s.venue.dialect.limits = [limit]  # type: ignore[attr-defined]
        adapter.http.budget = RequestBudget([limit])
        # a client that ignores the headers is refused with Binance's code
        async with httpx.AsyncClient(base_url=s.venue.url) as client:
            now = time.time_ns() // 1_000_000
            refusals = []
            for i in range(7):
                query = signed_query(
                    {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "LIMIT",
                        "timeInForce": "GTC",
                        "quantity": "0.001",
                        "price": "30000.00",
                        "newClientOrderId": f"raw{i}",
                    },
                    "test-secret",
                    now,
                    5000,
                )
                answer = await client.post(
                    f"/api/v3/order?{query}", headers={"X-MBX-APIKEY": "test-key"}
                )
                if answer.status_code == 429:
                    refusals.append(answer.json()["code"])
            assert refusals and set(refusals) == {-1015}
        await asyncio.sleep(2.1)  # a fresh window for the adapter
        thrown = s.venue.dialect.throttled  # type: ignore[attr-defined]
        far = s.quote().bid_price * 0.9
        orders = [s.submit(s.order(OrderSide.BUY, 0.001, far - i)) for i in range(8)]
        await wait_until(
            lambda: all(s.rec.of(o.client_order_id, OrderAccepted) for o in orders), timeout=10.0
        )
        assert not any(s.rec.of(o.client_order_id, OrderRejected) for o in orders)
        assert s.venue.dialect.throttled == thrown  # type: ignore[attr-defined]
        assert adapter.http.budget.waited_s > 0.0

    run_session(BINANCE_SPOT, scenario)
