"""Resampling of a sampled curve to UTC calendar days, without pandas.

Every return-based ratio is computed from one return per UTC day so that curves sampled every
minute, every hour or at irregular fills are comparable. Day numbers come from integer division
of nanosecond timestamps, which keeps the resampling a couple of vectorized passes over the
(possibly millions of) samples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

NS_PER_SECOND = 1_000_000_000
DAY_NS = 86_400 * NS_PER_SECOND
# 1970-01-01 (day 0) was a Thursday: (day + 3) % 7 numbers Monday as 0 and Saturday as 5.
_EPOCH_WEEKDAY_OFFSET = 3
_SATURDAY = 5
# backtesting.py's rule: a market trades on weekends when more than 60 % of the expected share
# of weekend days (2/7) is present. A few stray weekend samples (e.g. a late fill) do not turn
# an equity market into a 365-day one.
_WEEKEND_SHARE_THRESHOLD = 2 / 7 * 0.6


def last_sample_of_each_day(ts_ns: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Day numbers (days since the epoch, UTC) of the days present, and each day's last index."""
    days = ts_ns // DAY_NS
    last = np.flatnonzero(days[1:] != days[:-1])
    last = np.append(last, days.size - 1)
    return days[last], last


def simple_returns(
    values: NDArray[np.float64], last: NDArray[np.intp]
) -> NDArray[np.float64] | None:
    """Return of each day's last value over the previous day's, the first day over ``values[0]``.

    None when a base value is not positive: a wiped-out account or a non-positive price has no
    meaningful simple return after that point.
    """
    closes = values[last]
    bases = np.concatenate((values[:1], closes[:-1]))
    if np.any(bases <= 0.0):
        return None
    result: NDArray[np.float64] = closes / bases - 1.0
    return result


def infer_periods_per_year(days: NDArray[np.int64]) -> int:
    """365 for markets trading on weekends (crypto), otherwise 252 trading days."""
    weekdays = (days + _EPOCH_WEEKDAY_OFFSET) % 7
    weekend_share = np.count_nonzero(weekdays >= _SATURDAY) / days.size
    return 365 if weekend_share > _WEEKEND_SHARE_THRESHOLD else 252
