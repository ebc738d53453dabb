"""Market and limit orders on bars, and the intrabar path rule (hand-made OHLC)."""

from __future__ import annotations

import pytest
from _simkit import IID, Script, close_ts, instrument, open_ts, run

from ttquant.model.data import Bar, BarType
from ttquant.model.enums import LiquiditySide, OrderSide, OrderStatus
from ttquant.venues.sim.models import FillModel, FixedTickSlippage

FLAT = (100.0, 100.0, 100.0, 100.0)


def test_market_fills_at_next_bar_open_as_taker() -> None:
    def act(s: Script) -> None:
        s.placed["m"] = s.buy(1.0)

    st = run(
        [FLAT, (102.0, 104.0, 101.0, 103.0)],
        {0: act},
        inst=instrument(taker_fee=0.0005, maker_fee=0.0002),
    )
    (fill,) = st.fills("m")
    assert fill.last_px == 102.0
    assert (fill.ts_event, fill.ts_init) == (open_ts(1), close_ts(1))
    assert fill.liquidity_side is LiquiditySide.TAKER
    assert fill.commission == pytest.approx(102.0 * 0.0005, rel=1e-12)
    assert st.status("m") is OrderStatus.FILLED


def test_market_at_close_fills_at_signal_bar_close() -> None:
    def act(s: Script) -> None:
        s.placed["m"] = s.sell(2.0)

    st = run(
        [(100.0, 101.0, 99.0, 100.5), (102.0, 104.0, 101.0, 103.0)],
        {0: act},
        fill_model=FillModel(market_fill="close"),
    )
    (fill,) = st.fills("m")
    assert (fill.last_px, fill.last_qty, fill.side) == (100.5, 2.0, OrderSide.SELL)
    assert fill.ts_event == fill.ts_init == close_ts(0)
    assert fill.liquidity_side is LiquiditySide.TAKER


def test_limit_touched_inside_bar_fills_at_limit_as_maker() -> None:
    def act(s: Script) -> None:
        s.placed["l"] = s.buy(1.0, price=99.5)

    st = run(
        [FLAT, (100.0, 100.5, 99.0, 100.2)],
        {0: act},
        inst=instrument(taker_fee=0.0005, maker_fee=0.0002),
    )
    (fill,) = st.fills("l")
    assert fill.last_px == 99.5
    assert fill.liquidity_side is LiquiditySide.MAKER
    assert fill.commission == pytest.approx(99.5 * 0.0002, rel=1e-12)
    assert fill.ts_event == open_ts(1)


def test_limit_gapped_through_at_open_fills_at_open() -> None:
    def act(s: Script) -> None:
        s.placed["buy"] = s.buy(1.0, price=99.5)
        s.placed["sell"] = s.sell(1.0, price=100.5)

    st = run([FLAT, (98.0, 99.0, 97.0, 98.5), (101.0, 101.5, 100.8, 101.2)], {0: act})
    assert st.fills("buy")[0].last_px == 98.0  # better than the limit
    assert st.fills("sell")[0].last_px == 101.0
    assert st.fills("buy")[0].liquidity_side is LiquiditySide.MAKER


def test_limit_not_reached_keeps_working() -> None:
    def act(s: Script) -> None:
        s.placed["l"] = s.buy(1.0, price=99.5)

    st = run([FLAT, (100.0, 101.0, 99.51, 100.5)], {0: act})
    assert st.fills() == []
    assert st.status("l") is OrderStatus.ACCEPTED


def test_marketable_limit_is_taker_and_never_slips_past_its_limit() -> None:
    """A limit that crosses the market on arrival takes liquidity; slippage stops at the limit."""

    def act(s: Script) -> None:
        s.placed["gap"] = s.buy(1.0, price=101.0)  # last is 100: marketable

    # opens at 100.5 (below the limit): fills at the open plus one tick
    st = run([FLAT, (100.5, 101.0, 100.0, 100.8)], {0: act}, slippage_model=FixedTickSlippage(1))
    fill = st.fills("gap")[0]
    assert (fill.last_px, fill.liquidity_side) == (100.51, LiquiditySide.TAKER)
    # opens above the limit, trades down through it: fills at the limit, slippage clamped
    st = run([FLAT, (102.0, 102.5, 100.8, 101.5)], {0: act}, slippage_model=FixedTickSlippage(1))
    assert st.fills("gap")[0].last_px == 101.0


def test_marketable_limit_unfilled_by_its_first_bar_rests_and_makes_liquidity() -> None:
    """Marketable against the last price (101) when placed, a sell at 100.5 meets a bar that
    never comes up to it; from then on it rests in the book, and the bar that later trades up
    through it fills it at its limit as a maker, with no slippage and the maker fee."""

    def act(s: Script) -> None:
        s.placed["tp"] = s.sell(1.0, price=100.5)

    bars = [(100.0, 101.0, 100.0, 101.0), FLAT, FLAT, (100.0, 101.0, 100.0, 100.0)]
    st = run(
        bars,
        {0: act},
        inst=instrument(taker_fee=0.0005, maker_fee=0.0002),
        slippage_model=FixedTickSlippage(1),
    )
    (fill,) = st.fills("tp")
    assert (fill.last_px, fill.ts_event, fill.liquidity_side) == (
        100.5,
        open_ts(3),
        LiquiditySide.MAKER,
    )
    assert fill.commission == pytest.approx(100.5 * 0.0002, rel=1e-12)


@pytest.mark.parametrize(
    ("ohlc", "path"),
    [
        ((100.0, 101.0, 98.0, 100.5), (100.0, 101.0, 98.0, 100.5)),  # high nearer: O H L C
        ((100.0, 102.0, 99.0, 100.5), (100.0, 99.0, 102.0, 100.5)),  # low nearer: O L H C
        ((100.0, 102.0, 98.0, 100.5), (100.0, 98.0, 102.0, 100.5)),  # tie: low first
    ],
)
def test_bar_path_visits_nearer_extreme_first(
    ohlc: tuple[float, float, float, float], path: tuple[float, ...]
) -> None:
    o, h, lo, c = ohlc
    bar = Bar(BarType(IID, 60_000_000_000), o, h, lo, c, 1.0, 0, 1)
    assert FillModel().bar_path(bar) == path


@pytest.mark.parametrize(
    ("ohlc", "first"),
    [((100.0, 101.0, 98.0, 100.5), "sell"), ((100.0, 102.0, 99.0, 100.5), "buy")],
)
def test_path_rule_decides_which_resting_order_fills_first(
    ohlc: tuple[float, float, float, float], first: str
) -> None:
    def act(s: Script) -> None:
        s.placed["buy"] = s.buy(1.0, price=99.0)
        s.placed["sell"] = s.sell(1.0, price=101.0)

    st = run([FLAT, ohlc], {0: act})
    order = [f.client_order_id for f in st.fills()]
    expected = [
        st.placed[first].client_order_id,
        st.placed["buy" if first == "sell" else "sell"].client_order_id,
    ]
    assert order == expected
    assert [f.last_px for f in st.fills()] == ([101.0, 99.0] if first == "sell" else [99.0, 101.0])
