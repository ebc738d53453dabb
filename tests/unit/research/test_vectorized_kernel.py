"""The vectorized kernel's pieces against hand-computed cases and independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import DEMO_DATA

from ttquant.analytics.statistics import compute_statistics
from ttquant.core.errors import ConfigError
from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.indicators import ema, sma
from ttquant.model.instruments import spot
from ttquant.research.vectorized import portfolio
from ttquant.research.vectorized.layout import (
    LONG_ENTRY,
    LONG_EXIT,
    MA_SIMPLE,
    SHORT_ENTRY,
    SHORT_EXIT,
)
from ttquant.research.vectorized.portfolio import (
    Batch,
    Columns,
    Direction,
    MAKind,
    Market,
    SizeKind,
    VenueSettings,
    run_ma_cross,
    run_signals,
    run_targets,
)
from ttquant.research.vectorized.rounding import (
    price_rounding,
    round_price,
    round_quantity,
    size_rounding,
)
from ttquant.research.vectorized.signals import ma_step
from ttquant.strategy.library.ma_cross import SMACross

STEP = 60_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01


def market(bars: list[tuple[float, float, float, float]], **rules: float) -> Market:
    a = np.array(bars, dtype=np.float64)
    ts = T0 + np.arange(len(bars), dtype=np.int64) * STEP
    inst = spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001, **rules)
    o, h, lo, c = (np.ascontiguousarray(a[:, j : j + 1]) for j in range(4))
    return Market(ts, STEP, o, h, lo, c, (inst,))


def enter_at(n: int, entry: int, exit_: int | None = None) -> np.ndarray:
    flags = np.zeros((1, n, 1), dtype=np.uint8)
    flags[0, entry, 0] = LONG_ENTRY
    if exit_ is not None:
        flags[0, exit_, 0] = LONG_EXIT
    return flags


FLAT = (100.0, 100.5, 99.5, 100.0)


def test_take_profit_reached_first_still_fills_the_stop_loss() -> None:
    """High nearer the open: the path meets the 102 take-profit before the 99 stop-loss, but a
    bar that reaches both fills the stop-loss (the conservative rule), at its trigger."""
    m = market([FLAT, (100.0, 102.2, 97.5, 101.0), FLAT])
    cols = Columns.make(1, size=1.0, stop_loss=0.01, take_profit=0.02)
    b = run_signals(m, enter_at(3, 0), cols, VenueSettings(slippage_ticks=2))
    t = b.trades(0)
    assert len(t) == 1 and t.exit_reason[0] == 1
    # entry at bar 1's open 100 + 2 ticks; exit at the 99.00 trigger - 2 ticks
    assert (t.entry_price[0], t.exit_price[0]) == (100.02, 98.98)
    assert t.entry_ns[0] == t.exit_ns[0] == T0 + STEP  # stopped in the entry bar itself


def test_take_profit_alone_fills_at_its_limit_as_maker_and_gaps_fill_at_the_open() -> None:
    m = market([FLAT, (100.0, 101.0, 99.5, 100.8), (103.0, 103.5, 102.5, 103.0), FLAT])
    cols = Columns.make(1, size=2.0, stop_loss=0.05, take_profit=0.02)
    venue = VenueSettings(maker_fee=0.001, taker_fee=0.002, slippage_bps=10.0)
    t = run_signals(m, enter_at(4, 0), cols, venue).trades(0)
    assert t.exit_reason[0] == 2
    # entry 100 * (1 + 10 bps) taker; take-profit 102 gapped: the open 103, maker, no slippage
    assert t.entry_price[0] == pytest.approx(100.1) and t.exit_price[0] == 103.0
    assert t.fees[0] == pytest.approx(2 * 100.1 * 0.002 + 2 * 103.0 * 0.001)
    assert t.pnl[0] == pytest.approx(2 * (103.0 - 100.1) - t.fees[0])


def test_trailing_stop_follows_the_path_point_by_point() -> None:
    """docs/backtesting.md's example in percent: a 2 % trail placed at the entry bar's close
    (100 -> stop 98); O=102 H=103 L=100 (high first) lifts it to 100.94, then the low hits it;
    the low-first bar O=101 H=103 L=100 would pass under the old stop and end above the new."""
    bars = [FLAT, FLAT, (102.0, 103.0, 100.0, 102.0), (102.0, 102.5, 101.5, 102.0)]
    cols = Columns.make(1, size=1.0, trailing_stop=0.02)
    t = run_signals(market(bars), enter_at(4, 0), cols, VenueSettings()).trades(0)
    assert t.exit_reason[0] == 3 and t.exit_price[0] == pytest.approx(100.94)
    bars[2] = (101.0, 103.0, 100.0, 102.0)
    b = run_signals(market(bars), enter_at(4, 0), cols, VenueSettings())
    assert len(b.trades(0)) == 0 and b.open_position(0)[0] == 1.0


def test_stop_loss_gapped_through_fills_at_the_open() -> None:
    m = market([FLAT, FLAT, (95.0, 96.0, 94.0, 95.5)])
    cols = Columns.make(1, size=1.0, stop_loss=0.01)
    t = run_signals(m, enter_at(3, 0), cols, VenueSettings()).trades(0)
    assert (t.exit_price[0], t.exit_reason[0]) == (95.0, 1)


def test_percent_sizing_shares_cash_and_refuses_what_it_cannot_pay() -> None:
    """Two assets, each targeting 60 % of equity at leverage 1. As at the simulated venue, the
    first order to fill finds the other pending order reserving its margin and is refused; the
    second then fits. At 45 % each, both fill."""
    ts = T0 + np.arange(4, dtype=np.int64) * STEP
    px = np.array([[100.0, 50.0]] * 4)
    insts = tuple(spot(s, "SIM", price_increment=0.01, size_increment=0.001) for s in
                  ("BTC/USDT", "ETH/USDT"))  # fmt: skip
    m = Market(ts, STEP, px, px, px, px, insts)
    targets = np.full((1, 4, 2), np.nan)
    targets[0, 0] = [0.6, 0.6]
    b = run_targets(m, targets, VenueSettings(cash=10_000.0), "percent")
    assert b.open_position(0, 0)[0] == 0.0 and b.open_position(0, 1)[0] == 120.0
    assert b.rejected_orders(0) == 1
    targets[0, 0] = [0.45, 0.45]
    b = run_targets(m, targets, VenueSettings(cash=10_000.0), "percent")
    assert (b.open_position(0, 0)[0], b.open_position(0, 1)[0]) == (45.0, 90.0)


def test_value_sizing_respects_the_size_increment() -> None:
    m = market([(300.0, 300.0, 300.0, 300.0)] * 3)
    targets = np.full((1, 3, 1), np.nan)
    targets[0, 0, 0] = 1000.0
    b = run_targets(m, targets, VenueSettings(), "value")
    assert b.open_position(0)[0] == 3.333  # 1000 / 300 floored to 0.001


def test_min_notional_refuses_small_orders() -> None:
    m = market([FLAT] * 3, min_notional=150.0)
    b = run_signals(m, enter_at(3, 0), Columns.make(1, size=1.0), VenueSettings())
    assert b.rejected_orders(0) == 1 and b.n_trades(0) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1e-6, 1e7, allow_nan=False),
    st.sampled_from([0.01, 0.05, 0.1, 0.5, 1e-8, 0.001, 25.0]),
)
def test_rounding_equals_the_instruments(value: float, increment: float) -> None:
    inst = spot("X/Y", "SIM", price_increment=increment, size_increment=increment)
    assert round_price(value, *price_rounding(inst)) == inst.round_price(value)
    assert round_quantity(value, *size_rounding(inst)) == inst.round_quantity(value)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(200, 3000))
def test_kept_samples_give_the_full_curves_statistics(seed: int, n: int) -> None:
    """Drawdowns, daily returns and everything else from the kept samples equal the values
    computed from every sample (compute_statistics is the independent reference)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    bars = np.stack([close, close * 1.001, close * 0.999, close], axis=1)
    ts = T0 + np.arange(n, dtype=np.int64) * 3_600_000_000_000 // 7  # several samples a day
    inst = spot("BTC/USDT", "SIM", price_increment=1e-8, size_increment=1e-8)
    o, h, lo, c = (np.ascontiguousarray(bars[:, j : j + 1]) for j in range(4))
    m = Market(ts, STEP, o, h, lo, c, (inst,))
    targets = np.where(rng.random((1, n, 1)) < 0.05, rng.uniform(-2, 2, (1, n, 1)), np.nan)
    kept = run_targets(m, targets, VenueSettings(cash=1_000.0, leverage=5.0))
    full = run_targets(m, targets, VenueSettings(cash=1_000.0, leverage=5.0), full_curve=True)
    ts_full, eq_full = full.equity(0)
    assert len(ts_full) == n and len(kept.equity(0)[0]) <= n
    reference = compute_statistics(
        ts_full,
        eq_full,
        full.trades(0).arrays(),
        in_market=None,
        benchmark=m.close[:, 0],
    )
    got = kept.statistics(0)
    for key, value in reference.items():
        if key == "exposure_time_pct":
            continue
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        else:
            assert got[key] == value, key
    assert got["exposure_time_pct"] == full.statistics(0)["exposure_time_pct"]


