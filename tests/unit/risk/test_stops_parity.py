"""Native and emulated exits fill alike: random bars, random plans, random entries.

The emulated manager arms the venue one bar at a time; the native one leaves orders resting and
moves them. Whatever the bars (gaps, ties with levels, highs first or lows first), both must
produce the same fills: time, side, quantity, price, commission and liquidity.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.unit.risk._stops_kit import exit_reasons, fill_rows, run_both
from tests.unit.venues._simkit import engine_for

from ttquant.risk.stops import BreakEven, Distance, ExitPlan
from ttquant.venues.sim.models import BpsSlippage, FeeModel

HALF = 0.5  # prices move in steps of 0.5: levels and extremes often coincide exactly


@st.composite
def bar_paths(draw: st.DrawFn) -> list[tuple[float, float, float, float]]:
    n = draw(st.integers(6, 40))
    close = 100.0
    bars = []
    for _ in range(n):
        gap = draw(st.sampled_from([0, 0, 0, 0, 1, -1, 4, -4])) * HALF
        open_ = max(close + gap, 5.0)
        up = draw(st.integers(0, 8)) * HALF
        down = draw(st.integers(0, 8)) * HALF
        high, low = open_ + up, max(open_ - down, 1.0)
        close = low + draw(st.integers(0, int((high - low) / HALF))) * HALF
        bars.append((open_, high, low, close))
    return bars


def distances(atr: bool = True) -> st.SearchStrategy[Distance]:
    kinds = [  # near levels that fire within a bar or two, and far ones that rarely fire
        st.builds(Distance.price, st.integers(1, 30).map(lambda k: k * HALF)),
        st.builds(Distance.percent, st.sampled_from([0.5, 1.0, 1.5, 2.5, 6.0, 10.0])),
    ]
    if atr:
        kinds.append(st.builds(Distance.atr, st.sampled_from([0.5, 1.0, 2.0])))
    return st.one_of(*kinds)


@st.composite
def plans(draw: st.DrawFn) -> ExitPlan:
    fields: dict[str, Any] = {
        "stop_loss": draw(st.none() | distances()),
        "take_profit": draw(st.none() | distances()),
        "trailing": draw(st.none() | distances()),
        "time_limit": draw(st.none() | st.sampled_from(["2m", "3m", "5m", "12m"])),
        "break_even": draw(
            st.none() | st.builds(BreakEven, distances(), st.sampled_from([0.0, 0.5, 1.0]))
        ),
        "atr_period": draw(st.integers(1, 3)),
    }
    if all(fields[k] is None for k in ("stop_loss", "take_profit", "trailing", "time_limit")):
        fields["stop_loss"] = Distance.price(2.0)
    return ExitPlan(**fields)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bars=bar_paths(),
    plan=plans(),
    entries=st.dictionaries(st.integers(0, 30), st.sampled_from([1.0, -1.0, 2.0]), max_size=8),
)
@example(  # the native take-profit is marketable when placed (the close is above it) but its
    # first bar stays below it: it rests, and fills later as a maker, like the emulated one
    bars=[(100.0, 100.0, 100.0, 100.0), (100.0, 101.0, 100.0, 101.0)]
    + [(100.5, 100.5, 100.5, 100.5)] * 2
    + [(100.5, 101.0, 100.5, 100.5)],
    plan=ExitPlan(take_profit=Distance.price(0.5)),
    entries={0: 1.0},
)
def test_native_and_emulated_exits_fill_alike(
    bars: list[tuple[float, float, float, float]], plan: ExitPlan, entries: dict[int, float]
) -> None:
    def build() -> Any:
        return engine_for(
            bars,
            fee_model=FeeModel(maker=0.0002, taker=0.0005),
            slippage_model=BpsSlippage(1.0),
        )

    native, emulated = run_both(build, plan, entries)
    assert fill_rows(native) == fill_rows(emulated)
    assert exit_reasons(native) == exit_reasons(emulated)
