"""Modify and cancel of working orders, their rejections, and cancel/modify racing a fill."""

from __future__ import annotations

from _simkit import Script, run

from ttquant.model.enums import OrderStatus
from ttquant.model.events import OrderCancelRejected, OrderModifyRejected, OrderUpdated
from ttquant.venues.sim.models import FillModel

FLAT = (100.0, 100.0, 100.0, 100.0)
S = OrderStatus
TOUCH_99_5 = (100.0, 100.2, 99.2, 99.8)  # high nearer: O -> H -> L crosses 99.5 from above


def _limit(s: Script) -> None:
    s.placed["l"] = s.buy(1.0, price=98.0)


def test_modify_price_and_quantity_of_a_resting_limit() -> None:
    def modify(s: Script) -> None:
        s.modify(s.placed["l"], price=99.5, quantity=2.0)

    st = run([FLAT, FLAT, TOUCH_99_5], {0: _limit, 1: modify})
    (upd,) = [e for e in st.events if isinstance(e, OrderUpdated)]
    assert (upd.quantity, upd.price) == (2.0, 99.5)
    assert [(f.last_qty, f.last_px) for f in st.fills("l")] == [(2.0, 99.5)]
    assert st.status("l") is S.FILLED


def test_modify_trigger_of_a_stop() -> None:
    def place(s: Script) -> None:
        s.placed["stop"] = s.buy(1.0, trigger_price=103.0)

    def modify(s: Script) -> None:
        s.modify(s.placed["stop"], trigger_price=101.0)

    st = run([FLAT, FLAT, (100.0, 101.5, 99.8, 101.2)], {0: place, 1: modify})
    assert st.fills("stop")[0].last_px == 101.0
    assert st.placed["stop"].trigger_price == 101.0


def test_modify_rejections_leave_the_order_working_unchanged() -> None:
    def modify(s: Script) -> None:
        s.modify(s.placed["l"], price=99.555)  # off the 0.01 tick

    st = run([FLAT, FLAT], {0: _limit, 1: modify})
    (rej,) = [e for e in st.events if isinstance(e, OrderModifyRejected)]
    assert "price increment" in rej.reason
    assert st.status("l") is S.ACCEPTED
    assert st.placed["l"].price == 98.0


def test_modify_quantity_below_the_filled_quantity_is_rejected() -> None:
    def place(s: Script) -> None:
        s.placed["l"] = s.buy(10.0, price=99.5)

    def modify(s: Script) -> None:
        s.modify(s.placed["l"], quantity=2.0)

    bars = [FLAT, (100.0, 100.2, 99.2, 99.8, 40.0), FLAT]
    st = run(bars, {0: place, 1: modify}, fill_model=FillModel(volume_limit=0.1))
    (rej,) = [e for e in st.events if isinstance(e, OrderModifyRejected)]
    assert "below the 4.0 already filled" in rej.reason
    assert st.status("l") is S.PARTIALLY_FILLED


def test_cancel_a_resting_order() -> None:
    def cancel(s: Script) -> None:
        s.cancel(s.placed["l"])

    st = run([FLAT, FLAT, (97.0, 97.0, 97.0, 97.0)], {0: _limit, 1: cancel})
    assert st.fills() == []
    assert st.status("l") is S.CANCELED
    assert st.open_orders() == []


def test_cancel_racing_a_fill_is_rejected_and_the_fill_stands() -> None:
    """With fills at the close, the order is filled before the cancel request reaches the venue."""

    def submit_and_cancel(s: Script) -> None:
        s.placed["m"] = s.buy(1.0)
        s.cancel(s.placed["m"])

    st = run([FLAT, FLAT], {0: submit_and_cancel}, fill_model=FillModel(market_fill="close"))
    assert st.status("m") is S.FILLED
    assert [e.reason for e in st.events if isinstance(e, OrderCancelRejected)] == [
        "order is not open"
    ]
    assert st.position().quantity == 1.0


def test_modify_racing_a_fill_is_rejected_and_the_fill_stands() -> None:
    def submit_and_modify(s: Script) -> None:
        s.placed["m"] = s.buy(1.0)
        s.modify(s.placed["m"], quantity=2.0)

    st = run([FLAT, FLAT], {0: submit_and_modify}, fill_model=FillModel(market_fill="close"))
    assert st.status("m") is S.FILLED
    assert len([e for e in st.events if isinstance(e, OrderModifyRejected)]) == 1
    assert st.placed["m"].quantity == 1.0


def test_cancel_of_a_finished_order_is_a_no_op() -> None:
    def cancel(s: Script) -> None:
        s.cancel(s.placed["m"])

    st = run([FLAT, FLAT, FLAT], {0: lambda s: s.placed.update(m=s.buy(1.0)), 1: cancel})
    assert st.status("m") is S.FILLED
    assert not [e for e in st.events if isinstance(e, OrderCancelRejected)]