def test_columns_reject_bad_settings() -> None:
    with pytest.raises(Exception, match="stop_loss must be >= 0"):
        Columns.make(2, stop_loss=-0.1)
    with pytest.raises(Exception, match="direction must be one of"):
        Columns.make(1, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="not both"):
        VenueSettings(slippage_ticks=1, slippage_bps=1.0)
    assert math.isnan(Columns.make(1).stop_loss[0])


# --- the lean kernel, the fused moving averages and the trade buffers ----------------------


@pytest.fixture(scope="module")
def demo() -> OHLCV:
    return load_ohlcv(DEMO_DATA)  # real BTC/USDT 1-minute bars, January 2024


def demo_market(bars: OHLCV, start: int, n: int, assets: int = 1) -> Market:
    part = bars.slice_time(int(bars.ts[start]), int(bars.ts[start + n - 1]) + 1)
    insts = [spot(f"C{a}/USDT", "SIM", price_increment=0.01, size_increment=1e-5,
                  min_notional=5.0) for a in range(assets)]  # fmt: skip
    return Market.from_ohlcv([part] * assets, insts, STEP)


def assert_same_batch(a: Batch, b: Batch, col_a: int = 0, col_b: int = 0) -> None:
    """Every output of a column, bit for bit: trades, samples, counts, the open position."""
    ta, tb = a.trades(col_a), b.trades(col_b)
    for name in ("long", "quantity", "entry_ns", "exit_ns", "entry_price", "exit_price", "pnl",
                 "fees", "exit_reason"):  # fmt: skip
        assert np.array_equal(getattr(ta, name), getattr(tb, name)), name
    ia, ea = a.samples(col_a)
    ib, eb = b.samples(col_b)
    assert np.array_equal(ia, ib) and np.array_equal(ea, eb)
    assert np.array_equal(a.summary[col_a], b.summary[col_b])
    assert a.open_position(col_a) == b.open_position(col_b)


