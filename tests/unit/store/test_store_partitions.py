"""Monthly ranges: every nanosecond falls in exactly one month, and names sort by time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ttquant.core.time import NANOS_PER_SECOND, datetime_to_ns
from ttquant.store.partitions import (
    Month,
    month_of,
    months_of,
    parse_partition_name,
    retention_cutoff,
)

# 1971 to 2261: inside int64 nanoseconds
NS = st.integers(
    min_value=365 * 86_400 * NANOS_PER_SECOND, max_value=9_200_000_000 * NANOS_PER_SECOND
)


@given(NS)
def test_a_timestamp_lies_in_its_month(ns: int) -> None:
    month = month_of(ns)
    assert month.start_ns <= ns < month.end_ns
    dt = datetime.fromtimestamp(ns // NANOS_PER_SECOND, tz=UTC)
    assert (month.year, month.month) == (dt.year, dt.month)


@given(st.lists(NS, max_size=50))
def test_months_of_a_batch_are_its_distinct_months_in_order(times: list[int]) -> None:
    assert months_of(times) == sorted({month_of(t) for t in times})


def test_consecutive_months_meet() -> None:
    months = [Month(2023, 11)]
    for _ in range(30):
        months.append(months[-1].next())
    for earlier, later in itertools.pairwise(months):
        assert earlier.end_ns == later.start_ns


@given(st.integers(1970, 2200), st.integers(1, 12), st.integers(-600, 600))
def test_shifting_months_is_calendar_arithmetic(year: int, month: int, shift: int) -> None:
    index = year * 12 + month - 1 + shift
    assert Month(year, month).shifted(shift) == Month(index // 12, index % 12 + 1)


def test_known_month_boundaries() -> None:
    feb = Month(2024, 2)  # a leap February
    assert feb.start_ns == datetime_to_ns(datetime(2024, 2, 1, tzinfo=UTC))
    assert feb.end_ns - feb.start_ns == 29 * 86_400 * NANOS_PER_SECOND
    assert Month(2023, 12).next() == Month(2024, 1)


def test_partition_names_round_trip_and_reject_others() -> None:
    assert Month(2024, 3).partition_name("fills") == "fills_p202403"
    assert parse_partition_name("fills_p202403", "fills") == Month(2024, 3)
    for other in ("fills_p2024031", "fills_p202413", "fills_default", "equity_p202403"):
        assert parse_partition_name(other, "fills") is None


def test_retention_keeps_the_current_month_and_the_ones_before() -> None:
    now = datetime_to_ns(datetime(2024, 3, 15, 12, tzinfo=UTC))
    assert retention_cutoff(1, now) == Month(2024, 3).start_ns
    assert retention_cutoff(3, now) == Month(2024, 1).start_ns
    assert retention_cutoff(4, now) == Month(2023, 12).start_ns
