"""Attribution in a shared account: capital per strategy, and the bucket for fills the venue
reports for orders no strategy sent."""

from __future__ import annotations

import pytest
from tests.unit.risk._kernel import T0, Kernel

from ttquant.model.enums import LiquiditySide, OrderSide
from ttquant.model.events import OrderFilled
from ttquant.portfolio.portfolio import UNATTRIBUTED
from ttquant.risk.config import RiskConfig, StrategyRisk


def _foreign_fill(k: Kernel, side: OrderSide, qty: float, px: float) -> OrderFilled:
    """What a venue reports for an order placed by hand on its website."""
    return OrderFilled(
        client_order_id="web-123",
        strategy_id="",
        instrument_id=k.iid,
        ts_event=T0,
        ts_init=T0,
        venue_order_id="V-9",
        trade_id="T-9",
        side=side,
        last_qty=qty,
        last_px=px,
        commission=0.1,
        commission_currency="USDT",
        liquidity_side=LiquiditySide.TAKER,
    )


def test_fills_of_orders_no_strategy_sent_go_to_the_unattributed_bucket() -> None:
    k = Kernel(RiskConfig())
    seen: list[object] = []
    k.bus.subscribe(f"events.order.{UNATTRIBUTED}", seen.append)
    k.quote(99.99, 100.01)
    k.execution.pending.append(_foreign_fill(k, OrderSide.BUY, 2.0, 100.0))
    k.execution.process_events()
    (fill,) = k.execution.fills
    assert fill.strategy_id == UNATTRIBUTED and seen == [fill]
    assert k.portfolio.position(UNATTRIBUTED, k.iid).quantity == 2.0
    k.quote(109.99, 110.01)  # mid 110: +20 unrealized, 0.1 commission
    pnl = k.portfolio.pnl_by_strategy()[UNATTRIBUTED]
    assert (pnl.realized, pnl.unrealized, pnl.commissions) == pytest.approx((-0.1, 20.0, 0.1))
    assert pnl.total == pytest.approx(19.9)
    assert k.portfolio.strategy_pnl(UNATTRIBUTED) == pytest.approx(19.9)


def test_a_strategy_with_capital_has_an_equity_of_its_own() -> None:
    k = Kernel(RiskConfig(strategies={"s1": StrategyRisk(capital=10_000.0)}), cash=100_000.0)
    k.quote(99.99, 100.01)
    k.buy(1.0)
    k.quote(99.99, 100.01)  # filled at the ask, 100.01
    k.quote(104.99, 105.01)
    assert k.portfolio.strategy_pnl("s1") == pytest.approx(105.0 - 100.01)
    assert k.portfolio.strategy_equity("s1") == pytest.approx(10_000.0 + 4.99)
    # without an allocation a strategy sizes against the whole account
    assert k.portfolio.strategy_equity("s2") == pytest.approx(k.portfolio.equity())