venues = st.builds(
    VenueSettings,
    cash=st.sampled_from([2_000.0, 100_000.0]),
    leverage=st.sampled_from([1.0, 3.0]),
    account=st.sampled_from(["margin", "cash"]),
    taker_fee=st.sampled_from([None, 0.0, 0.001]),
    slippage_ticks=st.sampled_from([0, 2]),
)


def test_a_flip_is_checked_against_equity_at_the_last_close() -> None:
    """Long 10 at 100 with 1,000 cash at leverage 2; the flip to short 10 (an order of 20)
    is checked at bar 2's open 101 against the equity marked at bar 1's close 100:
    free = 0 + 10 * 100 - 10 * 100 / 2 = 500 < 10 * 101 / 2 = 505, refused. Marked at bar 2's
    close (102) it would pass. Both kernels refuse it (the general one runs with an idle
    second asset)."""
    closes = [100.0, 100.0, 102.0, 102.0]
    opens = [100.0, 100.0, 101.0, 102.0]
    flags = np.zeros((1, 4, 2), dtype=np.uint8)
    flags[0, 0, 0] = LONG_ENTRY
    flags[0, 1, 0] = SHORT_ENTRY
    ts = T0 + np.arange(4, dtype=np.int64) * STEP
    inst = spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001)
    venue = VenueSettings(cash=1_000.0, leverage=2.0)
    cols = Columns.make(1, size=10.0, direction="both")
    for assets in (1, 2):
        c = np.repeat(np.array(closes)[:, None], assets, axis=1)
        o = np.repeat(np.array(opens)[:, None], assets, axis=1)
        m = Market(ts, STEP, o, np.maximum(o, c), np.minimum(o, c), c, (inst,) * assets)
        b = run_signals(m, np.ascontiguousarray(flags[:, :, :assets]), cols, venue)
        assert b.rejected_orders(0) == 1 and b.open_position(0) == (10.0, 100.0)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 40_000),
    st.integers(2, 2_500),
    st.integers(0, 2**31),
    venues,
    st.sampled_from(["long", "short", "both"]),
    st.booleans(),
    st.booleans(),
)
def test_lean_kernel_equals_the_general_kernel(
    demo: OHLCV,
    start: int,
    n: int,
    seed: int,
    venue: VenueSettings,
    direction: Direction,
    targets: bool,
    percent: bool,
) -> None:
    """One asset without stops runs the lean kernel; the same asset next to an idle second one
    runs the general kernel, which must give the same portfolio (the idle asset changes no
    funds check, equity or sample)."""
    rng = np.random.default_rng(seed)
    one, two = demo_market(demo, start, n), demo_market(demo, start, n, assets=2)
    kind: SizeKind = "percent" if percent else "amount"
    if targets:
        wanted = np.full((1, n, 2), np.nan)
        hit = rng.random(n) < 0.05
        wanted[0, hit, 0] = rng.uniform(-1, 1, hit.sum()) * (0.5 if percent else 0.3)
        lean = run_targets(one, np.ascontiguousarray(wanted[:, :, :1]), venue, kind)
        general = run_targets(two, wanted, venue, kind)
    else:
        flags = np.zeros((1, n, 2), dtype=np.uint8)
        flags[0, :, 0] = rng.integers(0, 16, n) * (rng.random(n) < 0.1)
        cols = Columns.make(1, size=0.4 if percent else 0.05, direction=direction)
        lean = run_signals(one, np.ascontiguousarray(flags[:, :, :1]), cols, venue, kind)
        general = run_signals(two, flags, cols, venue, kind)
    assert_same_batch(lean, general)


