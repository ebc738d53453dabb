"""Bar step inference and its text form ("1m", "4h", ...), checked on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.bars import infer_step_ns
from ttquant.model.data import format_step, parse_step

S = 10**9
CASES = [
    ("1s", S),
    ("30s", 30 * S),
    ("90s", 90 * S),
    ("1m", 60 * S),
    ("15m", 15 * 60 * S),
    ("1h", 3_600 * S),
    ("4h", 4 * 3_600 * S),
    ("1d", 86_400 * S),
    ("1w", 7 * 86_400 * S),
    ("2w", 14 * 86_400 * S),
    ("250ms", 250_000_000),
    ("5us", 5_000),
    ("7ns", 7),
]


@pytest.mark.parametrize(("text", "step"), CASES)
def test_step_text_both_ways(text: str, step: int) -> None:
    assert format_step(step) == text
    assert parse_step(text) == step


def test_larger_unit_is_preferred() -> None:
    assert format_step(120 * S) == "2m"
    assert format_step(24 * 3_600 * S) == "1d"
    assert parse_step("60m") == parse_step("1h")
    assert parse_step(" 1h ") == 3_600 * S


@pytest.mark.parametrize(
    "text", ["", "m", "1", "0m", "-1m", "1.5h", "1M", "1y", "1 m", "1H", "1min"]
)
def test_bad_step_text_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid bar step {text!r}"):
        parse_step(text)


def test_step_to_str_rejects_non_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        format_step(0)


@given(st.integers(1, 10**18))
def test_parse_inverts_format_step(step: int) -> None:
    assert parse_step(format_step(step)) == step


def test_most_common_gap_wins() -> None:
    # 1-minute bars with a 5-minute gap and a 2-minute gap: the step is still 1 minute.
    ts = np.array([0, 60, 120, 420, 480, 600, 660], dtype=np.int64) * S
    assert infer_step_ns(ts) == 60 * S


def test_ties_go_to_the_smaller_step() -> None:
    ts = np.array([0, 60, 180, 240, 360], dtype=np.int64) * S  # gaps 60, 120, 60, 120
    assert infer_step_ns(ts) == 60 * S


def test_two_bars_are_enough() -> None:
    assert infer_step_ns(np.array([0, 3_600 * S], dtype=np.int64)) == 3_600 * S


@pytest.mark.parametrize("ts", [[], [5]])
def test_fewer_than_two_bars_is_a_data_error(ts: list[int]) -> None:
    with pytest.raises(DataError, match=f"from {len(ts)} bar"):
        infer_step_ns(np.array(ts, dtype=np.int64))


def test_no_increasing_gap_is_a_data_error() -> None:
    with pytest.raises(DataError, match="never increase"):
        infer_step_ns(np.array([5, 5, 5], dtype=np.int64))
