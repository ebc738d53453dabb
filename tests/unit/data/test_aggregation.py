"""Streaming time-bar aggregation against an independent batch resample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.data.aggregation import TimeBarAggregator
from ttquant.model.data import Bar, BarType

M = 60_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
ONE = BarType.time("X@SIM", "1m")
FIVE = BarType.time("X@SIM", "5m")


def _bars(closes: list[float], minutes: list[int]) -> list[Bar]:
    return [
        Bar(ONE, c, c + 1.0, c - 1.0, c, 1.0, T0 + m * M, T0 + (m + 1) * M)
        for c, m in zip(closes, minutes, strict=True)
    ]


def _run(bars: list[Bar]) -> tuple[list[Bar], TimeBarAggregator]:
    out: list[Bar] = []
    agg = TimeBarAggregator(ONE, FIVE, out.append)
    for bar in bars:
        agg.handle_bar(bar)
    return out, agg


def test_five_minutes_from_one_minute_bars_by_hand() -> None:
    out, agg = _run(_bars([10, 12, 9, 11, 13, 20], [0, 1, 2, 3, 4, 5]))
    (bar,) = out  # the 00:05 window is not closed yet
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 14, 8, 13, 5)
    assert (bar.ts_event, bar.ts_init) == (T0, T0 + 5 * M)
    assert agg.incomplete == []


def test_a_gap_publishes_the_window_late_and_marks_it_incomplete() -> None:
    out, agg = _run(_bars([10, 12, 30], [0, 1, 7]))  # minutes 2-4 missing
    (bar,) = out
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 13, 9, 12, 2)
    assert agg.incomplete == [bar]


def test_a_partial_first_window_is_skipped() -> None:
    out, _ = _run(_bars([10, 12, 9, 11, 13, 20, 21, 22, 23, 24], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))
    (bar,) = out  # 00:00-00:05 started at 00:02: not a five-minute bar; 00:05-00:10 is
    assert (bar.ts_event, bar.open, bar.close, bar.volume) == (T0 + 5 * M, 11, 22, 5)


def test_incompatible_steps_are_refused() -> None:
    with pytest.raises(ConfigError, match="multiple of the source step"):
        TimeBarAggregator(FIVE, BarType.time("X@SIM", "7m"), print)
    with pytest.raises(ConfigError, match="different instruments"):
        TimeBarAggregator(ONE, BarType.time("Y@SIM", "5m"), print)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 1000), st.booleans()), min_size=1, max_size=60))
def test_streaming_equals_a_batch_resample(rows: list[tuple[float, bool]]) -> None:
    minutes = [i for i, (_, keep) in enumerate(rows) if keep]
    closes = [rows[i][0] for i in minutes]
    out, _ = _run(_bars(closes, minutes))
    if minutes and minutes[0] % 5:  # data starting inside a window: that window is skipped
        kept = [i for i, m in enumerate(minutes) if m >= (minutes[0] // 5 + 1) * 5]
        minutes, closes = [minutes[i] for i in kept], [closes[i] for i in kept]
    bars = _bars(closes, minutes)
    # batch: group the same bars by their 5-minute window with numpy
    window = (np.array([b.ts_event for b in bars]) - T0) // (5 * M)
    expected = []
    for w in np.unique(window)[: len(out)]:
        sel = [b for b, k in zip(bars, window, strict=True) if k == w]
        expected.append(
            (
                sel[0].open,
                max(b.high for b in sel),
                min(b.low for b in sel),
                sel[-1].close,
                float(len(sel)),
                T0 + int(w) * 5 * M,
            )
        )
    assert [(b.open, b.high, b.low, b.close, b.volume, b.ts_event) for b in out] == expected
    # every window but possibly the last open one is published
    assert len(out) >= len(np.unique(window)) - 1 if bars else out == []