windows = st.tuples(st.integers(1, 40), st.integers(1, 80), st.sampled_from(["sma", "ema"]))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 40_000),
    st.integers(2, 3_000),
    st.lists(st.tuples(windows, st.sampled_from(["long", "both"])), min_size=1, max_size=4),
    st.sampled_from([math.nan, 0.003]),
)
def test_fused_ma_cross_equals_the_strategys_signals(
    demo: OHLCV,
    start: int,
    n: int,
    sets: list[tuple[tuple[int, int, MAKind], Direction]],
    stop: float,
) -> None:
    """The cross with its averages computed in the kernel loop == ``MACross.vectorized_signals``
    (built on :func:`ttquant.indicators.sma` / ``ema``) through the signal path: same trades
    to the bit. With stops both run the general kernel, without them the lean one. Each
    column of a many-column (parallel) call equals its own single-column call."""
    market = demo_market(demo, start, n)
    bars = demo.slice_time(int(demo.ts[start]), int(demo.ts[start + n - 1]) + 1)
    venue = VenueSettings(cash=100_000.0, taker_fee=0.0005)
    fast = [f for (f, _, _), _ in sets]
    slow = [s for (_, s, _), _ in sets]
    kinds = [kind for (_, _, kind), _ in sets]
    directions = [direction for _, direction in sets]
    columns = Columns.make(len(sets), size=0.01, direction=directions, stop_loss=stop)
    fused = run_ma_cross(market, fast, slow, columns, venue, kind=kinds)
    for c, ((f, s, kind), direction) in enumerate(sets):
        alone = Columns.make(1, size=0.01, direction=direction, stop_loss=stop)
        assert_same_batch(fused, run_ma_cross(market, [f], [s], alone, venue, kind=kind), c)
        if f >= s:  # the strategy refuses it; the kernel runs any pair of windows
            continue
        params = {"fast": f, "slow": s, "ma": kind, "long_only": direction == "long", "size": 0.01}
        out = SMACross.vectorized_signals(bars, params, {})
        flags = np.zeros((1, n, 1), dtype=np.uint8)
        for key, bit in (("long_entries", LONG_ENTRY), ("long_exits", LONG_EXIT),
                         ("short_entries", SHORT_ENTRY), ("short_exits", SHORT_EXIT)):  # fmt: skip
            flags[0, :, 0] |= out[key].astype(np.uint8) * np.uint8(bit)
        both = Columns.make(1, size=0.01, direction="both", stop_loss=stop)
        assert_same_batch(fused, run_signals(market, flags, both, venue), c)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 44_000), st.integers(1, 300), st.sampled_from([0, 1]))
