"""Rejects carry a reason code and reach the strategy's ``on_order`` as ``OrderRejected``."""

from __future__ import annotations

from _simkit import Script, engine_for, instrument, run, run_engine

from ttquant.model.enums import AccountType, OrderSide, OrderStatus, OrderType
from ttquant.model.orders import Order
from ttquant.venues.sim.models import FillModel
from ttquant.venues.sim.venue import RejectReason as R

FLAT = (100.0, 100.0, 100.0, 100.0)
CASH = AccountType.CASH


def _reasons(st: Script) -> dict[str, str]:
    """Order name -> reject reason, for every rejected order."""
    names = {o.client_order_id: n for n, o in st.placed.items()}
    return {names[r.client_order_id]: r.reason for r in st.rejects()}


def test_cash_account_rejects_buys_beyond_quote_and_sells_beyond_base() -> None:
    def act(s: Script) -> None:
        s.placed["too_big"] = s.buy(11.0, price=100.0)  # 1100 USDT > 1000
        s.placed["fits"] = s.buy(9.0, price=100.0)
        s.placed["no_btc"] = s.sell(1.0, price=101.0)  # holds no BTC

    st = run([FLAT, FLAT], {0: act}, account_type=CASH, balances={"USDT": 1000.0})
    assert _reasons(st) == {"too_big": R.INSUFFICIENT_BALANCE, "no_btc": R.INSUFFICIENT_BALANCE}
    assert st.status("fits") is OrderStatus.FILLED
    assert all(r.message for r in st.rejects())  # the prose says what was needed
    assert st.status("too_big") is OrderStatus.REJECTED


def test_cash_market_order_is_rejected_when_it_cannot_be_paid_at_the_fill_price() -> None:
    def act(s: Script) -> None:
        s.placed["m"] = s.buy(9.0)

    st = run(
        [FLAT, (120.0, 120.0, 120.0, 120.0)], {0: act}, account_type=CASH, balances={"USDT": 1000.0}
    )
    assert _reasons(st) == {"m": R.INSUFFICIENT_BALANCE}
    assert st.fills() == []


def test_partially_filled_order_that_runs_out_of_cash_is_canceled() -> None:
    """A venue does not reject an order it has partly filled; the unaffordable rest is canceled."""

    def act(s: Script) -> None:
        s.placed["m"] = s.buy(9.0)

    bars = [FLAT, (100.0, 100.0, 100.0, 100.0, 40.0), (130.0, 130.0, 130.0, 130.0, 1000.0)]
    st = run(
        bars,
        {0: act},
        account_type=CASH,
        balances={"USDT": 1000.0},
        fill_model=FillModel(volume_limit=0.1),
    )
    assert [f.last_qty for f in st.fills("m")] == [4.0]
    assert st.status("m") is OrderStatus.CANCELED


def test_margin_account_rejects_beyond_leveraged_margin() -> None:
    def act(s: Script) -> None:
        s.placed["too_big"] = s.buy(51.0, price=100.0)  # 5100 / 5 = 1020 > 1000
        s.placed["fits"] = s.sell(49.0, price=100.0)  # 4900 / 5 = 980

    st = run([FLAT, FLAT], {0: act}, balances={"USDT": 1000.0}, leverage=5.0)
    assert _reasons(st) == {"too_big": R.INSUFFICIENT_MARGIN}
    assert st.status("fits") is OrderStatus.FILLED


def test_instrument_rule_rejects() -> None:
    def act(s: Script) -> None:
        s.placed["price"] = s.buy(1.0, price=99.999)
        s.placed["trigger"] = s.buy(1.0, trigger_price=101.005)
        s.placed["qty"] = s.buy(0.0005, price=99.0)
        s.placed["notional"] = s.buy(0.05, price=99.0)  # 4.95 < 10
        s.placed["ok"] = s.buy(0.2, price=99.0)

    st = run([FLAT, FLAT], {0: act}, inst=instrument(min_notional=10.0))
    assert _reasons(st) == {
        "price": R.INVALID_PRICE,
        "trigger": R.INVALID_PRICE,
        "qty": R.INVALID_QUANTITY,
        "notional": R.MIN_NOTIONAL,
    }
    assert st.status("ok") is OrderStatus.ACCEPTED


def test_unknown_instrument_is_rejected_by_the_venue() -> None:
    engine = engine_for([FLAT, FLAT])
    other = instrument().__class__(symbol="ETH/USDT", venue="SIM", base="ETH", quote="USDT")
    engine.cache.add_instrument(other)  # known to the kernel, not traded at the venue

    def act(s: Script) -> None:
        order = Order(
            client_order_id="x-1",
            strategy_id=s.id,
            instrument_id=other.id,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=1.0,
        )
        s.placed["x"] = s.submit(order)

    st = run_engine(engine, {0: act})
    assert _reasons(st) == {"x": R.UNKNOWN_INSTRUMENT}
    assert "ETH/USDT@SIM" in st.rejects()[0].message


def test_cash_stop_order_gapping_past_its_trigger_is_paid_at_the_fill_price_or_rejected() -> None:
    """A buy-stop for the whole balance at 10 gaps open at 12: the wallet cannot pay 12, so the
    order is rejected at the fill instead of driving the USDT balance negative."""

    def act(s: Script) -> None:
        s.placed["stop"] = s.buy(100.0, trigger_price=10.0)

    st = run(
        [(9.0, 9.0, 9.0, 9.0), (12.0, 12.0, 12.0, 12.0)],
        {0: act},
        account_type=CASH,
        balances={"USDT": 1000.0},
        inst=instrument(price_increment=0.01, size_increment=1.0),
    )
    assert st.fills("stop") == []
    assert st.status("stop") is OrderStatus.REJECTED
    assert st.rejects()[0].reason == R.INSUFFICIENT_BALANCE
