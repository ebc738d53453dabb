"""Contingent orders: brackets (entry + stop-loss + take-profit) and standalone OCO pairs."""

from __future__ import annotations

from _simkit import Action, Script, open_ts, run

from ttquant.model.enums import LiquiditySide, OrderSide, OrderStatus, PositionSide
from ttquant.model.events import OrderUpdated
from ttquant.venues.sim.models import FillModel

FLAT = (100.0, 100.0, 100.0, 100.0)
S = OrderStatus


def _bracket(
    entry_price: float | None = None, qty: float = 1.0, sl: float = 98.0, tp: float = 103.0
) -> dict[int, Action]:
    def act(s: Script) -> None:
        entry, stop, take = s.bracket(
            OrderSide.BUY, qty, stop_loss=sl, take_profit=tp, entry_price=entry_price
        )
        s.placed.update(entry=entry, sl=stop, tp=take)

    return {0: act}


def test_stop_loss_wins_when_one_bar_touches_both() -> None:
    # high nearer the open: the path reaches the take-profit (103) first, yet the stop-loss fills
    st = run([FLAT, (100.0, 103.5, 96.0, 101.0)], _bracket())
    assert st.fills("entry")[0].last_px == 100.0
    (sl_fill,) = st.fills("sl")
    assert (sl_fill.last_px, sl_fill.liquidity_side) == (98.0, LiquiditySide.TAKER)
    assert st.fills("tp") == []
    assert (st.status("sl"), st.status("tp")) == (S.FILLED, S.CANCELED)
    (trip,) = st.cache.round_trips
    assert (trip.side, trip.entry_price, trip.exit_price, trip.pnl, trip.exit_reason) == (
        PositionSide.LONG,
        100.0,
        98.0,
        -2.0,
        "stop_loss",
    )


def test_take_profit_fills_and_cancels_the_stop() -> None:
    st = run([FLAT, (100.0, 103.5, 99.0, 103.0)], _bracket())
    (tp_fill,) = st.fills("tp")
    assert (tp_fill.last_px, tp_fill.liquidity_side) == (103.0, LiquiditySide.MAKER)
    assert (st.status("sl"), st.status("tp")) == (S.CANCELED, S.FILLED)
    assert st.cache.round_trips[0].exit_reason == "take_profit"


def test_take_profit_gapped_at_the_open_beats_a_later_stop_touch() -> None:
    """The open comes first: a take-profit gapped through at the open is not a both-touched bar."""
    bars = [FLAT, FLAT, (104.0, 104.5, 97.0, 99.0)]
    st = run(bars, _bracket())
    assert st.fills("tp")[0].last_px == 104.0
    assert st.fills("sl") == []


def test_children_are_held_until_the_entry_fills() -> None:
    # limit entry at 99 is not reached; the take-profit level is crossed but must not fill
    st = run([FLAT, (100.0, 103.5, 99.5, 103.0)], _bracket(entry_price=99.0))
    assert st.fills() == []
    assert (st.status("entry"), st.status("sl"), st.status("tp")) == (S.ACCEPTED,) * 3


def test_children_act_in_the_rest_of_the_entry_bar() -> None:
    # O=100 -> H=100.5 -> L=97: the entry fills at 99 on the way down, the stop at 97.5 after it
    st = run([FLAT, (100.0, 100.5, 97.0, 98.0)], _bracket(entry_price=99.0, sl=97.5))
    assert st.fills("entry")[0].last_px == 99.0
    (sl_fill,) = st.fills("sl")
    assert (sl_fill.last_px, sl_fill.ts_event) == (97.5, open_ts(1))
    assert st.position().is_flat


def test_children_are_sized_to_the_partial_entry_and_follow_its_cancel() -> None:
    def cancel_entry(s: Script) -> None:
        s.cancel(s.placed["entry"])

    script = dict(_bracket(entry_price=99.0, qty=10.0, sl=97.5))
    script[1] = cancel_entry
    # bar 1: volume 40 with a 10 % limit lets 4 of the entry fill; bar 2 falls through the stop
    st = run(
        [FLAT, (100.0, 100.5, 98.8, 99.5, 40.0), (99.5, 100.0, 96.0, 97.0, 1000.0)],
        script,
        fill_model=FillModel(volume_limit=0.1),
    )
    assert [f.last_qty for f in st.fills("entry")] == [4.0]
    assert st.status("entry") is S.CANCELED
    resized = [e for e in st.events if isinstance(e, OrderUpdated)]
    assert {(e.client_order_id, e.quantity) for e in resized} == {
        (st.placed["sl"].client_order_id, 4.0),
        (st.placed["tp"].client_order_id, 4.0),
    }
    assert [(f.last_qty, f.last_px) for f in st.fills("sl")] == [(4.0, 97.5)]
    assert st.position().is_flat
    assert st.status("tp") is S.CANCELED


