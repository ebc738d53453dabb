"""freqtrade-style time ranges, against instants computed with the datetime module."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ttquant.core.errors import ConfigError
from ttquant.data.timerange import parse_timerange


def ns(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240101-20240301", (ns(2024, 1, 1), ns(2024, 3, 1))),
        ("20240101-", (ns(2024, 1, 1), None)),
        ("-20240301", (None, ns(2024, 3, 1))),
        ("1704067200-1709251200", (ns(2024, 1, 1), ns(2024, 3, 1))),
        ("1704067200-", (ns(2024, 1, 1), None)),
        ("-1709251200", (None, ns(2024, 3, 1))),
        ("1704067200000-1709251200000", (ns(2024, 1, 1), ns(2024, 3, 1))),
        ("20240101-1709251200", (ns(2024, 1, 1), ns(2024, 3, 1))),
        (" 20240229-20240301 ", (ns(2024, 2, 29), ns(2024, 3, 1))),
    ],
)
def test_valid_ranges(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_timerange(text) == expected


def test_epoch_seconds_are_exact_known_values() -> None:
    assert parse_timerange("1704067200-")[0] == 1_704_067_200_000_000_000


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected START-END"),
        ("-", "expected START-END"),
        ("20240101", "expected START-END"),
        ("2024-01-01-2024-03-01", "expected START-END"),
        ("20240101:20240301", "expected START-END"),
        ("abc-def", "expected START-END"),
        ("20241301-", "20241301 is not a date"),
        ("20230229-", "20230229 is not a date"),
        ("2024011-", "'2024011' is neither a date"),
        ("20240301-20240101", "the start is not before the end"),
        ("20240101-20240101", "the start is not before the end"),
    ],
)
def test_bad_ranges_are_config_errors(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_timerange(text)
    message = str(info.value)
    assert message.startswith(f"invalid time range {text!r}")
    assert problem in message
