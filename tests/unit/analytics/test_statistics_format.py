"""Table formatting of statistics; durations are checked against pandas' Timedelta rendering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.analytics.statistics import (
    STATISTICS,
    TradeArrays,
    compute_statistics,
    format_statistic,
)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("total_return_pct", 12.3456, "12.35%"),
        ("max_drawdown_pct", 0.0, "0.00%"),
        ("sharpe", -1.2345, "-1.23"),
        ("equity_final", 1234567.891, "1,234,567.89"),
        ("n_trades", 42, "42"),
        ("max_drawdown_duration", 3 * 86_400 + 4 * 3_600 + 5 * 60, "3 days 04:05:00"),
        ("avg_trade_duration", 0.5, "0 days 00:00:00.500000"),
        ("start", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("profit_factor", None, "n/a"),
    ],
)
def test_formats_by_kind(key: str, value: float | int | str | None, expected: str) -> None:
    assert format_statistic(key, value) == expected


@given(st.integers(0, 10**15))
def test_durations_render_like_pandas(microseconds: int) -> None:
    delta = pd.Timedelta(microseconds=microseconds)
    if delta >= pd.Timedelta(minutes=1):  # longer durations are shown to the second
        delta = delta.round("s")
    expected = str(delta)
    assert format_statistic("max_trade_duration", microseconds / 1e6) == expected


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(KeyError):
        format_statistic("sharpe_ratio", 1.0)


def test_every_computed_statistic_formats() -> None:
    ts = 1_704_067_200 * 10**9 + np.arange(5, dtype=np.int64) * 86_400 * 10**9
    pnl = np.array([3.0, -1.0])
    trades = TradeArrays(ts[:2], ts[1:3], pnl, pnl / 100, np.ones(2))
    stats = compute_statistics(ts, np.array([100.0, 103.0, 101.0, 104.0, 102.0]), trades)
    rows = {spec.label: format_statistic(spec.key, stats[spec.key]) for spec in STATISTICS}
    assert rows["Duration"] == "4 days 00:00:00"
    assert rows["Total return"] == "2.00%"
    assert rows["Trades"] == "2"
    assert rows["Win rate"] == "50.00%"
    assert len(rows) == len(STATISTICS)  # labels are unique