def test_moving_average_steps_equal_the_indicators(
    demo: OHLCV, start: int, period: int, kind: int
) -> None:
    """The kernel's per-bar average, stepped over real closes, equals ``sma`` / ``ema`` bit for
    bit, rebuilt sums included (so the fused cross sees the event engine's averages)."""
    close = np.ascontiguousarray(demo.close[start : start + 600].reshape(-1, 1))
    expected = (sma if kind == MA_SIMPLE else ema)(close[:, 0], period)
    got = np.empty(close.shape[0])
    acc, left = 0.0, period
    for i in range(close.shape[0]):
        got[i], acc, left = ma_step(close, i, 0, kind, period, acc, left)
    assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("stop", [math.nan, 0.002], ids=["lean", "general"])
def test_buffers_too_short_for_a_column_are_rerun_with_room(
    demo: OHLCV, monkeypatch: pytest.MonkeyPatch, stop: float
) -> None:
    """Trades and kept samples get guessed room; a column that outgrows it runs again."""
    market = demo_market(demo, 0, 20_000)
    columns = Columns.make(2, size=0.01, direction="both", stop_loss=stop)
    roomy = run_ma_cross(market, [5, 10], [20, 30], columns, VenueSettings())
    monkeypatch.setattr(portfolio, "_BARS_PER_GUESSED_TRADE", 10**9)  # room for 1 trade
    monkeypatch.setattr(portfolio, "_sample_room", lambda market: 2)
    tight = run_ma_cross(market, [5, 10], [20, 30], columns, VenueSettings())
    for c in range(2):
        assert roomy.n_trades(c) > 100 and len(roomy.samples(c)[0]) > 20
        assert_same_batch(roomy, tight, c, c)


def test_ma_cross_rejects_bad_windows_and_kinds(demo: OHLCV) -> None:
    market = demo_market(demo, 0, 100)
    one = Columns.make(1)
    with pytest.raises(ConfigError, match=r"fast: expected 1 moving-average windows >= 1"):
        run_ma_cross(market, [0], [5], one, VenueSettings())
    with pytest.raises(ConfigError, match=r"slow: expected 1 moving-average windows"):
        run_ma_cross(market, [3], [5, 6], one, VenueSettings())
    with pytest.raises(ConfigError, match=r"moving-average kind must be one of .* got 'wma'"):
        run_ma_cross(market, [3], [5], one, VenueSettings(), kind="wma")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="kind: expected one or 1 moving-average kinds, got 2"):
        run_ma_cross(market, [3], [5], one, VenueSettings(), kind=["sma", "ema"])
    with pytest.raises(ConfigError, match="trades one instrument"):
        run_ma_cross(demo_market(demo, 0, 100, 2), [3], [5], one, VenueSettings())
