"""Walk-forward windows, stitching, efficiency and parameter stability."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.research.space import Dimension
from ttquant.research.walkforward import (
    Segment,
    Window,
    make_windows,
    parameter_stability,
    stitch,
    walk_forward_efficiency,
)

MIN = 60 * 10**9
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z


def test_rolling_windows_tile_the_period() -> None:
    windows = make_windows(T0, T0 + 30 * DAY, 10 * DAY, 5 * DAY, None, anchored=False)
    assert [(w.is_start - T0, w.is_end - T0, w.oos_end - T0) for w in windows] == [
        (0, 10 * DAY, 15 * DAY),
        (5 * DAY, 15 * DAY, 20 * DAY),
        (10 * DAY, 20 * DAY, 25 * DAY),
        (15 * DAY, 25 * DAY, 30 * DAY),
    ]


def test_anchored_windows_grow_from_the_start() -> None:
    windows = make_windows(T0, T0 + 30 * DAY, 10 * DAY, 5 * DAY, None, anchored=True)
    assert {w.is_start for w in windows} == {T0}
    assert [w.is_end - T0 for w in windows] == [10 * DAY, 15 * DAY, 20 * DAY, 25 * DAY]


def test_day_windows_start_at_the_first_midnight() -> None:
    windows = make_windows(T0 + 5 * HOUR, T0 + 20 * DAY, 7 * DAY, 3 * DAY, None, False)
    assert windows[0].is_start == T0 + DAY
    hourly = make_windows(T0 + 5 * HOUR, T0 + 20 * DAY, 36 * HOUR, 12 * HOUR, None, False)
    assert hourly[0].is_start == T0 + 5 * HOUR


def test_a_larger_step_leaves_gaps_a_smaller_one_is_refused() -> None:
    windows = make_windows(T0, T0 + 40 * DAY, 10 * DAY, 5 * DAY, 10 * DAY, False)
    assert [w.oos_start - T0 for w in windows] == [10 * DAY, 20 * DAY, 30 * DAY]
    with pytest.raises(ConfigError, match="--step must be at least --out-of-sample"):
        make_windows(T0, T0 + 40 * DAY, 10 * DAY, 5 * DAY, 4 * DAY, False)


def test_too_short_data_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"the data \(2024-01-01 to 2024-01-10\) is too short"):
        make_windows(T0, T0 + 9 * DAY, 7 * DAY, 3 * DAY, None, False)
    with pytest.raises(ConfigError, match="--in-sample must be a positive duration"):
        make_windows(T0, T0 + 9 * DAY, 0, 3 * DAY, None, False)


@given(
    start=st.integers(0, 10 * 24 * 60),
    span=st.integers(1, 400),
    is_len=st.integers(1, 60),
    oos_len=st.integers(1, 30),
    extra_step=st.integers(0, 20),
    anchored=st.booleans(),
)
def test_window_invariants(
    start: int, span: int, is_len: int, oos_len: int, extra_step: int, anchored: bool
) -> None:
    """IS ranges end where their OOS range starts; OOS ranges never overlap each other, stay
    inside the data, and no further full window would fit."""
    first, end = T0 + start * MIN, T0 + start * MIN + span * HOUR
    step = oos_len + extra_step
    try:
        windows = make_windows(first, end, is_len * HOUR, oos_len * HOUR, step * HOUR, anchored)
    except ConfigError:
        assert is_len + oos_len > span
        return
    for k, w in enumerate(windows):
        assert w.index == k
        assert first <= w.is_start < w.is_end == w.oos_start < w.oos_end <= end
        assert w.oos_end - w.oos_start == oos_len * HOUR
        if anchored:
            assert w.is_start == windows[0].is_start
        else:
            assert w.is_end - w.is_start == is_len * HOUR
        if k:
            assert w.oos_start >= windows[k - 1].oos_end
            assert w.oos_start - windows[k - 1].oos_start == step * HOUR
    assert windows[-1].oos_end + step * HOUR > end


def _segment(k: int, ts: list[int], equity: list[float], cash: float = 100.0) -> Segment:
    w = Window(k, 0, 0, 0, 0)
    n = len(ts)
    return Segment(
        w,
        np.array(ts, dtype=np.int64),
        np.array(equity),
        np.zeros(n, dtype=bool),
        np.arange(n, dtype=float) + 1.0,
        cash,
    )


def test_stitching_carries_the_account_over() -> None:
    curve = stitch(
        [
            _segment(0, [1, 2, 3], [100.0, 104.0, 110.0]),
            _segment(1, [4, 5], [100.0, 95.0]),
            _segment(2, [6, 7, 8], [100.0, 100.0, 120.0]),
        ]
    )
    assert curve.ts.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert curve.equity.tolist() == [100.0, 104.0, 110.0, 110.0, 105.0, 105.0, 105.0, 125.0]
    assert curve.seams == [0, 3, 5]
    # the stitched profit is the sum of the segments' profits
    assert curve.equity[-1] - 100.0 == (110 - 100) + (95 - 100) + (120 - 100)


def test_stitching_refuses_overlapping_or_empty_segments() -> None:
    with pytest.raises(ConfigError, match="overlaps the previous one"):
        stitch([_segment(0, [1, 2, 3], [100.0] * 3), _segment(1, [3, 4], [100.0] * 2)])
    with pytest.raises(ConfigError, match="has no bars out of sample"):
        stitch([_segment(0, [1], [100.0]), _segment(1, [], [])])


def test_walk_forward_efficiency() -> None:
    assert walk_forward_efficiency(20.0, 40.0) == 0.5
    assert walk_forward_efficiency(-10.0, 40.0) == -0.25
    assert walk_forward_efficiency(10.0, 0.0) is None
    assert walk_forward_efficiency(10.0, -5.0) is None
    assert walk_forward_efficiency(None, 5.0) is None


def test_parameter_stability() -> None:
    dims = [
        Dimension("fast", "int", 5, 55, 5),
        Dimension("ma", "categorical", choices=("sma", "ema")),
    ]
    chosen = [
        {"fast": 10, "ma": "sma"},
        {"fast": 10, "ma": "ema"},
        None,
        {"fast": 30, "ma": "sma"},
        {"fast": 10, "ma": "sma"},
    ]
    fast, ma = parameter_stability(dims, chosen)
    assert fast.values == [10, 10, None, 30, 10]
    assert fast.mean == pytest.approx(15.0)
    assert fast.std == pytest.approx(np.std([10, 10, 30, 10]))
    assert fast.relative_spread == pytest.approx(np.std([10, 10, 30, 10]) / 50)
    assert (fast.mode, fast.mode_share) == (10, 0.75)
    assert (ma.mode, ma.mode_share, ma.mean) == ("sma", 0.75, None)
