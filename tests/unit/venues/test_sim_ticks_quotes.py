"""Matching on trade ticks and on quotes (buys at the ask, sells at the bid)."""

from __future__ import annotations

import numpy as np
from _simkit import IID, T0, Script, engine_for, run_engine

from ttquant.engine.backtest import BacktestEngine
from ttquant.model.enums import LiquiditySide, OrderStatus, TimeInForce
from ttquant.venues.sim.models import FillModel

SECOND = 1_000_000_000


def _ts(n: int) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * SECOND


def _trades(
    prices: list[float], sizes: list[float] | None = None, fill_model: FillModel | None = None
) -> BacktestEngine:
    engine = engine_for([], fill_model=fill_model)
    engine.add_trades(
        IID, _ts(len(prices)), np.array(prices), np.array(sizes or [10.0] * len(prices))
    )
    return engine


def test_trade_ticks_market_limit_stop_and_ioc() -> None:
    engine = _trades([100.0, 101.0, 99.0, 98.5, 103.0])

    def act(s: Script) -> None:
        s.placed["m"] = s.buy(1.0)
        s.placed["l"] = s.buy(1.0, price=99.5)  # resting below 100
        s.placed["stop"] = s.buy(1.0, trigger_price=102.0)
        s.placed["ioc"] = s.sell(1.0, price=102.0, time_in_force=TimeInForce.IOC)

    st = run_engine(engine, {0: act})
    m, lim, stop = st.fills("m")[0], st.fills("l")[0], st.fills("stop")[0]
    assert (m.last_px, m.ts_event, m.liquidity_side) == (101.0, T0 + SECOND, LiquiditySide.TAKER)
    # the tick at 99 jumped over the resting 99.5: it filled at its own price, as a maker
    assert (lim.last_px, lim.ts_event, lim.liquidity_side) == (
        99.5,
        T0 + 2 * SECOND,
        LiquiditySide.MAKER,
    )
    assert (stop.last_px, stop.ts_event) == (103.0, T0 + 4 * SECOND)  # gapped: the tick price
    assert st.status("ioc") is OrderStatus.CANCELED
    assert st.fills("ioc") == []


def test_marketable_limit_takes_on_its_first_tick_only() -> None:
    """Both buys cross the last trade (100) when placed. The one at 101 meets a tick at 100.5
    and takes it there; the one at 100.2 meets ticks above it, so it rests, and the tick at 99
    that later jumps over it fills it at its own price as a maker."""
    engine = _trades([100.0, 100.5, 101.0, 99.0])

    def act(s: Script) -> None:
        s.placed["takes"] = s.buy(1.0, price=101.0)
        s.placed["rests"] = s.buy(1.0, price=100.2)

    st = run_engine(engine, {0: act})
    takes, rests = st.fills("takes")[0], st.fills("rests")[0]
    assert (takes.last_px, takes.ts_event, takes.liquidity_side) == (
        100.5,
        T0 + SECOND,
        LiquiditySide.TAKER,
    )
    assert (rests.last_px, rests.ts_event, rests.liquidity_side) == (
        100.2,
        T0 + 3 * SECOND,
        LiquiditySide.MAKER,
    )


def test_trade_tick_volume_limit() -> None:
    engine = _trades(
        [100.0, 100.0, 101.0], [10.0, 4.0, 10.0], fill_model=FillModel(volume_limit=0.5)
    )

    st = run_engine(engine, {0: lambda s: s.placed.update(m=s.buy(3.0))})
    assert [(f.last_qty, f.last_px) for f in st.fills("m")] == [(2.0, 100.0), (1.0, 101.0)]


def _quotes(fill_model: FillModel | None = None) -> BacktestEngine:
    engine = engine_for([], fill_model=fill_model)
    bids = [99.9, 100.0, 99.4, 99.0]
    asks = [100.1, 100.2, 99.6, 99.2]
    engine.add_quotes(IID, _ts(4), np.array(bids), np.array(asks), np.ones(4), np.ones(4))
    return engine


def test_quotes_buy_at_the_ask_and_sell_at_the_bid() -> None:
    def act(s: Script) -> None:
        s.placed["buy"] = s.buy(1.0)
        s.placed["sell"] = s.sell(1.0)
        s.placed["l"] = s.buy(1.0, price=99.7)  # resting: the ask is 100.1
        s.placed["stop"] = s.sell(1.0, trigger_price=99.5)

    st = run_engine(_quotes(), {0: act})
    assert st.fills("buy")[0].last_px == 100.2
    assert st.fills("sell")[0].last_px == 100.0
    # the ask fell to 99.6 through the bid at 99.7: filled at 99.7
    assert (st.fills("l")[0].last_px, st.fills("l")[0].ts_event) == (99.7, T0 + 2 * SECOND)
    assert st.fills("stop")[0].last_px == 99.4  # the bid crossed the stop


def test_market_at_close_on_quotes_takes_the_current_ask_or_bid() -> None:
    def act(s: Script) -> None:
        s.placed["buy"] = s.buy(1.0)
        s.placed["sell"] = s.sell(2.0)

    st = run_engine(_quotes(FillModel(market_fill="close")), {1: act})
    assert st.fills("buy")[0].last_px == 100.2
    assert st.fills("sell")[0].last_px == 100.0


def test_post_only_against_a_quote_checks_the_opposite_side() -> None:
    def act(s: Script) -> None:
        s.placed["rests"] = s.buy(1.0, price=100.05, post_only=True)  # mid 100, ask 100.1
        s.placed["takes"] = s.buy(1.0, price=100.1, post_only=True)

    st = run_engine(_quotes(), {0: act})
    assert [r.client_order_id for r in st.rejects()] == [st.placed["takes"].client_order_id]
    assert st.status("rests") is OrderStatus.FILLED
