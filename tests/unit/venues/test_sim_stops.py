"""Stop-market, stop-limit and trailing-stop orders on hand-made bars."""

from __future__ import annotations

import pytest
from _simkit import Action, Script, open_ts, run

from ttquant.model.enums import LiquiditySide, OrderSide, OrderStatus
from ttquant.model.events import OrderFilled, OrderTriggered
from ttquant.venues.sim.models import BpsSlippage, FixedTickSlippage, SlippageModel

FLAT = (100.0, 100.0, 100.0, 100.0)


def _buy_stop(s: Script) -> None:
    s.placed["stop"] = s.buy(1.0, trigger_price=102.0)


@pytest.mark.parametrize(
    ("slippage", "expected"),
    [(SlippageModel(), 102.0), (FixedTickSlippage(2), 102.02), (BpsSlippage(10.0), 102.102)],
)
def test_stop_touched_inside_bar_fills_at_stop_plus_slippage(
    slippage: SlippageModel, expected: float
) -> None:
    # low nearer the open: O=100 -> L=99.5 -> H=103 crosses 102 on the way up
    st = run([FLAT, (100.0, 103.0, 99.5, 102.5)], {0: _buy_stop}, slippage_model=slippage)
    (fill,) = st.fills("stop")
    assert fill.last_px == pytest.approx(expected, rel=1e-12)
    assert fill.liquidity_side is LiquiditySide.TAKER
    assert fill.ts_event == open_ts(1)
    kinds = [type(e) for e in st.events if e.client_order_id == fill.client_order_id]
    assert kinds.index(OrderTriggered) < kinds.index(OrderFilled)


def test_stop_gapped_fills_at_open_both_sides() -> None:
    def act(s: Script) -> None:
        _buy_stop(s)
        s.placed["sell_stop"] = s.sell(1.0, trigger_price=98.0)

    st = run([FLAT, (104.0, 105.0, 103.0, 104.5)], {0: act})
    assert st.fills("stop")[0].last_px == 104.0
    st = run([FLAT, (96.0, 97.0, 95.0, 96.5)], {0: act})
    assert st.fills("sell_stop")[0].last_px == 96.0


def test_stop_not_reached_stays_accepted() -> None:
    st = run([FLAT, (100.0, 101.99, 99.0, 101.0)], {0: _buy_stop})
    assert st.fills() == []
    assert st.status("stop") is OrderStatus.ACCEPTED


def _buy_stop_limit(s: Script) -> None:
    s.placed["sl"] = s.buy(1.0, trigger_price=102.0, price=102.5)


def test_stop_limit_triggered_and_filled_at_trigger() -> None:
    st = run([FLAT, (100.0, 103.0, 99.5, 102.5)], {0: _buy_stop_limit})
    (fill,) = st.fills("sl")
    assert (fill.last_px, fill.liquidity_side) == (102.0, LiquiditySide.TAKER)
    assert st.status("sl") is OrderStatus.FILLED


def test_stop_limit_gapped_past_its_limit_rests_then_fills_at_limit() -> None:
    bars = [FLAT, (104.0, 105.0, 103.0, 104.5), (103.0, 103.5, 102.0, 102.8)]
    st = run(bars[:2], {0: _buy_stop_limit})
    assert st.fills() == []
    assert st.status("sl") is OrderStatus.TRIGGERED  # resting as a limit at 102.5
    st = run(bars, {0: _buy_stop_limit})
    (fill,) = st.fills("sl")
    # bar 2: O=103 -> H=103.5 -> L=102 crosses 102.5 from above; the resting limit is a maker
    assert (fill.last_px, fill.liquidity_side, fill.ts_event) == (
        102.5,
        LiquiditySide.MAKER,
        open_ts(2),
    )


# -- trailing stops --------------------------------------------------------------------------------
# Bar 0 buys 1 at the open of bar 1 (100); at the close of bar 1 (100) a trailing sell goes in.


def _long_then_trail(offset: float, percent: bool = False) -> dict[int, Action]:
    def enter(s: Script) -> None:
        s.buy(1.0)

    def trail(s: Script) -> None:
        s.placed["trail"] = s.trailing_stop(OrderSide.SELL, 1.0, offset, percent=percent)

    return {0: enter, 1: trail}


def test_trailing_stop_high_first_raises_stop_then_low_hits_it() -> None:
    # O=102 (stop 100) -> H=103 (stop 101) -> L=100 hits 101
    st = run([FLAT, FLAT, (102.0, 103.0, 100.0, 102.0)], _long_then_trail(2.0))
    (fill,) = st.fills("trail")
    assert (fill.last_px, fill.ts_event) == (101.0, open_ts(2))
    assert st.placed["trail"].exit_reason == "trailing_stop"


def test_trailing_stop_low_first_is_not_hit_by_the_same_range() -> None:
    # same high and low, open nearer the low: O=101 (stop 99) -> L=100 (no) -> H=103 (stop 101)
    # -> C=102 (no); the next bar O=101.5 -> H=101.8 -> L=100.5 crosses 101
    bars = [FLAT, FLAT, (101.0, 103.0, 100.0, 102.0)]
    st = run(bars, _long_then_trail(2.0))
    assert st.fills("trail") == []
    assert st.status("trail") is OrderStatus.ACCEPTED
    st = run([*bars, (101.5, 101.8, 100.5, 101.0)], _long_then_trail(2.0))
    assert st.fills("trail")[0].last_px == 101.0


def test_trailing_stop_percent_offset_and_gap() -> None:
    # 2 %: O=102 -> stop 99.96; L=100 (no); H=105 -> stop 102.9; C=104 (no)
    bars = [FLAT, FLAT, (102.0, 105.0, 100.0, 104.0)]
    touched = run([*bars, (104.0, 104.2, 102.0, 103.0)], _long_then_trail(2.0, True))
    assert touched.fills("trail")[0].last_px == pytest.approx(102.9, abs=1e-9)
    gapped = run([*bars, (102.0, 102.5, 101.0, 102.0)], _long_then_trail(2.0, True))
    assert gapped.fills("trail")[0].last_px == 102.0


def test_trailing_buy_stop_protects_a_short() -> None:
    def enter(s: Script) -> None:
        s.sell(1.0)

    def trail(s: Script) -> None:
        s.placed["trail"] = s.trailing_stop(OrderSide.BUY, 1.0, 2.0)

    # O=98 (stop 100) -> L=97 (stop 99) -> H=100 hits 99
    st = run([FLAT, FLAT, (98.0, 100.0, 97.0, 98.0)], {0: enter, 1: trail})
    assert st.fills("trail")[0].last_px == 99.0