def test_entry_canceled_before_any_fill_cancels_the_children() -> None:
    def cancel_entry(s: Script) -> None:
        s.cancel(s.placed["entry"])

    script = dict(_bracket(entry_price=99.0))
    script[1] = cancel_entry
    st = run([FLAT, FLAT, (96.0, 104.0, 95.0, 100.0)], script)
    assert st.fills() == []
    assert (st.status("entry"), st.status("sl"), st.status("tp")) == (S.CANCELED,) * 3


def _straddle(s: Script) -> None:
    limit = s.order(OrderSide.BUY, 1.0, price=98.0)
    stop = s.order(OrderSide.BUY, 1.0, trigger_price=102.0)
    s.submit_oco(limit, stop)
    s.placed.update(limit=limit, stop=stop)


def test_oco_stop_side_fills_and_cancels_the_limit() -> None:
    st = run([FLAT, (100.0, 102.5, 99.5, 102.0)], {0: _straddle})
    assert st.fills("stop")[0].last_px == 102.0
    assert (st.status("stop"), st.status("limit")) == (S.FILLED, S.CANCELED)


def test_oco_limit_side_fills_and_cancels_the_stop() -> None:
    st = run([FLAT, (100.0, 100.5, 97.5, 99.0), (103.0, 103.0, 103.0, 103.0)], {0: _straddle})
    assert st.fills("limit")[0].last_px == 98.0
    assert (st.status("limit"), st.status("stop")) == (S.FILLED, S.CANCELED)
    assert st.position().quantity == 1.0


def test_oco_both_touched_in_one_bar_fills_the_stop() -> None:
    # tie -> low first, the limit at 98 is reached first on the path; the stop is assumed first
    st = run([FLAT, (100.0, 102.5, 97.5, 100.0)], {0: _straddle})
    assert [f.client_order_id for f in st.fills()] == [st.placed["stop"].client_order_id]
    assert st.status("limit") is S.CANCELED


def test_bracket_with_market_at_close_entry_protects_from_the_next_bar() -> None:
    st = run(
        [FLAT, (100.0, 100.5, 97.0, 98.0)], _bracket(), fill_model=FillModel(market_fill="close")
    )
    assert st.fills("entry")[0].ts_event == st.bars[0].ts_init
    assert [(f.last_px, f.ts_event) for f in st.fills("sl")] == [(98.0, open_ts(1))]
    assert st.status("tp") is S.CANCELED


def test_close_position_cancels_the_strategys_resting_exits() -> None:
    """After closing by hand, the old bracket's stop-loss must not later close a new position."""

    def close(s: Script) -> None:
        s.close_position(reason="manual")

    def reenter(s: Script) -> None:
        s.placed["again"] = s.buy(1.0)

    st = run(
        [FLAT, FLAT, FLAT, FLAT, (100.0, 100.0, 90.0, 95.0)],
        {**_bracket(sl=98.0, tp=103.0), 1: close, 2: reenter},
    )
    assert st.status("sl") is OrderStatus.CANCELED and st.status("tp") is OrderStatus.CANCELED
    assert [t.exit_reason for t in st.cache.round_trips] == ["manual"]
    assert st.position().quantity == 1.0  # the re-entry is still open after the drop to 90


def test_oco_exit_that_closes_the_position_cancels_its_sibling() -> None:
    """A reduce-only OCO pair sized 2 on a position of 1: once the take-profit closes the
    position, the stop must go too, or it would later close a new position."""

    def enter(s: Script) -> None:
        s.buy(1.0)

    def exits(s: Script) -> None:
        take = s.order(OrderSide.SELL, 2.0, price=103.0, reduce_only=True)
        stop = s.order(OrderSide.SELL, 2.0, trigger_price=95.0, reduce_only=True)
        s.submit_oco(take, stop)
        s.placed.update(tp=take, sl=stop)

    st = run([FLAT, FLAT, (100.0, 104.0, 100.0, 103.0), FLAT], {0: enter, 1: exits})
    assert [f.last_qty for f in st.fills("tp")] == [1.0]
    assert st.status("sl") is OrderStatus.CANCELED
    assert st.position().is_flat
